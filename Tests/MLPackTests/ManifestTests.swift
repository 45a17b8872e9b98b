import Foundation
import Testing

@testable import MLPack

@Suite("Manifest")
struct ManifestTests {
    static func digest(_ seed: UInt8) -> String { Base64URL.encode(SHA256Hasher.digest([seed])) }

    static func valid() -> Manifest {
        Manifest(name: "demo", created: "2026-11-27T12:00:00Z", signer: nil, items: (0..<5).map { digest($0) })
    }

    /// The JSON object of a valid manifest with `edit` applied, as bytes.
    static func edited(_ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(valid().encoded())) as? [String: Any])
        edit(&object)
        return Array(try JSONSerialization.data(withJSONObject: object))
    }

    static func problem(decoding bytes: [UInt8]) -> String? {
        do {
            _ = try Manifest.decode(bytes)
            return nil
        } catch let MLPackError.integrity(entry, problem) {
            #expect(entry == "mlpack/manifest.json")
            return problem
        } catch {
            Issue.record("unexpected error \(error)")
            return "unexpected error"
        }
    }

    @Test("init sorts the items bytewise and derives a 32-hex-digit pack id")
    func initSorts() {
        let items = (0..<20).map { Self.digest($0) }
        let manifest = Manifest(name: "demo", created: "2026-11-27T12:00:00Z", signer: nil, items: items)
        #expect(manifest.items == items.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        #expect(manifest.format == "mlpack")
        #expect(manifest.formatVersion == 1)
        #expect(manifest.digestAlgorithm == "sha-256")
        #expect(manifest.packId.count == 32)
        #expect(Hex.isSHA256(manifest.packId + manifest.packId))
        // Same inputs, same id; any input change, another id.
        #expect(
            Manifest(name: "demo", created: "2026-11-27T12:00:00Z", signer: nil, items: items.reversed()).packId
                == manifest.packId)
        #expect(
            Manifest(name: "demo2", created: "2026-11-27T12:00:00Z", signer: nil, items: items).packId
                != manifest.packId)
        #expect(
            Manifest(name: "demo", created: "2026-11-27T12:00:01Z", signer: nil, items: items).packId != manifest.packId
        )
        #expect(
            Manifest(name: "demo", created: "2026-11-27T12:00:00Z", signer: nil, items: Array(items.dropLast())).packId
                != manifest.packId)
    }

    @Test("a valid manifest round-trips through encoded()")
    func roundTrip() throws {
        let manifest = Self.valid()
        let bytes = try manifest.encoded()
        let decoded = try Manifest.decode(bytes)
        #expect(decoded == manifest)
        #expect(try decoded.encoded() == bytes, "encoding is deterministic")
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasSuffix("}\n"))
        #expect(!text.contains("\\/"), "slashes are not escaped")
        // Keys are sorted.
        let keys = ["created", "digestAlgorithm", "format", "formatVersion", "items", "name", "packId"]
        let positions = keys.map { text.range(of: "\"\($0)\"")!.lowerBound }
        #expect(positions == positions.sorted())
    }

    @Test("a manifest with a signer and derivedFrom round-trips too")
    func roundTripOptionalFields() throws {
        let manifest = Manifest(
            name: "demo", created: "2026-11-27T12:00:00Z",
            signer: .init(keyId: "0123456789ABCDEF", publicKey: "RWQBI0VniavN7w=="),
            items: [Self.digest(1)], derivedFrom: String(repeating: "a", count: 64))
        #expect(try Manifest.decode(manifest.encoded()) == manifest)
    }

    @Test("an empty item list is accepted")
    func emptyItems() throws {
        let manifest = Manifest(name: "demo", created: "2026-11-27T12:00:00Z", signer: nil, items: [])
        #expect(try Manifest.decode(manifest.encoded()) == manifest)
    }

    @Test("wrong format name")
    func wrongFormat() throws {
        let problem = Self.problem(decoding: try Self.edited { $0["format"] = "mlpak" })
        #expect(problem == "format is \"mlpak\", not \"mlpack\"")
    }

    @Test("format version 2 is unsupported", arguments: [2, 0, -1])
    func formatVersion(version: Int) throws {
        let problem = try #require(Self.problem(decoding: try Self.edited { $0["formatVersion"] = version }))
        #expect(problem.contains("unsupported format version \(version)"))
    }

    @Test("another digest algorithm")
    func digestAlgorithm() throws {
        let problem = Self.problem(decoding: try Self.edited { $0["digestAlgorithm"] = "sha-512" })
        #expect(problem == "unsupported digest algorithm sha-512")
    }

    @Test("unsorted item digests")
    func unsorted() throws {
        let problem = Self.problem(
            decoding: try Self.edited { object in
                object["items"] = Array(Self.valid().items.reversed())
            })
        #expect(problem == "item digests are not sorted and unique")
    }

    @Test("duplicate item digests")
    func duplicates() throws {
        let items = Self.valid().items
        let problem = Self.problem(
            decoding: try Self.edited { $0["items"] = [items[0], items[0]] + items.dropFirst() })
        #expect(problem == "item digests are not sorted and unique")
    }

    @Test(
        "an item digest that is not 32 bytes of base64url",
        arguments: [
            Base64URL.encode([UInt8](repeating: 1, count: 31)),
            Base64URL.encode([UInt8](repeating: 1, count: 33)),
            Base64URL.encode([UInt8](repeating: 1, count: 32)) + "=",
            String(repeating: "ab", count: 32),  // hex, 48 bytes of base64url
            "",
            "not base64!",
        ])
    func badDigest(digest: String) throws {
        let problem = Self.problem(decoding: try Self.edited { $0["items"] = [digest] })
        #expect(problem == "item digest \"\(digest)\" is not 32 bytes of base64url")
    }

    @Test(
        "created must be canonical RFC 3339 UTC with whole seconds",
        arguments: [
            "2026-11-27T13:00:00+01:00",
            "2026-11-27T12:00:00.5Z",
            "2026-11-27",
            "1795780800",
            "2026-11-27 12:00:00Z",
            "yesterday",
            "",
        ])
    func badCreated(created: String) throws {
        let problem = Self.problem(decoding: try Self.edited { $0["created"] = created })
        #expect(problem == "created is not an RFC 3339 UTC time")
    }

    @Test(
        "invalid pack names", arguments: [".hidden", "-x", "a/b", "", "with space", String(repeating: "n", count: 101)])
    func badName(name: String) throws {
        let problem = Self.problem(decoding: try Self.edited { $0["name"] = name })
        #expect(problem == "invalid pack name \"\(name)\"")
    }

    @Test("missing keys, wrong types and non-JSON are rejected")
    func malformedJSON() throws {
        #expect(
            Self.problem(decoding: try Self.edited { $0["items"] = nil }) == "not a valid manifest (missing \"items\")")
        #expect(
            Self.problem(decoding: try Self.edited { $0["formatVersion"] = "1" })
                == "not a valid manifest (wrong type at formatVersion)")
        #expect(Self.problem(decoding: Array("not json".utf8)) == "not a valid manifest (malformed JSON)")
        #expect(Self.problem(decoding: Array("[]".utf8))?.hasPrefix("not a valid manifest") == true)
    }
}

@Suite("Timestamp")
struct TimestampTests {
    static let noon = Date(timeIntervalSince1970: 1_795_780_800)  // 2026-11-27T12:00:00Z

    @Test(
        "parse accepts the documented spellings",
        arguments: [
            ("2026-11-27T12:00:00Z", 1_795_780_800.0),
            ("2026-11-27T13:00:00+01:00", 1_795_780_800.0),
            ("2026-11-27T07:30:00-04:30", 1_795_780_800.0),
            ("2026-11-27T12:00:00.5Z", 1_795_780_800.5),
            ("2026-11-27T12:00:00.250+00:00", 1_795_780_800.25),
            ("2026-11-27", 1_795_737_600.0),
            ("1795780800", 1_795_780_800.0),
            ("0", 0.0),
        ])
    func parses(text: String, seconds: Double) throws {
        let date = try #require(Timestamp.parse(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.001)
    }

    @Test(
        "parse rejects garbage",
        arguments: [
            "", "garbage", "2026-13-01T00:00:00Z", "-5", "12:00:00", "1e9", "2026-11-32",
        ])
    func rejects(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    /// BUG: the bare-date fallback (`[.withFullDate]`) reads only the leading date and ignores
    /// whatever follows, so a time it cannot read (no zone, an impossible hour, a typo) is
    /// silently replaced by midnight UTC instead of being rejected.
    @Test(
        "parse does not turn an unreadable time into midnight",
        arguments: [
            "2026-11-27T12:00:00",  // no zone
            "2026-11-27T25:00:00Z",  // no such hour
            "2026-11-27T12:00Z",  // no seconds
            "2026-11-27 12:00:00Z",  // space instead of 'T'
            "2026-11-27garbage",
            "2026/11/27",
        ])
    func noSilentMidnight(text: String) {
        let parsed = Timestamp.parse(text)
        #expect(parsed == nil, "\(text) was read as \(parsed.map(Timestamp.format) ?? "nil")")
    }

    @Test("format writes RFC 3339 UTC with whole seconds, rounding down")
    func format() {
        #expect(Timestamp.format(Self.noon) == "2026-11-27T12:00:00Z")
        #expect(Timestamp.format(Self.noon.addingTimeInterval(0.999)) == "2026-11-27T12:00:00Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        #expect(Timestamp.unixSeconds(Self.noon.addingTimeInterval(0.7)) == 1_795_780_800)
    }

    @Test("parseCanonical accepts only the stored spelling")
    func canonical() {
        #expect(Timestamp.parseCanonical("2026-11-27T12:00:00Z") == Self.noon)
        #expect(Timestamp.parseCanonical("2026-11-27T13:00:00+01:00") == nil)
        #expect(Timestamp.parseCanonical("2026-11-27") == nil)
        #expect(Timestamp.parseCanonical("1795780800") == nil)
        #expect(Timestamp.parseCanonical("2028-02-29T00:00:00Z") != nil)
        for invalid in [
            "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-27T24:00:00Z",
            "2026-11-27T12:60:00Z", "2026-11-27T12:00:60Z", "0000-01-01T00:00:00Z", "2026-11-27t12:00:00Z",
            "2026-11-27T12:00:00.5Z", "+026-11-27T12:00:00Z",
        ] {
            #expect(Timestamp.parseCanonical(invalid) == nil, "\(invalid)")
        }
    }

    @Test("format and parseCanonical agree with Foundation's ISO 8601 formatter from 1900 to 2400")
    func agreesWithFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        var generator = SystemRandomNumberGenerator()
        let dates =
            [-2_208_988_800, 0, 951_782_400, 4_107_542_399, 13_569_465_600]
            + (0..<2000).map { _ in
                Int64.random(in: -2_208_988_800...13_569_465_600, using: &generator)
            }
        for seconds in dates {
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            let text = formatter.string(from: date)
            #expect(Timestamp.format(date) == text)
            #expect(Timestamp.parseCanonical(text) == date, "\(text)")
        }
    }
}
