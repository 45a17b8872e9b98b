import Foundation
import Testing

@testable import MLPack

@Suite("Base64URL")
struct Base64URLTests {
    /// Deterministic but varied bytes, so every length has a different content.
    static func bytes(count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ count &* 11 &+ 0xA5) }
    }

    @Test("round trip for every length 0...70", arguments: 0...70)
    func roundTrip(length: Int) throws {
        let input = Self.bytes(count: length)
        let encoded = Base64URL.encode(input)
        #expect(encoded.utf8.count == (length * 4 + 2) / 3, "unpadded length")
        #expect(!encoded.contains("="))
        #expect(
            encoded.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            })
        let decoded = try #require(Base64URL.decode(encoded))
        #expect(decoded == input)
    }

    @Test("agrees with Foundation's base64 after the URL-safe substitutions", arguments: [0, 1, 2, 3, 31, 32, 33, 64])
    func matchesFoundation(length: Int) {
        let input = (0..<length).map { UInt8(truncatingIfNeeded: 255 - $0 * 7) }
        let standard = Data(input).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        #expect(Base64URL.encode(input) == standard)
    }

    @Test(
        "known vectors (RFC 4648 §10, unpadded)",
        arguments: [
            ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ])
    func vectors(plain: String, encoded: String) {
        #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
        #expect(Base64URL.decode(encoded) == Array(plain.utf8))
    }

    @Test("URL-safe alphabet: 0xfb 0xff encodes with '-' and '_'")
    func urlSafeAlphabet() {
        #expect(Base64URL.encode([0xfb, 0xff]) == "-_8")
        #expect(Base64URL.decode("-_8") == [0xfb, 0xff])
    }

    @Test(
        "rejects non-canonical or foreign spellings",
        arguments: [
            "Zg==",  // padding
            "Zg=",
            "Zm9v=",
            "+_8",  // standard-alphabet '+'
            "-/8",  // standard-alphabet '/'
            "Zm9v Yg",  // whitespace inside
            "Zm9vYg\n",  // trailing newline
            " Zm9v",
            "Zm9v\t",
            "Z",  // a lone trailing character carries only 6 bits
            "Zm9vY",  // 4k+1 characters
            "Zh",  // "f" with non-zero unused bits (canonical: "Zg")
            "Zm9",  // "fo" with non-zero unused bits (canonical: "Zm8")
            "AB",  // unused bits set (canonical for [0x00] is "AA")
            "AAB",  // unused bits set (canonical for [0x00,0x00] is "AAA")
            "Zm9v!",
            "é",
        ])
    func rejects(text: String) {
        #expect(Base64URL.decode(text) == nil)
    }
}
