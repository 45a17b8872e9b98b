import Foundation

/// A salted statement of one item (the SD-JWT construction, RFC 9901): the base64url of the
/// JSON array `[salt, path, role, size, sha256, mode]`. The manifest signs the SHA-256 of that
/// exact string, so no JSON canonicalisation is needed, and an item can be withheld by
/// deleting its file and its disclosure without touching the signed manifest.
public struct Disclosure: Sendable, Equatable {
    public let item: Item
    /// 32 random (or key-derived) bytes, so a withheld item cannot be guessed from its digest.
    public let salt: [UInt8]
    /// The disclosure as stored in `mlpack/disclosures.json`.
    public let encoded: String

    public static let saltLength = 32

    public init(item: Item, salt: [UInt8]) {
        precondition(salt.count == Self.saltLength)
        self.item = item
        self.salt = salt
        let json =
            "[\(JSONText.string(Base64URL.encode(salt))),\(JSONText.string(item.path)),\(JSONText.string(item.role.rawValue)),\(item.size),\(JSONText.string(item.sha256)),\(item.mode)]"
        self.encoded = Base64URL.encode(Array(json.utf8))
    }

    /// The digest the manifest lists: base64url(SHA-256(ASCII of `encoded`)).
    public var digest: String { Self.digest(of: encoded) }

    static func digest(of encoded: String) -> String {
        Base64URL.encode(SHA256Hasher.digest(Array(encoded.utf8)))
    }

    public enum DecodingError: Error, Equatable, CustomStringConvertible {
        case notBase64URL
        case malformed(String)

        public var description: String {
            switch self {
            case .notBase64URL: "disclosure is not unpadded base64url"
            case .malformed(let what): "malformed disclosure: \(what)"
            }
        }
    }

    /// Decodes a disclosure from a stranger, checking every field's type and range.
    public init(decoding encoded: String) throws(DecodingError) {
        guard let bytes = Base64URL.decode(encoded) else { throw .notBase64URL }
        let fields: Fields
        do { fields = try Fields(json: bytes) } catch {
            throw .malformed("expected [salt, path, role, size, sha256, mode]")
        }
        guard let salt = Base64URL.decode(fields.salt), salt.count == Self.saltLength else {
            throw .malformed("salt must be 32 bytes of base64url")
        }
        guard let role = Role(rawValue: fields.role) else { throw .malformed("unknown role \"\(fields.role)\"") }
        guard Hex.isSHA256(fields.sha256) else { throw .malformed("sha256 must be 64 lower-case hex digits") }
        guard Item.allowedModes.contains(fields.mode) else { throw .malformed("mode must be 0644 or 0755") }
        if let problem = PackPath.problem(with: fields.path) { throw .malformed("path \"\(fields.path)\": \(problem)") }
        self.item = Item(path: fields.path, role: role, size: fields.size, sha256: fields.sha256, mode: fields.mode)
        self.salt = salt
        self.encoded = encoded
    }

    private struct Fields {
        var salt: String
        var path: String
        var role: String
        var size: UInt64
        var sha256: String
        var mode: UInt32

        init(json: [UInt8]) throws(JSONScanner.Malformed) {
            var scanner = JSONScanner(json)
            try scanner.expect(UInt8(ascii: "["))
            salt = try scanner.string()
            try scanner.expect(UInt8(ascii: ","))
            path = try scanner.string()
            try scanner.expect(UInt8(ascii: ","))
            role = try scanner.string()
            try scanner.expect(UInt8(ascii: ","))
            size = try scanner.unsigned()
            try scanner.expect(UInt8(ascii: ","))
            sha256 = try scanner.string()
            try scanner.expect(UInt8(ascii: ","))
            let mode = try scanner.unsigned()
            guard mode <= UInt32.max else { throw JSONScanner.Malformed(offset: 0) }
            self.mode = UInt32(mode)
            try scanner.expect(UInt8(ascii: "]"))
            try scanner.end()
        }
    }
}

struct DisclosureFile: Codable {
    var disclosures: [String]

    init(disclosures: [String]) { self.disclosures = disclosures }

    /// `{"disclosures": [...]}`, other keys ignored.
    init(json: [UInt8]) throws(JSONScanner.Malformed) {
        var scanner = JSONScanner(json)
        var disclosures: [String]?
        try scanner.object { (scanner, key) throws(JSONScanner.Malformed) in
            guard key == "disclosures" else { return try scanner.skipValue() }
            var list: [String] = []
            try scanner.array { (scanner) throws(JSONScanner.Malformed) in list.append(try scanner.string()) }
            disclosures = list
        }
        try scanner.end()
        guard let disclosures else { throw JSONScanner.Malformed(offset: 0) }
        self.disclosures = disclosures
    }

    func encoded() throws -> [UInt8] { try JSONText.encode(self) }
}

/// JSON written the same way every time: sorted keys, no escaped slashes, two-space indent.
enum JSONText {
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return Array(try encoder.encode(value)) + [0x0a]
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }

    /// A JSON string literal, escaping only what JSON requires.
    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out +=
                    "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
