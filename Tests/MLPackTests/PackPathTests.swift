import Foundation
import Testing

@testable import MLPack

@Suite("PackPath")
struct PackPathTests {
    static let longPath = (0..<1400).map { _ in "abc" }.joined(separator: "/")  // 5599 bytes
    /// 16 components of 240 bytes, each followed by '/', then one more of 240: 4096 bytes.
    static let pathOf4096 =
        String(repeating: String(repeating: "a", count: 240) + "/", count: 16)
        + String(repeating: "b", count: 240)

    @Test(
        "problem(with:) names the rule a bad path breaks",
        arguments: [
            ("", "empty path"),
            ("/etc/passwd", "absolute path"),
            ("/", "absolute path"),
            ("..", "'..' in path"),
            ("../x", "'..' in path"),
            ("a/../b", "'..' in path"),
            ("a/..", "'..' in path"),
            (".", "'.' in path"),
            ("./a", "'.' in path"),
            ("a/./b", "'.' in path"),
            ("a//b", "empty path component"),
            ("a/", "empty path component"),
            ("a/b/", "empty path component"),
            ("a\\b", "backslash in path"),
            ("..\\x", "backslash in path"),
            ("a\u{0}b", "NUL in path"),
            ("a\nb", "control character in path"),
            ("a\tb", "control character in path"),
            ("a\u{1b}[31m", "control character in path"),
            ("a\u{7f}", "control character in path"),
            ("a\rb", "control character in path"),
            ("100%.txt", "'%' in path (BagIt would need to escape it)"),
            ("a/%2e%2e/b", "'%' in path (BagIt would need to escape it)"),
            ("cafe\u{301}.py", "path is not in Unicode NFC form"),
            ("dir/e\u{301}", "path is not in Unicode NFC form"),
            ("\u{212B}ngstrom", "path is not in Unicode NFC form"),  // ANGSTROM SIGN normalises to U+00C5
            (" a", "path component starts or ends with a space"),
            ("a ", "path component starts or ends with a space"),
            ("dir/ b", "path component starts or ends with a space"),
            ("dir /b", "path component starts or ends with a space"),
            (longPath, "path longer than 4096 bytes"),
            (String(repeating: "x", count: 256), "path component longer than 255 bytes"),
            ("ok/" + String(repeating: "x", count: 256) + "/ok", "path component longer than 255 bytes"),
            (String(repeating: "é", count: 128), "path component longer than 255 bytes"),  // 256 bytes of UTF-8
        ])
    func badPaths(path: String, rule: String) {
        #expect(PackPath.problem(with: path) == rule)
    }

    @Test(
        "problem(with:) accepts good paths",
        arguments: [
            "a",
            "train.py",
            "code/3f2a9c1b0e4d/src/model/train.py",
            "café/日本語.py",
            "données/ünïcödé.txt",
            ".gitignore",
            "configs/.env.example",
            "..hidden",
            "a..b/c...d",
            "with space/inner space.txt",
            "artifacts/model.safetensors",
            String(repeating: "x", count: 255),
            pathOf4096,
            "emoji/🙂.txt",
        ])
    func goodPaths(path: String) {
        #expect(PackPath.problem(with: path) == nil)
    }

    @Test("the 4096-byte fixture really is 4096 bytes")
    func fixtureLength() {
        #expect(Self.pathOf4096.utf8.count == 4096)
        #expect(PackPath.problem(with: Self.pathOf4096 + "b") == "path longer than 4096 bytes")
    }

    /// BUG: `problem(with:)` works on Swift `Character`s (grapheme clusters). A '/' followed by
    /// a combining mark (U+0301) is one Character "/́", so `hasPrefix("/")` and
    /// `split(separator: "/")` do not see that slash, while the file system does. `../\u{301}x`
    /// therefore passes although its first component is `..`.
    @Test(
        "a '/' followed by a combining mark is still a separator",
        arguments: [
            ("../\u{301}x", "'..' in path"),
            ("a/../\u{301}x", "'..' in path"),
            ("./\u{301}x", "'.' in path"),
            ("/\u{301}etc/passwd", "absolute path"),
            ("a//\u{301}b", "empty path component"),
            (" \u{301}a", "path component starts or ends with a space"),  // same flaw: first Character is " \u{301}"
        ])
    func combiningMarkAfterSlash(path: String, rule: String) {
        // Sanity: the path is NFC (U+0301 does not compose with '/'), so only the
        // component rules can catch it.
        #expect(Array(path.utf8) == Array(path.precomposedStringWithCanonicalMapping.utf8))
        #expect(PackPath.problem(with: path) == rule)
    }

    @Test(
        "decode rejects invalid UTF-8 and NUL before any other rule",
        arguments: [
            ([0xff, 0x61], "path is not valid UTF-8"),
            ([0x61, 0x2f, 0xc3], "path is not valid UTF-8"),  // truncated sequence
            ([0xc0, 0xaf], "path is not valid UTF-8"),  // overlong '/'
            ([0xed, 0xa0, 0x80], "path is not valid UTF-8"),  // UTF-16 surrogate
            ([0xf8, 0x88, 0x80, 0x80, 0x80], "path is not valid UTF-8"),
            ([0x61, 0x00, 0x62], "NUL in path"),
            ([0x2f, 0xff], "path is not valid UTF-8"),  // not UTF-8 wins over absolute
        ] as [([UInt8], String)])
    func decodeInvalid(raw: [UInt8], problem: String) {
        let (path, found) = PackPath.decode(raw)
        #expect(path == nil)
        #expect(found == problem)
    }

    @Test("decode returns the path and the rule it breaks for valid UTF-8")
    func decodeValid() {
        let good = PackPath.decode(Array("café/日本語.py".utf8))
        #expect(good.path == "café/日本語.py")
        #expect(good.problem == nil)
        let bad = PackPath.decode(Array("a/../b".utf8))
        #expect(bad.path == "a/../b")
        #expect(bad.problem == "'..' in path")
    }

    @Test(
        "isValidTopDirectory",
        arguments: [
            ("demo", true),
            ("my-model_v2.1", true),
            ("A", true),
            ("x" + String(repeating: "y", count: 99), true),  // 100 bytes
            ("", false),
            (".hidden", false),
            ("-flag", false),
            ("a/b", false),
            ("with space", false),
            ("café", false),
            ("a\\b", false),
            ("a%b", false),
            ("..", false),
            (String(repeating: "y", count: 101), false),
        ])
    func topDirectory(name: String, valid: Bool) {
        #expect(PackPath.isValidTopDirectory(name) == valid)
    }

    @Test(
        "sanitizedName",
        arguments: [
            ("demo", "demo"),
            ("my model v2", "my-model-v2"),
            ("-.-x", "x"),
            ("...hidden", "hidden"),
            ("", "pack"),
            ("...", "pack"),
            ("---", "pack"),
            ("café", "caf--"),  // é is two UTF-8 bytes
            ("a/b\\c", "a-b-c"),
            ("run:2026-11-27", "run-2026-11-27"),
        ])
    func sanitized(text: String, expected: String) {
        #expect(PackPath.sanitizedName(text) == expected)
        #expect(PackPath.isValidTopDirectory(PackPath.sanitizedName(text)))
    }

    @Test("sanitizedName truncates to 100 bytes and stays valid")
    func sanitizedLong() {
        let name = PackPath.sanitizedName(String(repeating: "ab ", count: 80))
        #expect(name.utf8.count == 100)
        #expect(PackPath.isValidTopDirectory(name))
    }

    @Test("caseFoldKey folds case and normalisation")
    func caseFold() {
        #expect(PackPath.caseFoldKey("Data/Model.BIN") == PackPath.caseFoldKey("data/model.bin"))
        #expect(PackPath.caseFoldKey("cafe\u{301}") == PackPath.caseFoldKey("CAFÉ"))
        #expect(PackPath.caseFoldKey("a") != PackPath.caseFoldKey("b"))
    }
}
