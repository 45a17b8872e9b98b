import Foundation
import Testing

@testable import MLPack

@Suite("JSONScanner (the disclosures' and the seek index's parser)")
struct JSONScannerTests {
    static func strings(_ json: String) throws -> [String] {
        var scanner = JSONScanner(Array(json.utf8))
        var out: [String] = []
        try scanner.array { (scanner) throws(JSONScanner.Malformed) in out.append(try scanner.string()) }
        try scanner.end()
        return out
    }

    @Test(
        "strings read as JSONDecoder reads them",
        arguments: [
            #"["plain", "caf\u00e9", "日本", "q\"b\\s\/n\n\t\r\b\f", "\ud83d\ude00"]"#,
            " [ ] ",
            #"["a","b"]"#,
        ])
    func stringsMatchFoundation(json: String) throws {
        #expect(try Self.strings(json) == JSONDecoder().decode([String].self, from: Data(json.utf8)))
    }

    @Test(
        "malformed documents are rejected",
        arguments: [
            #"["a""#, #"["a",]"#, #"["\x"]"#, "[\"tab\there\"]", #"["\ud83d"]"#, #"["\ude00"]"#, #"["a"] x"#, "", "[1]",
        ])
    func malformedStrings(json: String) {
        #expect(throws: JSONScanner.Malformed.self) { try Self.strings(json) }
    }

    @Test(
        "unsigned integers: plain digits only",
        arguments: [
            ("0", UInt64?.some(0)), ("42", 42), ("18446744073709551615", .max), ("18446744073709551616", nil),
            ("007", nil), ("-1", nil), ("1.0", nil), ("1e3", nil), ("", nil),
        ])
    func unsigned(text: String, expected: UInt64?) {
        var scanner = JSONScanner(Array("[\(text)]".utf8))
        let value = try? { () throws(JSONScanner.Malformed) -> UInt64 in
            try scanner.expect(UInt8(ascii: "["))
            let value = try scanner.unsigned()
            try scanner.expect(UInt8(ascii: "]"))
            return value
        }()
        #expect(value == expected)
    }

    @Test("a seek index with unknown keys, nulls and any key order reads like Codable's")
    func seekIndex() throws {
        let json = #"""
            {"entries":[{"size":3,"path":"p/a","dataOffset":512,"headerOffset":0,"extra":{"n":[1,-2.5e3,true,false,null]}},
            {"path":"p/b","headerOffset":1024,"dataOffset":512,"size":3,"hardlinkTarget":"p/a"},
            {"path":"p/c","headerOffset":1536,"dataOffset":2048,"size":0,"hardlinkTarget":null}],
            "frames":[{"compressedOffset":0,"uncompressedOffset":0}],"tarSize":4096,"version":1,"future":"x"}
            """#
        let ours = try SeekIndex(json: Array(json.utf8))
        #expect(ours == (try JSONDecoder().decode(SeekIndex.self, from: Data(json.utf8))))
        #expect(ours.entries[1].hardlinkTarget == "p/a")
    }

    @Test("a seek index missing a field or nested past the depth limit is malformed")
    func seekIndexMalformed() {
        for json in [
            #"{"frames":[],"entries":[],"version":1}"#,
            #"{"frames":[{"compressedOffset":0}],"entries":[],"tarSize":0,"version":1}"#,
            #"{"x":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
                + #","frames":[],"entries":[],"tarSize":0,"version":1}"#,
        ] {
            #expect(throws: JSONScanner.Malformed.self) { try SeekIndex(json: Array(json.utf8)) }
        }
    }
}
