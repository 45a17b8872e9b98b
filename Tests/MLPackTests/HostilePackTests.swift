import Foundation
import TestSupport
import Testing

@testable import MLPack

@Suite("Packs built by hand")
struct HostilePackTests {
    static let card = Array(
        "{\"codeSnapshots\":[],\"created\":\"2026-11-27T12:00:00Z\",\"formatVersion\":1,\"name\":\"evil\",\"outputs\":[]}\n"
            .utf8)

    @Test("a pack built by the test helper verifies and extracts (so the tests below are meaningful)")
    func helperMakesValidPacks() throws {
        try withTemporaryDirectory { dir in
            let path = dir.path("ok.mlpack")
            try craftPack(
                at: path, name: "evil",
                items: [
                    ("pack.json", .card, Self.card, 0o644),
                    ("notes/readme.txt", .note, Array("hello\n".utf8), 0o644),
                ])
            let report = try PackVerifier.verify(path, options: allowUnsigned())
            #expect(report.verdict == .verified)
            #expect(report.seekIndex == "valid")
            _ = try PackExtractor.extract(path, options: ExtractOptions(destination: dir.path("root/dest")))
            #expect(try dir.read("root/dest/notes/readme.txt") == Array("hello\n".utf8))
        }
    }

    /// BUG (security): because `PackPath.problem(with:)` splits on grapheme clusters (see
    /// PackPathTests), the item path `../\u{301}escaped.txt` passes every reader rule. The
    /// extractor builds `destination + "/" + path`, which the file system reads as
    /// `destination/../\u{301}escaped.txt`: the file lands next to the destination, outside it.
    @Test("an item path of '..' hidden behind a combining mark is rejected, not extracted outside the destination")
    func traversalThroughCombiningMark() throws {
        try withTemporaryDirectory { dir in
            let path = dir.path("evil.mlpack")
            try craftPack(
                at: path, name: "evil",
                items: [
                    ("pack.json", .card, Self.card, 0o644),
                    ("../\u{301}escaped.txt", .note, Array("written outside the destination\n".utf8), 0o644),
                ])
            try dir.makeDirectory("root")
            let verifyError = expectMLPackError { _ = try PackVerifier.verify(path, options: allowUnsigned()) }
            #expect(verifyError?.category == .invalid)
            let extractError = expectMLPackError {
                _ = try PackExtractor.extract(path, options: ExtractOptions(destination: dir.path("root/dest")))
            }
            #expect(extractError?.category == .invalid)
            #expect(!dir.exists("root/\u{301}escaped.txt"), "extract wrote a file outside its destination")
        }
    }

    @Test(
        "a pack holding a path that breaks a rule is rejected",
        arguments: [
            "a/../b.txt", "a//b.txt", "a\\b.txt", "50%.txt", "cafe\u{301}.txt", " lead.txt",
        ])
    func badItemPath(itemPath: String) throws {
        try withTemporaryDirectory { dir in
            let path = dir.path("bad.mlpack")
            try craftPack(
                at: path, name: "evil",
                items: [
                    ("pack.json", .card, Self.card, 0o644),
                    (itemPath, .note, Array("x".utf8), 0o644),
                ])
            let error = expectMLPackError { _ = try PackVerifier.verify(path, options: allowUnsigned()) }
            #expect(error?.category == .invalid, "\(String(describing: error))")
        }
    }

    @Test("a pack with a bad mode is rejected", arguments: [UInt32(0o600), 0o777, 0o4755])
    func badMode(mode: UInt32) throws {
        try withTemporaryDirectory { dir in
            let path = dir.path("bad.mlpack")
            try craftPack(at: path, name: "evil", items: [("x.txt", .note, Array("x".utf8), mode)])
            let error = expectMLPackError { _ = try PackVerifier.verify(path, options: allowUnsigned()) }
            #expect(
                error
                    == .unsafeEntry(
                        entry: "evil/data/x.txt", rule: "mode \(String(mode, radix: 8)) (only 644 and 755 are allowed)")
            )
        }
    }

    @Test("a pack with a bad top-level directory is rejected", arguments: [".hidden", "-x"])
    func badTop(name: String) throws {
        try withTemporaryDirectory { dir in
            let path = dir.path("bad.mlpack")
            try craftPack(at: path, name: name, items: [("x.txt", .note, Array("x".utf8), 0o644)])
            let error = expectMLPackError { _ = try PackVerifier.verify(path, options: allowUnsigned()) }
            // The first entry is rejected: the card, which every pack has.
            #expect(error == .unsafeEntry(entry: "\(name)/data/pack.json", rule: "invalid top-level directory name"))
        }
    }

    @Test("names differing only by case are rejected")
    func caseCollision() throws {
        try withTemporaryDirectory { dir in
            let path = dir.path("bad.mlpack")
            try craftPack(
                at: path, name: "evil",
                items: [
                    ("Model.bin", .weights, Array("a".utf8), 0o644), ("model.bin", .weights, Array("b".utf8), 0o644),
                ])
            let error = expectMLPackError { _ = try PackVerifier.verify(path, options: allowUnsigned()) }
            #expect(error?.category == .invalid)
            #expect(error?.description.contains("case") == true)
        }
    }
}
