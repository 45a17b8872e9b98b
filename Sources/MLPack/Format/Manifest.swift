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
        self.items = items.sortedBytewise()
        self.derivedFrom = derivedFrom
        let seed = ["mlpack-pack-id", name, created] + self.items
        self.packId = String(SHA256Hasher.hex(Array(seed.joined(separator: "\n").utf8)).prefix(32))
    }

    /// Byte order of the UTF-8 (not Swift's Unicode order): every list in a pack is sorted so.
    static func bytewise(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in bytewise(UnsafeRawBufferPointer(x), UnsafeRawBufferPointer(y)) } }
    }

    /// The same order on raw UTF-8: memcmp, the shorter first when one begins the other.
    static func bytewise(_ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer) -> Bool {
        let common = min(x.count, y.count)
        let order = common == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, common)
        return order != 0 ? order < 0 : x.count < y.count
    }

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
            throw invalid(
                "unsupported format version \(manifest.formatVersion) (this mlpack reads version \(currentVersion))")
        }
        guard manifest.digestAlgorithm == digestAlgorithm else {
            throw invalid("unsupported digest algorithm \(manifest.digestAlgorithm)")
        }
        guard PackPath.isValidTopDirectory(manifest.name) else {
            throw invalid("invalid pack name \"\(manifest.name)\"")
        }
        guard Timestamp.parseCanonical(manifest.created) != nil else {
            throw invalid("created is not an RFC 3339 UTC time")
        }
        for digest in manifest.items {
            guard let bytes = Base64URL.decode(digest), bytes.count == 32 else {
                throw invalid("item digest \"\(digest)\" is not 32 bytes of base64url")
            }
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
    /// `YYYY-MM-DDTHH:MM:SSZ` in UTC, whole seconds (rounded down).
    public static func format(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let (days, time) = seconds.quotientAndRemainder(dividingBy: 86_400)
        let (day, timeOfDay) = time < 0 ? (days - 1, time + 86_400) : (days, time)
        let (year, month, dayOfMonth) = civil(fromDays: day)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let yearText = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        return
            "\(yearText)-\(two(month))-\(two(dayOfMonth))T\(two(timeOfDay / 3600)):\(two(timeOfDay / 60 % 60)):\(two(timeOfDay % 60))Z"
    }

    /// Accepts the canonical spelling only, `YYYY-MM-DDTHH:MM:SSZ` with a real date and time.
    static func parseCanonical(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 20, bytes[4] == 0x2d, bytes[7] == 0x2d, bytes[10] == 0x54, bytes[13] == 0x3a,
            bytes[16] == 0x3a,
            bytes[19] == 0x5a
        else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            bytes[range].allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
                ? bytes[range].reduce(0) { $0 * 10 + Int64($1 - 0x30) } : nil
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            year >= 1, (1...12).contains(month), day >= 1, hour < 24, minute < 60, second < 60
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        // A day past the month's end (02-30) lands in the next month: not canonical.
        guard civil(fromDays: days) == (year, month, day) else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + hour * 3600 + minute * 60 + second))
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Accepts `2026-11-27T12:00:00Z`, offsets such as `+01:00`, fractional seconds, a bare
    /// date `2026-11-27` (midnight UTC) or seconds since 1970 (as in SOURCE_DATE_EPOCH).
    public static func parse(_ text: String) -> Date? {
        if let seconds = Int64(text), seconds >= 0 { return Date(timeIntervalSince1970: TimeInterval(seconds)) }
        // The formatter accepts a date followed by anything; insist on the whole shape first.
        guard text.wholeMatch(of: shape) != nil else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        let choices: [ISO8601DateFormatter.Options] =
            text.count == 10
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

extension Sequence {
    /// The elements in `Manifest.bytewise` order of `key`, equal keys in their given order.
    /// The keys are laid end to end in one buffer and compared there with memcmp: sorting
    /// 10,000 paths through String comparisons took 8–15 ms, this takes 2.
    func sortedBytewise(by key: (Element) -> String) -> [Element] {
        let elements = Array(self)
        var bytes: [UInt8] = []
        var starts: [Int] = []
        starts.reserveCapacity(elements.count + 1)
        for element in elements {
            starts.append(bytes.count)
            bytes.append(contentsOf: key(element).utf8)
        }
        starts.append(bytes.count)
        var order = Array(elements.indices)
        bytes.withUnsafeBytes { bytes in
            starts.withUnsafeBufferPointer { starts in
                func key(_ i: Int) -> UnsafeRawBufferPointer {
                    UnsafeRawBufferPointer(rebasing: bytes[starts[i]..<starts[i + 1]])
                }
                // Swift's sort is stable: equal keys keep their order.
                order.sort { Manifest.bytewise(key($0), key($1)) }
            }
        }
        return order.map { elements[$0] }
    }
}

extension Sequence<String> {
    func sortedBytewise() -> [String] { sortedBytewise { $0 } }
}
