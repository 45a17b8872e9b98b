import Foundation
import Testing

@testable import MLPack

@Suite("Disclosure")
struct DisclosureTests {
    static let emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    static let salt = (0..<32).map { UInt8($0) }
    static let saltText = Base64URL.encode(salt)

    /// A disclosure from the JSON text of its array, as a stranger could write it.
    static func encode(_ jsonArray: String) -> String { Base64URL.encode(Array(jsonArray.utf8)) }

    /// A well-formed array with one field replaced by raw JSON text.
    static func fields(
        salt: String? = nil, path: String = "\"code/abc/train.py\"", role: String = "\"code\"",
        size: String = "1234", sha256: String? = nil, mode: String = "420"
    ) -> String {
        "[\(salt ?? "\"\(saltText)\""),\(path),\(role),\(size),\(sha256 ?? "\"\(emptySHA)\""),\(mode)]"
    }

    @Test("SHA-256 helper matches the FIPS 180-2 vector for \"abc\"")
    func sha256Vector() {
        #expect(
            SHA256Hasher.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256Hasher.hex([]) == Self.emptySHA)
    }

    @Test("encoding is the base64url of the exact JSON array, and its digest is stable")
    func stableEncoding() throws {
        let item = Item(path: "code/abc/train.py", role: .code, size: 1234, sha256: Self.emptySHA, mode: 0o644)
        let disclosure = Disclosure(item: item, salt: Self.salt)
        // Computed independently (Python: base64.urlsafe_b64encode, hashlib.sha256).
        let expectedEncoded =
            "WyJBQUVDQXdRRkJnY0lDUW9MREEwT0R4QVJFaE1VRlJZWEdCa2FHeHdkSGg4IiwiY29kZS9hYmMvdHJhaW4ucHkiLCJjb2RlIiwxMjM0LCJlM2IwYzQ0Mjk4ZmMxYzE0OWFmYmY0Yzg5OTZmYjkyNDI3YWU0MWU0NjQ5YjkzNGNhNDk1OTkxYjc4NTJiODU1Iiw0MjBd"
        #expect(disclosure.encoded == expectedEncoded)
        #expect(disclosure.digest == "RcCV9ZQP8h4hLB407Kkc-2tUqFwEmRF8phShokist3M")
        let json = try #require(Base64URL.decode(disclosure.encoded))
        #expect(String(decoding: json, as: UTF8.self) == Self.fields())
        // The digest is base64url(SHA-256(ASCII of encoded)), 32 bytes.
        #expect(disclosure.digest == Base64URL.encode(SHA256Hasher.digest(Array(disclosure.encoded.utf8))))
        #expect(Base64URL.decode(disclosure.digest)?.count == 32)
        // Same input, same output.
        #expect(Disclosure(item: item, salt: Self.salt).encoded == disclosure.encoded)
        #expect(Disclosure(item: item, salt: Self.salt).digest == disclosure.digest)
    }

    @Test("a different salt gives a different digest")
    func saltMatters() {
        let item = Item(path: "a.txt", role: .note, size: 0, sha256: Self.emptySHA, mode: 0o644)
        var other = Self.salt
        other[31] ^= 1
        #expect(Disclosure(item: item, salt: Self.salt).digest != Disclosure(item: item, salt: other).digest)
    }

    static let roundTripItems: [Item] = [
        Item(path: "code/abc/train.py", role: .code, size: 1234, sha256: emptySHA, mode: 0o644),
        Item(
            path: "artifacts/model.safetensors", role: .weights, size: 5 << 30,
            sha256: String(repeating: "ab", count: 32), mode: 0o755),
        Item(path: "café/日本語 \"quoted\".py", role: .codeSnapshot, size: 0, sha256: emptySHA, mode: 0o644),
        Item(path: "pack.json", role: .card, size: UInt64.max, sha256: String(repeating: "0", count: 64), mode: 0o644),
    ]

    @Test("encode then decode gives back the item, the salt and the encoding", arguments: roundTripItems)
    func roundTrip(item: Item) throws {
        for role in [item.role, .dataRef, .note] {
            var changed = item
            changed.role = role
            let salt = (0..<32).map { UInt8(truncatingIfNeeded: $0 * 13 + Int(changed.size % 7)) }
            let original = Disclosure(item: changed, salt: salt)
            let decoded = try Disclosure(decoding: original.encoded)
            #expect(decoded == original)
            #expect(decoded.item == changed)
            #expect(decoded.salt == salt)
            #expect(decoded.digest == original.digest)
        }
    }

    @Test("every role round-trips by its raw value", arguments: Role.allCases)
    func roles(role: Role) throws {
        let item = Item(path: "x/y", role: role, size: 1, sha256: Self.emptySHA, mode: 0o644)
        #expect(try Disclosure(decoding: Disclosure(item: item, salt: Self.salt).encoded).item.role == role)
    }

    static let expectedArray = Disclosure.DecodingError.malformed("expected [salt, path, role, size, sha256, mode]")

    @Test(
        "malformed disclosures are rejected with the right error",
        arguments: [
            // Not base64url at all.
            ("padding", "WyJh==", Disclosure.DecodingError.notBase64URL),
            ("standard alphabet", "Wy+h", .notBase64URL),
            ("whitespace", encode(fields()) + "\n", .notBase64URL),
            ("empty", "", expectedArray),
            // Not a JSON array of six fields.
            ("JSON object", encode("{\"salt\":\"x\"}"), expectedArray),
            ("not JSON", encode("hello"), expectedArray),
            ("five fields", encode("[\"\(saltText)\",\"a\",\"code\",1,\"\(emptySHA)\"]"), expectedArray),
            ("seven fields", encode("[\"\(saltText)\",\"a\",\"code\",1,\"\(emptySHA)\",420,1]"), expectedArray),
            // Wrong types or ranges.
            ("size as string", encode(fields(size: "\"1234\"")), expectedArray),
            ("fractional size", encode(fields(size: "1.5")), expectedArray),
            ("negative size", encode(fields(size: "-1")), expectedArray),
            ("size too large", encode(fields(size: "18446744073709551616")), expectedArray),
            ("mode as string", encode(fields(mode: "\"0644\"")), expectedArray),
            ("path as number", encode(fields(path: "7")), expectedArray),
            ("null salt", encode(fields(salt: "null")), expectedArray),
            // Field checks.
            ("unknown role", encode(fields(role: "\"model\"")), .malformed("unknown role \"model\"")),
            ("role in upper case", encode(fields(role: "\"CODE\"")), .malformed("unknown role \"CODE\"")),
            (
                "upper-case sha256", encode(fields(sha256: "\"\(emptySHA.uppercased())\"")),
                .malformed("sha256 must be 64 lower-case hex digits")
            ),
            (
                "short sha256", encode(fields(sha256: "\"\(emptySHA.dropLast())\"")),
                .malformed("sha256 must be 64 lower-case hex digits")
            ),
            (
                "long sha256", encode(fields(sha256: "\"\(emptySHA)0\"")),
                .malformed("sha256 must be 64 lower-case hex digits")
            ),
            (
                "non-hex sha256", encode(fields(sha256: "\"\(emptySHA.dropLast())g\"")),
                .malformed("sha256 must be 64 lower-case hex digits")
            ),
            ("mode 0o600", encode(fields(mode: "384")), .malformed("mode must be 0644 or 0755")),
            ("mode 0o777", encode(fields(mode: "511")), .malformed("mode must be 0644 or 0755")),
            ("mode 0o4755", encode(fields(mode: "2541")), .malformed("mode must be 0644 or 0755")),
            (
                "salt of 31 bytes", encode(fields(salt: "\"\(Base64URL.encode([UInt8](repeating: 7, count: 31)))\"")),
                .malformed("salt must be 32 bytes of base64url")
            ),
            (
                "salt of 33 bytes", encode(fields(salt: "\"\(Base64URL.encode([UInt8](repeating: 7, count: 33)))\"")),
                .malformed("salt must be 32 bytes of base64url")
            ),
            ("salt padded", encode(fields(salt: "\"\(saltText)=\"")), .malformed("salt must be 32 bytes of base64url")),
            (
                "path with ..", encode(fields(path: "\"../etc/passwd\"")),
                .malformed("path \"../etc/passwd\": '..' in path")
            ),
            (
                "absolute path", encode(fields(path: "\"/etc/passwd\"")),
                .malformed("path \"/etc/passwd\": absolute path")
            ),
            ("path with backslash", encode(fields(path: "\"a\\\\b\"")), .malformed("path \"a\\b\": backslash in path")),
            ("empty path", encode(fields(path: "\"\"")), .malformed("path \"\": empty path")),
            (
                "path with %", encode(fields(path: "\"a%20b\"")),
                .malformed("path \"a%20b\": '%' in path (BagIt would need to escape it)")
            ),
        ])
    func malformed(label: String, encoded: String, error: Disclosure.DecodingError) {
        #expect(throws: error, "\(label)") { try Disclosure(decoding: encoded) }
    }

    @Test("the well-formed base of the malformed table does decode")
    func tableBaseIsValid() throws {
        let decoded = try Disclosure(decoding: Self.encode(Self.fields()))
        #expect(
            decoded.item == Item(path: "code/abc/train.py", role: .code, size: 1234, sha256: Self.emptySHA, mode: 0o644)
        )
        #expect(decoded.salt == Self.salt)
    }

    @Test("a decoded disclosure keeps the stranger's exact encoding for its digest")
    func keepsExactEncoding() throws {
        // Extra whitespace is valid JSON; the digest must be over the bytes as given.
        let spaced = Self.encode("[ \"\(Self.saltText)\", \"a.txt\", \"note\", 0, \"\(Self.emptySHA)\", 420 ]")
        let decoded = try Disclosure(decoding: spaced)
        #expect(decoded.encoded == spaced)
        #expect(decoded.digest == Base64URL.encode(SHA256Hasher.digest(Array(spaced.utf8))))
        #expect(decoded.digest != Disclosure(item: decoded.item, salt: decoded.salt).digest)
    }

    @Test(
        "JSONText.string escapes what JSON needs",
        arguments: [
            ("plain", "\"plain\""),
            ("a\"b", "\"a\\\"b\""),
            ("a\\b", "\"a\\\\b\""),
            ("a\nb\tc\rd", "\"a\\nb\\tc\\rd\""),
            ("\u{1}", "\"\\u0001\""),
            ("\u{1f}", "\"\\u001f\""),
            ("a/b", "\"a/b\""),
            ("é日", "\"é日\""),
        ])
    func jsonString(text: String, literal: String) throws {
        #expect(JSONText.string(text) == literal)
        // And JSON parsers read it back.
        let parsed = try JSONDecoder().decode([String].self, from: Data("[\(literal)]".utf8))
        #expect(parsed == [text])
    }
}
