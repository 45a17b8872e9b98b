import Foundation

/// `mlpack/manifest.json`: the only signed file. It names the pack and lists the salted
/// digests of its items, and nothing else, so that items can be withheld without changing it.
public struct Manifest: Codable, Sendable, Equatable {
    public struct Signer: Codable, Sendable, Equatable {
        /// minisign key id, 16 upper-case hex digits.
        public var keyId: String
        /// minisign public key line (base64).
        public var publicKey: String
    }

    public static let formatName = "mlpack"
    public static let currentVersion = 1
    public static let digestAlgorithm = "sha-256"

    public var format: String
    public var formatVersion: Int
    /// Stable id of the pack: redaction that only withholds items keeps it.
    public var packId: String
    /// The top-level directory name.
    public var name: String
    /// Creation time, RFC 3339 UTC with seconds (`2026-11-27T12:00:00Z`).
    public var created: String
    public var digestAlgorithm: String
    public var signer: Signer?
    /// Item digests (see `Disclosure.digest`), sorted bytewise, no duplicates.
    public var items: [String]
    /// SHA-256 (hex) of the manifest this pack was redacted from, when it was re-signed.
    public var derivedFrom: String?

    init(name: String, created: String, signer: Signer?, items: [String], derivedFrom: String? = nil) {
        self.format = Self.formatName
        self.formatVersion = Self.currentVersion
        self.name = name
        self.created = created
        self.digestAlgorithm = Self.digestAlgorithm
        self.signer = signer
        self.items = items.sorted(by: Manifest.bytewise)
        self.derivedFrom = derivedFrom
        let seed = ["mlpack-pack-id", name, created] + self.items
        self.packId = String(SHA256Hasher.hex(Array(seed.joined(separator: "\n").utf8)).prefix(32))
    }

    static func bytewise(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    func encoded() throws -> [UInt8] { try JSONText.encode(self) }

    /// Parses and checks a manifest from a pack. Errors name `path`.
    static func decode(_ bytes: [UInt8], path: String = Layout.manifest) throws -> Manifest {
        func invalid(_ problem: String) -> MLPackError { .integrity(entry: path, problem: problem) }
        let manifest: Manifest
        do { manifest = try JSONText.decode(Manifest.self, from: bytes) } catch {
            throw invalid("not a valid manifest (\(Self.describe(error)))")
        }
        guard manifest.format == formatName else { throw invalid("format is \"\(manifest.format)\", not \"mlpack\"") }
        guard manifest.formatVersion == currentVersion else {
            throw invalid("unsupported format version \(manifest.formatVersion) (this mlpack reads version \(currentVersion))")
        }
        guard manifest.digestAlgorithm == digestAlgorithm else { throw invalid("unsupported digest algorithm \(manifest.digestAlgorithm)") }
        guard PackPath.isValidTopDirectory(manifest.name) else { throw invalid("invalid pack name \"\(manifest.name)\"") }
        guard Timestamp.parseCanonical(manifest.created) != nil else { throw invalid("created is not an RFC 3339 UTC time") }
        for digest in manifest.items {
            guard let bytes = Base64URL.decode(digest), bytes.count == 32 else { throw invalid("item digest \"\(digest)\" is not 32 bytes of base64url") }
        }
        for (a, b) in zip(manifest.items, manifest.items.dropFirst()) where !bytewise(a, b) {
            throw invalid("item digests are not sorted and unique")
        }
        if let derivedFrom = manifest.derivedFrom, !Hex.isSHA256(derivedFrom) {
            throw invalid("derivedFrom is not a SHA-256 in hex")
        }
        return manifest
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted: "malformed JSON"
        default: "malformed JSON"
        }
    }
}

/// Creation times: RFC 3339 UTC with whole seconds, the one spelling a pack stores.
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)))
    }

    /// Accepts the canonical spelling only.
    static func parseCanonical(_ text: String) -> Date? {
        guard let date = parse(text), format(date) == text else { return nil }
        return date
    }

    /// Accepts `2026-11-27T12:00:00Z`, offsets such as `+01:00`, fractional seconds, a bare
    /// date `2026-11-27` (midnight UTC) or seconds since 1970 (as in SOURCE_DATE_EPOCH).
    public static func parse(_ text: String) -> Date? {
        if let seconds = Int64(text), seconds >= 0 { return Date(timeIntervalSince1970: TimeInterval(seconds)) }
        // The formatter accepts a date followed by anything; insist on the whole shape first.
        guard text.wholeMatch(of: shape) != nil else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        let choices: [ISO8601DateFormatter.Options] = text.count == 10
            ? [[.withFullDate]] : [[.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds]]
        for options in choices {
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    nonisolated(unsafe) private static let shape = try! Regex(
        #"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?"#)

    public static func unixSeconds(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970.rounded(.down)) }
}
