import Foundation
import TestSupport
import Testing

/// Packs from strangers: tars crafted with fixtures/tools/tamper.py to break one reader rule
/// each (spec/FORMAT.md §7). `verify`, `inspect` and `extract` must reject them (exit 1,
/// naming the entry and the rule), and `extract` must write nothing, anywhere.
@Suite("Hostile archives")
struct HostileArchiveTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        /// tamper.py arguments; "{top}" is the pack's name, "{abs}" a unique absolute folder
        /// outside the sandbox, "{victim}" the absolute path of a file inside the sandbox.
        var tamper: [String]
        /// The rule the message must state.
        var rule: String
        /// The entry the message must name.
        var entry: String
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(
            label: "NAME/../../evil.txt", tamper: ["add", "--kind", "file", "--name", "{top}/../../evil.txt"],
            rule: "'..' in path", entry: "demo/../../evil.txt"),
        Case(
            label: "../evil.txt", tamper: ["add", "--kind", "file", "--name", "../evil.txt"],
            rule: "'..' in path", entry: "../evil.txt"),
        Case(
            label: "../evil.txt as the first entry",
            tamper: ["add", "--at", "0", "--kind", "file", "--name", "../evil.txt"],
            rule: "'..' in path", entry: "../evil.txt"),
        Case(
            label: "NAME/data/code/../../../evil.txt as the first entry",
            tamper: ["add", "--at", "0", "--kind", "file", "--name", "{top}/data/code/../../../evil.txt"],
            rule: "'..' in path", entry: "demo/data/code/../../../evil.txt"),
        Case(
            label: "absolute path", tamper: ["add", "--kind", "file", "--name", "{abs}/evil"],
            rule: "absolute path", entry: "{abs}/evil"),
        Case(
            label: "absolute path as the first entry",
            tamper: ["add", "--at", "0", "--kind", "file", "--name", "{abs}/evil"],
            rule: "absolute path", entry: "{abs}/evil"),
        Case(
            label: "symlink to /etc/passwd",
            tamper: ["add", "--kind", "symlink", "--name", "{top}/data/link", "--target", "/etc/passwd"],
            rule: "symbolic link", entry: "demo/data/link"),
        Case(
            label: "symlink to a file outside, first",
            tamper: ["add", "--at", "0", "--kind", "symlink", "--name", "{top}/data/link", "--target", "{victim}"],
            rule: "symbolic link", entry: "demo/data/link"),
        Case(
            label: "symlink in place of a disclosed file, first",
            tamper: [
                "add", "--at", "0", "--kind", "symlink", "--name", "{top}/data/artifacts/weights.safetensors",
                "--target", "{victim}",
            ],
            rule: "symbolic link", entry: "demo/data/artifacts/weights.safetensors"),
        Case(
            label: "character device", tamper: ["add", "--kind", "chardev", "--name", "{top}/data/dev"],
            rule: "character device", entry: "demo/data/dev"),
        Case(
            label: "block device", tamper: ["add", "--kind", "blockdev", "--name", "{top}/data/disk"],
            rule: "block device", entry: "demo/data/disk"),
        Case(
            label: "FIFO", tamper: ["add", "--kind", "fifo", "--name", "{top}/data/fifo"],
            rule: "fifo", entry: "demo/data/fifo"),
        Case(
            label: "FIFO as the first entry",
            tamper: ["add", "--at", "0", "--kind", "fifo", "--name", "{top}/data/aaa"],
            rule: "fifo", entry: "demo/data/aaa"),
        Case(
            label: "directory entry", tamper: ["add", "--kind", "dir", "--name", "{top}/data/folder"],
            rule: "directory", entry: "demo/data/folder"),
        Case(
            label: "hard link to /etc/passwd",
            tamper: ["add", "--kind", "hardlink", "--name", "{top}/data/h", "--target", "/etc/passwd"],
            rule: "hard link to /etc/passwd", entry: "demo/data/h"),
        Case(
            label: "hard link to a file outside, first",
            tamper: ["add", "--at", "0", "--kind", "hardlink", "--name", "{top}/data/h", "--target", "{victim}"],
            rule: "hard link to", entry: "demo/data/h"),
        Case(
            label: "hard link through ..",
            tamper: ["add", "--kind", "hardlink", "--name", "{top}/data/h", "--target", "{top}/../../victim.txt"],
            rule: "hard link to", entry: "demo/data/h"),
        Case(
            label: "hard link to a later entry",
            tamper: [
                "add", "--at", "0", "--kind", "hardlink", "--name", "{top}/data/h", "--target", "{top}/data/pack.json",
            ],
            rule: "not an earlier file", entry: "demo/data/h"),
        Case(
            label: "duplicate path", tamper: ["duplicate", "--name", "{top}/data/pack.json"],
            rule: "duplicate entry", entry: "demo/data/pack.json"),
        Case(
            label: "duplicate weights", tamper: ["duplicate", "--name", "{top}/data/artifacts/weights.safetensors"],
            rule: "duplicate entry", entry: "demo/data/artifacts/weights.safetensors"),
        Case(
            label: "names differing only by case", tamper: ["add", "--kind", "file", "--name", "{top}/data/PACK.json"],
            rule: "differs only by case", entry: "demo/data/PACK.json"),
        Case(
            label: "second top-level directory", tamper: ["add", "--kind", "file", "--name", "other/data/x.txt"],
            rule: "second top-level directory", entry: "other/data/x.txt"),
        Case(
            label: "entry outside any top-level directory", tamper: ["add", "--kind", "file", "--name", "evil.txt"],
            rule: "outside the pack's top-level directory", entry: "evil.txt"),
        Case(
            label: "setuid mode", tamper: ["add", "--kind", "file", "--name", "{top}/data/x.sh", "--mode", "4755"],
            rule: "mode 4755", entry: "demo/data/x.sh"),
    ]

    @Test("verify, inspect and extract reject the pack; extract writes nothing anywhere", arguments: cases)
    func rejected(_ hostile: Case) async throws {
        try await withSandbox { box in
            let absolute = temporaryBase + "/mlpack-e2e-evil-" + UUID().uuidString.lowercased()
            defer { try? FileManager.default.removeItem(atPath: absolute) }
            let victim = try box.write("victim.txt", "do not touch\n")
            func fill(_ text: String) -> String {
                text.replacingOccurrences(of: "{abs}", with: absolute).replacingOccurrences(
                    of: "{victim}", with: victim)
            }

            let (pack, _, _) = try await makeStandardPack(in: box)
            let bad = box.path("hostile.mlpack")
            try await tamper(hostile.tamper.map(fill), pack: pack, output: bad)
            let rule = fill(hostile.rule)
            let entry = fill(hostile.entry)

            func expectRejected(
                _ result: ProcessResult, _ what: String, sourceLocation: SourceLocation = #_sourceLocation
            ) {
                #expect(result.status == 1, "\(what): expected exit 1: \(result)", sourceLocation: sourceLocation)
                let line = result.errLines.first { $0.hasPrefix("mlpack: error: ") } ?? ""
                #expect(
                    line.contains(rule), "\(what): the message does not state the rule '\(rule)': \(result)",
                    sourceLocation: sourceLocation)
                #expect(
                    line.contains(entry), "\(what): the message does not name \(entry): \(result)",
                    sourceLocation: sourceLocation)
            }

            expectRejected(try await mlpack(["verify", bad, "--allow-unsigned"], cwd: box.root), "verify")
            expectRejected(try await mlpackFromPipe(bad, ["verify", "-", "--allow-unsigned"]), "cat | verify -")
            expectRejected(try await mlpack(["inspect", bad], cwd: box.root), "inspect")

            // extract into a folder that does not exist yet, run from a working folder inside
            // the sandbox: an entry that escaped through '..' would land in the sandbox, an
            // absolute one at {abs}.
            let work = try box.mkdir("work/deeper")
            let target = work + "/out"
            let before = treeListing(box.root)
            let victimBefore = try readBytes(victim)

            expectRejected(try await mlpack(["extract", bad, "--to", target], cwd: work), "extract")
            #expect(!exists(target), "extract left \(target) behind: \(treeListing(target))")
            #expect(treeListing(box.root) == before, "extract changed files outside its target")

            // Into an existing empty folder: it stays empty.
            try box.mkdir("work/deeper/out")
            expectRejected(
                try await mlpack(["extract", bad, "--to", target], cwd: work), "extract into an empty folder")
            #expect(treeListing(target).isEmpty, "extract left files in \(target): \(treeListing(target))")
            var expected = before
            expected["work/deeper/out"] = "d"
            #expect(treeListing(box.root) == expected, "extract changed files outside its target")

            // From a pipe, with --force into a non-empty folder: still nothing written.
            try box.write("work/deeper/out/keep.txt", "mine\n")
            expectRejected(
                try await mlpackFromPipe(bad, ["extract", "-", "--to", target, "--force"], cwd: work),
                "cat | extract - --force")
            #expect(
                treeListing(target) == ["keep.txt": "f 644 5"],
                "extract --force changed the target: \(treeListing(target))")
            // --only through the index cannot be used (the tampered pack has none): still rejected.
            expectRejected(
                try await mlpack(["extract", bad, "--to", target, "--force", "--only", "*.safetensors"], cwd: work),
                "extract --only")
            #expect(
                treeListing(target) == ["keep.txt": "f 644 5"],
                "extract --only changed the target: \(treeListing(target))")

            #expect(!exists(absolute), "an entry was written to \(absolute)")
            #expect(
                !exists(box.root + "/evil.txt") && !exists(box.root + "/work/evil.txt")
                    && !exists(temporaryBase + "/evil.txt"))
            #expect(try readBytes(victim) == victimBefore, "\(victim) was changed")
            #expect(fileInfo(victim)?.links == 1, "\(victim) got a hard link")
        }
    }
}
