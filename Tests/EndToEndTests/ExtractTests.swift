import Foundation
import TestSupport
import Testing

/// `mlpack extract`: the checked payload, byte for byte, with the right modes.
@Suite("extract")
struct ExtractTests {
    @Test("A full extract gives the sources' bytes and modes (0755 for the executable script)")
    func fullExtract() async throws {
        try await withSandbox { box in
            let (pack, project, weights) = try await makeStandardPack(in: box)
            let out = box.path("out")
            let result = try await mlpack(["extract", pack, "--to", out, "--json"])
            #expect(result.status == 0, "\(result)")
            let summary = try decodeJSON(ExtractJSON.self, result)
            #expect(summary.files == project.files.count + 3 + EnvironmentItems.count)
            #expect(summary.withheld == 0)

            let report = try await inspectJSON(pack)
            let snapshot = try codeSnapshot(of: report)
            let extracted = try filesBelow(out)
            var expected = Set(project.files.map { snapshot + "/" + $0.path })
            expected.formUnion(["pack.json", snapshot + ".json", "artifacts/weights.safetensors"])
            #expect(Set(withoutEnvironment(extracted).keys) == expected)
            // The environment capture comes out too: the items the pack lists.
            #expect(
                Set(extracted.keys.filter(isEnvironmentPath)) == Set(report.files.map(\.path).filter(isEnvironmentPath))
            )
            for file in project.files {
                let path = out + "/" + snapshot + "/" + file.path
                #expect(extracted[snapshot + "/" + file.path] == file.bytes, "\(file.path) differs")
                let info = try #require(fileInfo(path))
                #expect(info.kind == .file)
                #expect(
                    info.mode == file.mode,
                    "\(file.path): mode \(String(info.mode, radix: 8)), expected \(String(file.mode, radix: 8))")
            }
            #expect(fileInfo(out + "/" + snapshot + "/train.py")?.mode == 0o755)
            #expect(extracted["artifacts/weights.safetensors"] == (try readBytes(weights)))
            #expect(fileInfo(out + "/artifacts/weights.safetensors")?.mode == 0o644)
            // No staging folder or other leftovers.
            #expect(!treeListing(out).keys.contains { $0.contains(".mlpack-") }, "\(treeListing(out).keys.sorted())")
            // The card names the snapshot and the weights.
            let card = try JSONSerialization.jsonObject(with: Data(readBytes(out + "/pack.json"))) as? [String: Any]
            #expect(card?["codeSnapshots"] as? [String] == [snapshot])
            #expect(card?["name"] as? String == "demo")
        }
    }

    @Test("An executable weights file keeps its mode")
    func executableWeights() async throws {
        try await withSandbox { box in
            let weights = try box.write("tool.bin", pseudoRandomBytes(700), mode: 0o755)
            let pack = try await makePack(in: box, weights: [weights])
            let out = box.path("out")
            let result = try await mlpack(["extract", pack, "--to", out])
            #expect(result.status == 0, "\(result)")
            #expect(fileInfo(out + "/artifacts/tool.bin")?.mode == 0o755)
            #expect(try readBytes(out + "/artifacts/tool.bin") == readBytes(weights))
        }
    }

    struct OnlyCase: Sendable, CustomTestStringConvertible {
        var globs: [String]
        /// Expected item paths, with "<snap>" for the code snapshot folder.
        var expected: [String]
        var testDescription: String { globs.joined(separator: " ") }
    }

    static let onlyCases: [OnlyCase] = [
        OnlyCase(
            globs: ["code/*"],
            expected: [
                "<snap>.json", "<snap>/train.py", "<snap>/model/__init__.py", "<snap>/model/net.py",
                "<snap>/utils/net_copy.py", "<snap>/configs/base.yaml", "<snap>/README.md",
            ]),
        OnlyCase(globs: ["*.safetensors"], expected: ["artifacts/weights.safetensors"]),
        OnlyCase(globs: ["artifacts/weights.safetensors"], expected: ["artifacts/weights.safetensors"]),
        OnlyCase(globs: ["*.yaml", "pack.json"], expected: ["<snap>/configs/base.yaml", "pack.json"]),
        OnlyCase(globs: ["**/utils/*.py"], expected: ["<snap>/utils/net_copy.py"]),
    ]

    @Test("--only extracts just the matching items, from a file and from a pipe", arguments: onlyCases)
    func only(_ only: OnlyCase) async throws {
        try await withSandbox { box in
            let (pack, project, weights) = try await makeStandardPack(in: box)
            let snapshot = try codeSnapshot(of: try await inspectJSON(pack))
            let expected = Set(only.expected.map { $0.replacingOccurrences(of: "<snap>", with: snapshot) })

            for (label, piped) in [("file", false), ("pipe", true)] {
                let out = box.path("out-\(label)")
                var arguments = ["extract", piped ? "-" : pack, "--to", out]
                for glob in only.globs { arguments += ["--only", glob] }
                let result = piped ? try await mlpackFromPipe(pack, arguments) : try await mlpack(arguments)
                #expect(result.status == 0, "\(label): \(result)")
                let extracted = try filesBelow(out)
                #expect(Set(extracted.keys) == expected, "\(label): extracted \(extracted.keys.sorted())")
                for file in project.files where expected.contains(snapshot + "/" + file.path) {
                    #expect(extracted[snapshot + "/" + file.path] == file.bytes, "\(label): \(file.path) differs")
                    #expect(
                        fileInfo(out + "/" + snapshot + "/" + file.path)?.mode == file.mode,
                        "\(label): \(file.path) mode")
                }
                if expected.contains("artifacts/weights.safetensors") {
                    #expect(extracted["artifacts/weights.safetensors"] == (try readBytes(weights)))
                }
            }
        }
    }

    @Test("--only reads the chosen item through the seek index")
    func onlyReadsThroughIndex() async throws {
        try await withSandbox { box in
            let (pack, _, weights) = try await makeStandardPack(in: box)
            let result = try await mlpack([
                "extract", pack, "--to", box.path("out"), "--only", "*.safetensors", "--json",
            ])
            #expect(result.status == 0, "\(result)")
            let summary = try decodeJSON(ExtractJSON.self, result)
            #expect(summary.readThrough == "seek index")
            #expect(summary.files == 1)
            #expect(summary.bytes == 4096)
            #expect(try readBytes(box.path("out/artifacts/weights.safetensors")) == readBytes(weights))
        }
    }

    @Test("--only matching nothing exits 2 and leaves no target folder")
    func onlyMatchingNothing() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            for piped in [false, true] {
                let out = box.path("out")
                let arguments = ["extract", piped ? "-" : pack, "--to", out, "--only", "*.ckpt"]
                let result = piped ? try await mlpackFromPipe(pack, arguments) : try await mlpack(arguments)
                #expect(result.status == 2, "\(result)")
                #expect(result.err.contains("--only"), "\(result)")
                #expect(!exists(out) || treeListing(out).isEmpty, "\(treeListing(out))")
            }
        }
    }

    /// The whole pack is checked before a byte is staged, so a pack that fails verification
    /// costs extract what it costs verify. Here writing any file past 64 KiB kills the process
    /// (SIGXFSZ): staging the 1 MiB weights on the way, as a single pass would, cannot go unseen.
    @Test("A pack that fails verification fails extract as it fails verify, before any file is written")
    func checkedBeforeWriting() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box)
            let weights = try makeWeights(in: box, size: 1 << 20)
            let pack = try await makePack(in: box, code: project.directory, weights: [weights])
            let damaged = box.path("damaged.mlpack")
            try await tamper(["flip", "--name", "{top}/tagmanifest-sha256.txt"], pack: pack, output: damaged)
            let verify = try await mlpack(["verify", damaged, "--allow-unsigned"])
            #expect(verify.status == 1 && verify.err.contains("BagIt view tampered with"), "\(verify)")
            let extract = try await run(
                "/usr/bin/prlimit",
                ["--fsize=65536", try Repo.mlpackBinary(), "extract", damaged, "--to", box.path("out")])
            #expect(extract.status == verify.status, "\(extract)")
            #expect(
                extract.errLines.filter { $0.hasPrefix("mlpack: error:") }
                    == verify.errLines.filter { $0.hasPrefix("mlpack: error:") }, "\(extract)")
            #expect(!exists(box.path("out")))
        }
    }

    @Test("A non-empty target folder: exit 2 and untouched, unless --force")
    func nonEmptyTarget() async throws {
        try await withSandbox { box in
            let (pack, project, _) = try await makeStandardPack(in: box)
            try box.write("out/mine.txt", "my notes\n")
            let before = treeListing(box.path("out"))
            let refused = try await mlpack(["extract", pack, "--to", box.path("out")])
            #expect(refused.status == 2, "\(refused)")
            #expect(refused.err.contains("not empty"), "\(refused)")
            #expect(refused.errLines.filter { $0.hasPrefix("mlpack: error: ") }.count == 1, "\(refused)")
            #expect(treeListing(box.path("out")) == before)

            // A hidden file counts too.
            try box.write("hidden/.keep", "")
            let hidden = try await mlpack(["extract", pack, "--to", box.path("hidden")])
            #expect(hidden.status == 2, "\(hidden)")
            #expect(treeListing(box.path("hidden")) == [".keep": "f 644 0"])

            let forced = try await mlpack(["extract", pack, "--to", box.path("out"), "--force"])
            #expect(forced.status == 0, "\(forced)")
            let snapshot = try codeSnapshot(of: try await inspectJSON(pack))
            let extracted = try filesBelow(box.path("out"))
            #expect(extracted["mine.txt"] == Array("my notes\n".utf8), "--force removed or changed an unrelated file")
            #expect(extracted[snapshot + "/train.py"] == project.file("train.py")?.bytes)
            #expect(withoutEnvironment(extracted).count == project.files.count + 4)

            // A second --force extract replaces changed files.
            try box.write("out/" + snapshot + "/train.py", "overwritten\n")
            let again = try await mlpack(["extract", pack, "--to", box.path("out"), "--force"])
            #expect(again.status == 0, "\(again)")
            #expect(try readBytes(box.path("out/" + snapshot + "/train.py")) == project.file("train.py")?.bytes)
            #expect(fileInfo(box.path("out/" + snapshot + "/train.py"))?.mode == 0o755)
        }
    }

    @Test("A target that is a file: exit 2, file untouched")
    func targetIsAFile() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            try box.write("out", "a file\n")
            let result = try await mlpack(["extract", pack, "--to", box.path("out")])
            #expect(result.status == 2, "\(result)")
            #expect(try readBytes(box.path("out")) == Array("a file\n".utf8))
        }
    }

    @Test("cat P | mlpack extract - --to T gives the same files as extracting from the file")
    func extractFromPipe() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let piped = try await sh(
                #"cat "$1" | "$2" extract - --to "$3""#, [pack, try Repo.mlpackBinary(), box.path("piped")])
            #expect(piped.status == 0, "\(piped)")
            let direct = try await mlpack(["extract", pack, "--to", box.path("direct")])
            #expect(direct.status == 0, "\(direct)")
            let a = try filesBelow(box.path("piped"))
            let b = try filesBelow(box.path("direct"))
            #expect(withoutEnvironment(a).count == 9)
            #expect(a == b)
            #expect(
                treeListing(box.path("piped")) == treeListing(box.path("direct")), "modes differ between pipe and file")
        }
    }

    @Test("Identical code files (tar hard links) come out as separate regular files with their own modes")
    func identicalFilesComeOutAsRegularFiles() async throws {
        try await withSandbox { box in
            let shared = "def helper():\n    return 42\n"
            let project = try makeProject(
                in: box,
                files: [
                    SourceFile("a/helper.py", shared),
                    SourceFile("b/helper.py", shared),
                    SourceFile("c/helper.py", shared, mode: 0o755),
                    SourceFile("d/other.py", "x = 1\n"),
                ])
            let pack = try await makePack(in: box, code: project.directory)
            let links = try await tarMembers(pack).filter(\.isHardlink)
            // Only same content and same mode are linked: c/helper.py (0755) is stored apart.
            #expect(links.count == 1, "expected one hard link in the tar: \(links.map(\.name))")
            let snapshot = try codeSnapshot(of: try await inspectJSON(pack))

            for (label, arguments, piped) in [
                ("file", ["extract", pack, "--to", box.path("out-file")], false),
                ("pipe", ["extract", "-", "--to", box.path("out-pipe")], true),
                ("only", ["extract", pack, "--to", box.path("out-only"), "--only", "helper.py"], false),
                ("only from a pipe", ["extract", "-", "--to", box.path("out-only-pipe"), "--only", "helper.py"], true),
            ] {
                let result = piped ? try await mlpackFromPipe(pack, arguments) : try await mlpack(arguments)
                #expect(result.status == 0, "\(label): \(result)")
                let out = arguments[3]
                var inodes = Set<UInt64>()
                for file in project.files where file.path.hasSuffix("helper.py") {
                    let path = out + "/" + snapshot + "/" + file.path
                    let info = try #require(fileInfo(path), "\(label): \(file.path) missing")
                    #expect(info.kind == .file, "\(label): \(file.path) is a \(info.kind)")
                    #expect(info.links == 1, "\(label): \(file.path) is hard-linked on disk")
                    #expect(info.mode == file.mode, "\(label): \(file.path) mode \(String(info.mode, radix: 8))")
                    #expect(try readBytes(path) == file.bytes, "\(label): \(file.path) content")
                    inodes.insert(info.inode)
                }
                #expect(inodes.count == 3, "\(label): the copies share an inode")
            }
        }
    }

    @Test("Empty code files round-trip")
    func emptyFiles() async throws {
        try await withSandbox { box in
            let project = try makeProject(
                in: box,
                files: [
                    SourceFile("empty.py", ""), SourceFile("also_empty.txt", ""), SourceFile("x.py", "x\n"),
                ])
            let pack = try await makePack(in: box, code: project.directory)
            let out = box.path("out")
            let result = try await mlpack(["extract", pack, "--to", out])
            #expect(result.status == 0, "\(result)")
            let snapshot = try codeSnapshot(of: try await inspectJSON(pack))
            #expect(fileInfo(out + "/" + snapshot + "/empty.py")?.size == 0)
            #expect(fileInfo(out + "/" + snapshot + "/also_empty.txt")?.kind == .file)
            #expect(try readBytes(out + "/" + snapshot + "/x.py") == Array("x\n".utf8))
        }
    }

    @Test("Weights larger than one zstd frame (9 MiB) round-trip, in full and with --only through the index")
    func multiFrameWeights() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box)
            let weights = box.path("big.safetensors")
            try await must("/bin/sh", ["-c", #"head -c 9437184 /dev/urandom > "$1""#, "sh", weights])
            let pack = try await makePack(in: box, code: project.directory, weights: [weights])
            let full = try await mlpack(["extract", pack, "--to", box.path("full")])
            #expect(full.status == 0, "\(full)")
            #expect(try readBytes(box.path("full/artifacts/big.safetensors")) == readBytes(weights))
            let only = try await mlpack([
                "extract", pack, "--to", box.path("only"), "--only", "*.safetensors", "--json",
            ])
            #expect(only.status == 0, "\(only)")
            #expect(try decodeJSON(ExtractJSON.self, only).readThrough == "seek index")
            #expect(try readBytes(box.path("only/artifacts/big.safetensors")) == readBytes(weights))
            let code = try await mlpack(["extract", pack, "--to", box.path("code"), "--only", "code/*"])
            #expect(code.status == 0, "\(code)")
            #expect(try filesBelow(box.path("code")).count == project.files.count + 1)
            let verify = try await mlpack(["verify", pack, "--allow-unsigned"])
            #expect(verify.status == 0 && verify.out.contains("seek index  valid"), "\(verify)")
            // Standard tools read the multi-frame stream too.
            let check = try await sh(
                #"zstd -q -dc "$1" | tar -xO demo/data/artifacts/big.safetensors | sha256sum"#, [pack])
            #expect(check.out.hasPrefix(try await sha256sum(weights)), "\(check)")
        }
    }

    @Test("A weights folder is stored under artifacts/ and extracted with its structure")
    func weightsFolder() async throws {
        try await withSandbox { box in
            try box.write("ckpt/shard-0.bin", pseudoRandomBytes(300, seed: 1))
            try box.write("ckpt/shard-1.bin", pseudoRandomBytes(300, seed: 2))
            try box.write("ckpt/meta/config.json", "{\"layers\": 2}\n")
            let pack = try await makePack(in: box, weights: [box.path("ckpt")])
            let out = box.path("out")
            let result = try await mlpack(["extract", pack, "--to", out])
            #expect(result.status == 0, "\(result)")
            let files = try filesBelow(out + "/artifacts")
            #expect(Set(files.keys) == ["ckpt/shard-0.bin", "ckpt/shard-1.bin", "ckpt/meta/config.json"])
            #expect(files["ckpt/shard-1.bin"] == pseudoRandomBytes(300, seed: 2))
        }
    }
}
