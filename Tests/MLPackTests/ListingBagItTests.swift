import Foundation
import Testing

@testable import MLPack

@Suite("Listing and BagIt")
struct ListingBagItTests {
    static func hex(_ n: UInt8) -> String { SHA256Hasher.hex([n]) }

    @Test("sha256sum format: <hex>, two spaces, path, newline")
    func format() {
        let out = Listing.sha256sum([("a.txt", Self.hex(1))])
        #expect(String(decoding: out, as: UTF8.self) == "\(Self.hex(1))  a.txt\n")
        #expect(Listing.sha256sum([]).isEmpty)
    }

    @Test("entries are sorted bytewise by path")
    func bytewiseSort() {
        let paths = ["b.txt", "a/b", "Z.txt", "é.txt", "a.b", "A.txt", "z.txt", "a-b", "日.txt", "_x", "a0"]
        let out = String(decoding: Listing.sha256sum(paths.map { ($0, Self.hex(0)) }), as: UTF8.self)
        let listed = out.split(separator: "\n").map { String($0.dropFirst(66)) }
        // Upper case before lower case, '-' < '.' < '/' < '0', '_' between, non-ASCII last.
        #expect(listed == ["A.txt", "Z.txt", "_x", "a-b", "a.b", "a/b", "a0", "b.txt", "z.txt", "é.txt", "日.txt"])
        #expect(out.hasSuffix("\n"))
        #expect(out.split(separator: "\n").allSatisfy { $0.dropFirst(64).hasPrefix("  ") })
    }

    @Test("sorting compares UTF-8 bytes, not Unicode canonical order")
    func sortIsBytewise() {
        // UTF-8: U+00E9 (C3 A9) < U+FF21 (EF BC A1) < U+1F642 (F0 9F 99 82). UTF-16 code-unit
        // order would put U+1F642 (D83D DE42) before U+FF21.
        let paths = ["\u{1F642}", "\u{FF21}", "\u{E9}"]
        let out = String(decoding: Listing.sha256sum(paths.map { ($0, Self.hex(0)) }), as: UTF8.self)
        let listed = out.split(separator: "\n").map { String($0.dropFirst(66)) }
        #expect(listed == ["\u{E9}", "\u{FF21}", "\u{1F642}"])
    }

    @Test("sortedBytewise orders as Manifest.bytewise does, keeping equal keys in their order")
    func sortedBytewise() {
        // SplitMix64, seeded: a failure can be replayed.
        struct Seeded: RandomNumberGenerator {
            var state: UInt64 = 2026
            mutating func next() -> UInt64 {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
        }
        var generator = Seeded()
        // "é" precomposed and decomposed are equal Strings but different bytes.
        let alphabet: [String] = [
            "a", "b", "A", "/", ".", "-", "0", "\u{E9}", "e\u{301}", "日", "\u{1F642}", "\u{FF21}", "aa",
        ]
        let strings = (0..<3_000).map { _ in
            (0..<Int.random(in: 0...6, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
                .joined()
        }
        let expected = strings.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
        #expect(strings.sortedBytewise().map { Array($0.utf8) } == expected)
        #expect([String]().sortedBytewise() == [])
        let pairs = [("b", 0), ("a", 1), ("b", 2), ("", 3), ("a", 4), ("b", 5)]
        #expect(pairs.sortedBytewise(by: \.0).map(\.1) == [3, 1, 4, 0, 2, 5])
    }

    @Test(
        "Manifest.bytewise is a strict order on UTF-8 bytes",
        arguments: [
            ("A", "a", true), ("a", "A", false), ("a", "a", false), ("a", "ab", true), ("z", "é", true),
            ("é", "z", false),
            ("a/b", "a.b", false), ("a.b", "a/b", true),
        ])
    func bytewise(a: String, b: String, less: Bool) {
        #expect(Manifest.bytewise(a, b) == less)
    }

    static let items: [Item] = [
        Item(path: "code/abc/train.py", role: .code, size: 120, sha256: hex(1), mode: 0o644),
        Item(path: "artifacts/model.bin", role: .weights, size: 5_000_000, sha256: hex(2), mode: 0o644),
        Item(path: "pack.json", role: .card, size: 300, sha256: hex(3), mode: 0o644),
        Item(path: "code/abc/empty.txt", role: .code, size: 0, sha256: hex(4), mode: 0o755),
    ]

    @Test("bag-info.txt has the Payload-Oxum and the Bagging-Date")
    func bagInfo() {
        let manifest = Manifest(name: "demo", created: "2026-11-27T12:00:00Z", signer: nil, items: [])
        let text = String(
            decoding: BagIt.bagInfo(manifest: manifest, payload: Self.items.map(BagIt.PayloadFile.init)), as: UTF8.self)
        #expect(
            text == """
                Bag-Software-Agent: mlpack (format 1)
                Bagging-Date: 2026-11-27
                External-Identifier: \(manifest.packId)
                Payload-Oxum: 5000420.4

                """)
    }

    @Test("Payload-Oxum of no items is 0.0")
    func emptyOxum() {
        let manifest = Manifest(name: "demo", created: "1999-01-02T03:04:05Z", signer: nil, items: [])
        let text = String(decoding: BagIt.bagInfo(manifest: manifest, payload: []), as: UTF8.self)
        #expect(text.contains("\nPayload-Oxum: 0.0\n"))
        #expect(text.contains("\nBagging-Date: 1999-01-02\n"))
    }

    @Test("manifest-sha256.txt lists every payload file below data/, sorted")
    func payloadManifest() {
        let text = String(decoding: BagIt.payloadManifest(Self.items.map(BagIt.PayloadFile.init)), as: UTF8.self)
        #expect(
            text == """
                \(Self.hex(2))  data/artifacts/model.bin
                \(Self.hex(4))  data/code/abc/empty.txt
                \(Self.hex(1))  data/code/abc/train.py
                \(Self.hex(3))  data/pack.json

                """)
    }

    @Test("bagit.txt and the tag manifest")
    func declarationAndTagManifest() {
        #expect(
            String(decoding: BagIt.declaration, as: UTF8.self)
                == "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
        let text = String(
            decoding: BagIt.tagManifest([("mlpack/manifest.json", Self.hex(5)), ("bagit.txt", Self.hex(6))]),
            as: UTF8.self)
        #expect(text == "\(Self.hex(6))  bagit.txt\n\(Self.hex(5))  mlpack/manifest.json\n")
    }

    @Test("Layout maps item paths to payload paths and back")
    func layout() {
        #expect(Layout.payloadPath("pack.json") == "data/pack.json")
        #expect(Layout.itemPath("data/code/a.py") == "code/a.py")
        #expect(Layout.itemPath("database/x") == nil)
        #expect(Layout.itemPath("mlpack/manifest.json") == nil)
        #expect(
            Layout.requiredTagFiles
                == Set(Layout.tagFiles).subtracting([
                    "mlpack/manifest.json.minisig", "mlpack/original/manifest.json",
                    "mlpack/original/manifest.json.minisig",
                    "mlpack/original/disclosures.json",
                ]))
        #expect(Layout.tagFiles.last == "tagmanifest-sha256.txt")
    }
}
