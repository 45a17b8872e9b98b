import Foundation
import TestSupport
import Testing

/// Which files `create --code DIR` packs, outside and inside a git work tree.
@Suite("Code selection")
struct CodeSelectionTests {
    /// The code files of a pack (extracted), relative to the snapshot folder, and the
    /// snapshot descriptor `data/code/<hex>.json`.
    static func packedCode(
        _ pack: String, in box: Sandbox, _ label: String = "out"
    ) async throws -> (files: [String: [UInt8]], descriptor: [String: Any], folder: String) {
        let out = box.path("extracted-\(label)")
        let result = try await mlpack(["extract", pack, "--to", out])
        guard result.status == 0 else { throw TestError("extract failed: \(result)") }
        let snapshot = try codeSnapshot(of: try await inspectJSON(pack))
        let files = try filesBelow(out + "/" + snapshot)
        let descriptor =
            try JSONSerialization.jsonObject(with: Data(readBytes(out + "/" + snapshot + ".json"))) as? [String: Any]
            ?? [:]
        return (files, descriptor, out + "/" + snapshot)
    }

    @Test("Outside git: caches, virtualenvs, notebook checkpoints and .mlpackignore patterns are left out")
    func outsideGitDefaults() async throws {
        try await withSandbox { box in
            let project = try makeProject(
                in: box,
                files: [
                    SourceFile("train.py", "print('train')\n", mode: 0o755),
                    SourceFile("pkg/mod.py", "X = 1\n"),
                    SourceFile("pkg/__pycache__/mod.cpython-311.pyc", "cache"),
                    SourceFile("pkg/stale.pyc", "stale"),
                    SourceFile("pkg/opt.pyo", "opt"),
                    SourceFile("__pycache__/top.cpython-311.pyc", "cache"),
                    SourceFile(".venv/pyvenv.cfg", "home = /usr/bin\n"),
                    SourceFile(".venv/lib/python3.11/site-packages/torch.py", "big"),
                    SourceFile("myenv/pyvenv.cfg", "home = /usr/bin\n"),
                    SourceFile("myenv/bin/python", "#!", mode: 0o755),
                    SourceFile("condaenv/conda-meta/history", "conda"),
                    SourceFile("condaenv/lib/x.py", "x"),
                    SourceFile("notebooks/analysis.ipynb", "{}\n"),
                    SourceFile("notebooks/.ipynb_checkpoints/analysis-checkpoint.ipynb", "{}\n"),
                    SourceFile("wandb/run-1/log.txt", "log"),
                    SourceFile("outputs/model.ckpt", "ckpt"),
                    SourceFile("configs/base.yaml", "lr: 1\n"),
                    SourceFile("configs/secret.yaml", "token: x\n"),
                    SourceFile("scratch.tmp", "tmp"),
                    SourceFile(
                        ".mlpackignore",
                        "# comments and blank lines are ignored\n\nwandb\n*.ckpt\nconfigs/secret.yaml\n*.tmp\n"),
                ])
            let pack = try await makePack(in: box, code: project.directory)
            let (files, descriptor, _) = try await Self.packedCode(pack, in: box)
            let kept = Set(files.keys)
            let wanted: Set = ["train.py", "pkg/mod.py", "notebooks/analysis.ipynb", "configs/base.yaml"]
            for expected in wanted {
                #expect(kept.contains(expected), "\(expected) was left out: \(kept.sorted())")
            }
            for file in project.files.map(\.path) where !wanted.contains(file) && file != ".mlpackignore" {
                #expect(!kept.contains(file), "\(file) should have been left out: \(kept.sorted())")
            }
            #expect(kept.subtracting([".mlpackignore"]) == wanted)
            #expect(descriptor["git"] == nil, "a folder outside git has no git record: \(descriptor)")
            #expect(descriptor["fileCount"] as? Int == kept.count)
            #expect(files["train.py"] == Array("print('train')\n".utf8))
        }
    }

    @Test("Outside git: secret keys, packs and files over 10 MB are never code, each said; --include keeps them")
    func outsideGitKeysPacksAndLargeFiles() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box, files: [SourceFile("train.py", "print('train')\n")])
            let keys = try await mlpack(
                ["key", "generate", "--output", project.directory + "/keys/me", "--unencrypted"])
            #expect(keys.status == 0, "\(keys)")
            _ = try await makePack(in: box, output: "project/old.mlpack", code: project.directory)
            try box.write("project/data/big.bin", [UInt8](repeating: 7, count: 11 << 20))
            let (run, id) = try await RunTests.record(["true"], in: project.directory)
            #expect(run.status == 0, "\(run)")
            let recorded = Set(try await RunTests.show(try #require(id), in: project.directory).code.files.map(\.path))
            #expect(recorded == ["train.py", "keys/me.pub"], "\(recorded.sorted())")
            #expect(run.errLines.contains { $0.contains("old.mlpack: left out (a pack is not code)") }, "\(run)")
            #expect(run.errLines.contains { $0.contains("data/big.bin: left out (11 MB, over 10 MB") }, "\(run)")

            let kept = try await makePack(
                in: box, output: "kept.mlpack", code: project.directory,
                extra: ["--include", "data/big.bin", "--include", "*.mlpack", "--include", "keys/me.key"])
            let packed = Set(try await Self.packedCode(kept, in: box).files.keys)
            #expect(
                packed.isSuperset(of: ["train.py", "data/big.bin", "old.mlpack", "keys/me.key"]), "\(packed.sorted())")
        }
    }

    @Test("Outside git: a snapshot of over 1,000 files is warned about")
    func outsideGitLargeSnapshot() async throws {
        try await withSandbox { box in
            let files = (0..<1001).map { SourceFile("rows/\($0).csv", "\($0)\n") }
            let project = try makeProject(in: box, files: files)
            let (run, _) = try await RunTests.record(["true"], in: project.directory)
            #expect(run.status == 0, "\(run)")
            #expect(run.errLines.contains { $0.contains("code snapshot: 1001 files") }, "\(run)")
        }
    }

    @Test("Outside git: --exclude removes files and folders")
    func outsideGitExclude() async throws {
        try await withSandbox { box in
            let project = try makeProject(
                in: box,
                files: [
                    SourceFile("train.py", "print('train')\n"),
                    SourceFile("data/big.csv", "a,b\n1,2\n"),
                    SourceFile("configs/a.yaml", "a: 1\n"),
                    SourceFile("configs/nested/b.yaml", "b: 2\n"),
                    SourceFile("notes.md", "notes\n"),
                    SourceFile("pkg/__pycache__/x.pyc", "cache"),
                ])
            let pack = try await makePack(
                in: box, code: project.directory,
                extra: [
                    "--exclude", "data", "--exclude", "configs/*.yaml", "--exclude", "*.md",
                ])
            let kept = Set(try await Self.packedCode(pack, in: box).files.keys)
            #expect(kept == ["train.py", "configs/nested/b.yaml"], "\(kept.sorted())")

            let doubleStar = try await makePack(
                in: box, output: "b.mlpack", code: project.directory, extra: ["--exclude", "configs/**"])
            let kept2 = Set(try await Self.packedCode(doubleStar, in: box, "b").files.keys)
            #expect(kept2 == ["train.py", "data/big.csv", "notes.md"], "\(kept2.sorted())")
        }
    }

    @Test(
        "Outside git: a symlink to a file inside the folder is stored as a copy; links to outside are skipped with a warning"
    )
    func symlinks() async throws {
        try await withSandbox { box in
            let project = try makeProject(
                in: box, files: [SourceFile("a.py", "A = 1\n"), SourceFile("sub/b.py", "B = 2\n")])
            try box.write("outside-secret.txt", "secret\n")
            try FileManager.default.createSymbolicLink(
                atPath: project.directory + "/link_a.py", withDestinationPath: "a.py")
            try FileManager.default.createSymbolicLink(
                atPath: project.directory + "/link_b.py", withDestinationPath: "sub/b.py")
            try FileManager.default.createSymbolicLink(
                atPath: project.directory + "/secret.txt", withDestinationPath: "../outside-secret.txt")
            try FileManager.default.createSymbolicLink(
                atPath: project.directory + "/passwd", withDestinationPath: "/etc/passwd")
            let output = box.path("links.mlpack")
            let result = try await mlpack([
                "create", "--output", output, "--code", project.directory, "--unsigned", "--created", Fixture.created,
            ])
            #expect(result.status == 0, "\(result)")
            #expect(
                result.err.contains("secret.txt") && result.err.contains("passwd"),
                "no warning about the skipped links: \(result)")
            let (files, _, folder) = try await Self.packedCode(output, in: box)
            #expect(Set(files.keys) == ["a.py", "sub/b.py", "link_a.py", "link_b.py"], "\(files.keys.sorted())")
            #expect(files["link_b.py"] == Array("B = 2\n".utf8))
            #expect(fileInfo(folder + "/link_a.py")?.kind == .file)
            let tar = try await must("zstd", ["-q", "-dc", output]).stdout
            #expect(
                !String(decoding: tar, as: UTF8.self).contains("secret\n"),
                "the content behind a link to outside was packed")
        }
    }

    @Test("The output file and the weights are not packed again as code")
    func outputAndWeightsNotPackedAsCode() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box, files: [SourceFile("train.py", "print(1)\n")])
            let weights = try box.write("project/model.safetensors", pseudoRandomBytes(300))
            let pack = try await makePack(
                in: box, output: "project/out.mlpack", code: project.directory, weights: [weights])
            let report = try await inspectJSON(pack)
            let code = report.files.filter { $0.role == "code" }.map(\.path)
            #expect(code.count == 1 && code.first?.hasSuffix("/train.py") == true, "\(code)")
            #expect(report.files.contains { $0.path == "artifacts/model.safetensors" })
        }
    }

    // MARK: - git

    static func git(_ arguments: [String], in directory: String) async throws {
        try await must(
            "git",
            [
                "-c", "user.name=E2E", "-c", "user.email=e2e@example.org", "-c", "commit.gpgsign=false",
                "-c", "init.defaultBranch=main",
            ] + arguments, cwd: directory)
    }

    static func head(of directory: String) async throws -> String {
        try await must("git", ["rev-parse", "HEAD"], cwd: directory).out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A git repository with three committed files; then train.py is edited without
    /// committing, and an untracked script and an untracked config are added.
    static func makeRepository(in box: Sandbox) async throws -> (dir: String, head: String) {
        let project = try makeProject(
            in: box, at: "repo",
            files: [
                SourceFile("train.py", "print('v1')\n", mode: 0o755),
                SourceFile("src/util.py", "def f():\n    return 1\n"),
                SourceFile("README.md", "# repo\n"),
            ])
        try await git(["init", "-q"], in: project.directory)
        try await git(["add", "-A"], in: project.directory)
        try await git(["commit", "-q", "-m", "initial"], in: project.directory)
        let head = try await head(of: project.directory)
        try box.write("repo/train.py", "print('v2: edited, not committed')\n", mode: 0o755)
        try box.write("repo/scratch.py", "print('untracked')\n")
        try box.write("repo/local.yaml", "untracked: true\n")
        return (project.directory, head)
    }

    @Test("In git: tracked files with their uncommitted content, no untracked file; dirty and HEAD recorded")
    func gitTrackedFiles() async throws {
        try await withSandbox { box in
            let (repo, head) = try await Self.makeRepository(in: box)
            let pack = try await makePack(in: box, code: repo)
            let (files, descriptor, folder) = try await Self.packedCode(pack, in: box)
            #expect(Set(files.keys) == ["train.py", "src/util.py", "README.md"], "\(files.keys.sorted())")
            #expect(
                files["train.py"] == Array("print('v2: edited, not committed')\n".utf8),
                "the uncommitted edit was not packed")
            #expect(fileInfo(folder + "/train.py")?.mode == 0o755)
            let git = try #require(descriptor["git"] as? [String: Any], "no git record: \(descriptor)")
            #expect(git["dirty"] as? Bool == true, "\(git)")
            #expect(git["commit"] as? String == head, "\(git)")
            #expect(descriptor["fileCount"] as? Int == 3)
        }
    }

    @Test("In git: --include adds an untracked file, --exclude removes a tracked one")
    func gitIncludeExclude() async throws {
        try await withSandbox { box in
            let (repo, head) = try await Self.makeRepository(in: box)
            let pack = try await makePack(
                in: box, code: repo, extra: ["--include", "*.yaml", "--exclude", "README.md"])
            let (files, descriptor, _) = try await Self.packedCode(pack, in: box)
            #expect(Set(files.keys) == ["train.py", "src/util.py", "local.yaml"], "\(files.keys.sorted())")
            #expect(files["local.yaml"] == Array("untracked: true\n".utf8))
            #expect((descriptor["git"] as? [String: Any])?["commit"] as? String == head)
        }
    }

    @Test("In git: a clean work tree is recorded as not dirty, with the new HEAD")
    func gitCleanTree() async throws {
        try await withSandbox { box in
            let (repo, head) = try await Self.makeRepository(in: box)
            try await Self.git(["commit", "-q", "-a", "-m", "second"], in: repo)
            let newHead = try await Self.head(of: repo)
            #expect(newHead != head)
            let pack = try await makePack(in: box, code: repo)
            let (files, descriptor, _) = try await Self.packedCode(pack, in: box)
            #expect(Set(files.keys) == ["train.py", "src/util.py", "README.md"])
            let git = try #require(descriptor["git"] as? [String: Any])
            #expect(git["dirty"] as? Bool == false, "\(git)")
            #expect(git["commit"] as? String == newHead)
        }
    }

    @Test("In git: --code pointing at a subfolder packs that folder's tracked files only")
    func gitSubfolder() async throws {
        try await withSandbox { box in
            let (repo, _) = try await Self.makeRepository(in: box)
            try box.write("repo/src/untracked_helper.py", "x = 1\n")
            let pack = try await makePack(in: box, code: repo + "/src")
            let (files, descriptor, _) = try await Self.packedCode(pack, in: box)
            #expect(Set(files.keys) == ["util.py"], "\(files.keys.sorted())")
            #expect(descriptor["git"] != nil)
        }
    }

    @Test("In git: a tracked file deleted from the work tree is left out")
    func gitDeletedFile() async throws {
        try await withSandbox { box in
            let (repo, _) = try await Self.makeRepository(in: box)
            try FileManager.default.removeItem(atPath: repo + "/README.md")
            let pack = try await makePack(in: box, code: repo)
            let (files, descriptor, _) = try await Self.packedCode(pack, in: box)
            #expect(Set(files.keys) == ["train.py", "src/util.py"], "\(files.keys.sorted())")
            #expect((descriptor["git"] as? [String: Any])?["dirty"] as? Bool == true)
        }
    }
}
