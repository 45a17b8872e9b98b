import Foundation
import TestSupport
import Testing

/// The conformance corpus (fixtures/conformance/, made by its make.py): every pack with the
/// exit code and error text each of verify, inspect and extract must give, nothing written
/// outside the target folder, and peak memory under 200 MiB for each.
@Suite("Conformance corpus")
struct ConformanceTests {
    struct Expectation: Decodable, Sendable {
        var exit: Int32
        var message: String
    }

    struct Case: Decodable, Sendable, CustomTestStringConvertible {
        var name: String
        var file: String
        var rule: String
        var trust: String
        var args: [String]
        var expect: [String: Expectation]
        var testDescription: String { "\(name) (\(rule))" }
    }

    static let folder = Repo.root + "/fixtures/conformance/"
    static let cases: [Case] = {
        guard let data = FileManager.default.contents(atPath: folder + "cases.json"),
            let decoded = try? JSONDecoder().decode([String: [Case]].self, from: data)["cases"]
        else { return [] }
        return decoded
    }()
    static let peakMemoryLimitKiB = 200 * 1024

    @Test("the corpus lists every pack in it, and every rule family")
    func complete() throws {
        #expect(Self.cases.count >= 30)
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder + "packs").filter {
            $0.hasSuffix(".mlpack")
        }
        #expect(Set(files.map { "packs/" + $0 }) == Set(Self.cases.map(\.file)))
        #expect(Self.cases.contains { $0.name.hasPrefix("valid-") })
    }

    @Test(
        "verify, inspect and extract give the expected exit code and error, write nothing outside the target, stay under 200 MiB",
        arguments: cases)
    func conformance(_ entry: Case) async throws {
        try await withSandbox { box in
            let pack = Self.folder + entry.file
            // verify needs a trusted signature or --allow-unsigned; extract only checks validity.
            let key = entry.trust == "key" ? ["--key", Self.folder + "keys/corpus.pub"] : []
            let verify = key + (entry.trust == "unsigned" ? ["--allow-unsigned"] : []) + entry.args
            let commands: [(String, [String])] = [
                ("verify", ["verify", pack] + verify),
                // Through a pipe there is no seek index: the same rules from the front.
                (
                    "verify",
                    ["sh", "-c", #"cat "$0" | exec "$@""#, pack, try Repo.mlpackBinary(), "verify", "-"] + verify
                ),
                ("inspect", ["inspect", pack] + entry.args),
                ("extract", ["extract", pack, "--to", box.path("target/out")] + key + entry.args),
            ]
            try box.mkdir("target")
            for (command, arguments) in commands {
                let expected = try #require(entry.expect[command])
                let before = treeListing(box.root)
                let memory = box.path("memory-\(command)")
                let program = arguments.first == "sh" ? [] : [try Repo.mlpackBinary()]
                let result = try await run("/usr/bin/time", ["-f", "%M", "-o", memory] + program + arguments)
                let context = "\(entry.name): \(command) \(result)"
                #expect(result.status == expected.exit, "\(context)")
                if expected.exit != 0 {
                    let errors = result.errLines.filter { $0.hasPrefix("mlpack: error:") }
                    #expect(errors.count == 1, "one error line: \(context)")
                    #expect(result.err.contains(expected.message), "expected «\(expected.message)»: \(context)")
                    if command == "extract" {
                        #expect(!exists(box.path("target/out")), "a rejected pack leaves no target: \(context)")
                    }
                }
                let kib =
                    Int(String(decoding: try readBytes(memory), as: UTF8.self).split(separator: "\n").last ?? "")
                    ?? .max
                #expect(kib < Self.peakMemoryLimitKiB, "peak RSS \(kib) KiB: \(context)")
                try? FileManager.default.removeItem(atPath: memory)
                // Nothing appears or changes outside the target folder.
                let after = treeListing(box.root).filter { !$0.key.hasPrefix("target/out") }
                #expect(after == before.filter { !$0.key.hasPrefix("target/out") }, "\(context)")
                try? FileManager.default.removeItem(atPath: box.path("target/out"))
            }
            #expect(!exists("/tmp/mlpack-corpus-evil.txt"))
            #expect(!exists(box.path("evil.txt")) && !exists(Self.folder + "evil.txt"))
        }
    }
}
