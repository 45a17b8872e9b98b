import Foundation
import TestSupport
import Testing

/// `mlpack run` twice (pretrain, edit the code, fine-tune from the checkpoint), an unrelated
/// run, then `create --output-of` the final weights: exactly the lineage is packed.
@Suite("Lineage: create --output-of")
struct LineageTests: RebuildSuite {
    static let trainV1 = """
        import hashlib, os, sys
        args = dict(a.split("=", 1) for a in sys.argv[1:])
        data = b"".join(open(os.path.join(args["data"], n), "rb").read() for n in sorted(os.listdir(args["data"])))
        init = open(args["init"], "rb").read() if "init" in args else b""
        LEARNING_RATE = "0.5"
        os.makedirs(os.path.dirname(args["out"]) or ".", exist_ok=True)
        open(args["out"], "w").write(hashlib.sha256(data + init + LEARNING_RATE.encode()).hexdigest() + "\\n")

        """
    static let trainV2 = trainV1.replacingOccurrences(of: "\"0.5\"", with: "\"0.2\"")

    struct Project {
        var root: String
        var finalWeights: String
        var runIds: [String]
    }

    /// A git project with a dataset, and three recorded runs: pretrain, finetune (after an
    /// uncommitted edit of train.py), and an unrelated experiment.
    func recordTwoStages(in box: Sandbox) async throws -> Project {
        let root = try box.mkdir("project")
        try box.write("project/train.py", Self.trainV1)
        try box.write("project/.gitignore", "dataset/\ncheckpoints/\n*.weights\n")
        try box.write("project/dataset/a.csv", "x,y\n1,2\n")
        try box.write("project/dataset/b.csv", "x,y\n3,4\n")
        try await must("git", ["init", "-q"], cwd: root)
        try await must("git", ["add", "-A"], cwd: root)
        try await must(
            "git", ["-c", "user.name=T", "-c", "user.email=t@example.org", "commit", "-qm", "v1"], cwd: root)

        func record(_ name: String, _ arguments: [String]) async throws -> String {
            let result = try await mlpack(["run", "--name", name] + arguments, cwd: root)
            guard result.status == 0, let line = result.errLines.last,
                let range = line.range(of: #"run (\S+) "#, options: .regularExpression)
            else {
                throw TestError("mlpack run failed: \(result)")
            }
            return String(line[range].dropFirst(4).dropLast())
        }
        let pretrain = try await record(
            "pretrain", ["-i", "dataset", "--", "python3", "train.py", "data=dataset", "out=checkpoints/pre.weights"])
        try box.write("project/train.py", Self.trainV2)
        let finetune = try await record(
            "finetune",
            [
                "-i", "dataset", "-i", "checkpoints/pre.weights", "--",
                "python3", "train.py", "data=dataset", "init=checkpoints/pre.weights", "out=final.weights",
            ])
        let unrelated = try await record(
            "unrelated", ["--", "python3", "train.py", "data=dataset", "out=other.weights"])
        return Project(root: root, finalWeights: root + "/final.weights", runIds: [pretrain, finetune, unrelated])
    }

    /// Issue 24: a folder a run wrote could not be a checkpoint, and `-i DIR` of files an
    /// earlier run wrote was not linked to it (it became data with no URI).
    @Test(
        "a folder one run writes and the next reads links the runs, packs as a checkpoint and rebuilds",
        arguments: [true, false], [true, false])
    func folderCheckpoint(traced: Bool, declared: Bool) async throws {
        try await withSandbox { box in
            let root = try await project(
                in: box,
                [
                    "prepare.py":
                        "import os\nos.makedirs('data/processed', exist_ok=True)\nfor i in range(3):\n    open(f'data/processed/part{i}.txt', 'w').write(str(7 * i))\n",
                    "train.py":
                        "import os\nd = 'data/processed'\nopen('final.txt', 'w').write(str(sum(int(open(os.path.join(d, f)).read()) for f in sorted(os.listdir(d)))))\n",
                    ".gitignore": "data/\nfinal.txt\n",
                ])
            let trace = traced ? [] : ["--no-trace"]
            let prepare = try await mlpack(
                ["run"] + trace + (declared ? ["-o", "data/processed"] : []) + ["--", "python3", "prepare.py"],
                cwd: root)
            #expect(prepare.status == 0, "\(prepare)")
            let train = try await mlpack(
                ["run"] + trace + ["-i", "data/processed", "--", "python3", "train.py"], cwd: root)
            #expect(train.status == 0, "\(train)")

            for checkpoints in [true, false] {
                let pack = box.path("folder-\(checkpoints).mlpack")
                let made = try await mlpack(
                    ["create", "--output", pack, "--output-of", "final.txt", "--unsigned"]
                        + (checkpoints ? [] : ["--no-checkpoints"]), cwd: root)
                #expect(made.status == 0, "\(made)")
                #expect(!made.err.contains("no public URI"), "the folder is the first run's, not data: \(made)")
                let roles = try await inspectJSON(pack).roles
                #expect(roles.first { $0.role == "run" }?.items == 2, "\(roles)")
                #expect(roles.first { $0.role == "checkpoint" }?.items == (checkpoints ? 3 : nil), "\(roles)")
                let rebuilt = try await mlpack([
                    "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--json",
                ])
                #expect(rebuilt.status == 0, "\(rebuilt)")
                let report = try #require(try JSONSerialization.jsonObject(with: rebuilt.stdout) as? [String: Any])
                let decisive = (report["outputs"] as? [[String: Any]] ?? []).filter { $0["decisive"] as? Bool == true }
                #expect(decisive.count == (checkpoints ? 4 : 1), "\(decisive)")
            }
        }
    }

    /// Issue 24: there was no way to add an input to a recorded run afterwards.
    @Test("runs link ID -i PATH adds an input the record lacked and links it to the run that wrote it")
    func linkAfterwards() async throws {
        try await withSandbox { box in
            let root = try await project(
                in: box,
                [
                    "pre.py": "open('pre.bin', 'w').write('7')\n",
                    "ft.py": "open('final.bin', 'w').write(str(6 * int(open('pre.bin').read())))\n",
                    ".gitignore": "*.bin\n",
                ])
            let (pre, preId) = try await RunTests.record(["python3", "pre.py"], options: ["--no-trace"], in: root)
            let (ft, ftId) = try await RunTests.record(["python3", "ft.py"], options: ["--no-trace"], in: root)
            #expect(pre.status == 0 && ft.status == 0, "\(pre)\n\(ft)")
            let id = try #require(ftId)

            let linked = try await mlpack(
                ["runs", "link", String(id.prefix(20)), "-i", "pre.bin", "-i", "ft.py"], cwd: root)
            #expect(linked.status == 0, "\(linked)")
            #expect(
                linked.out == "run \(id): added input pre.bin (1 B, from run \(try #require(preId)))\n", "\(linked)")
            let record = try await RunTests.show(id, in: root)
            #expect(record.inputs.map(\.path) == ["pre.bin"], "ft.py is code, not an input")
            let again = try await mlpack(["runs", "link", id, "-i", "pre.bin"], cwd: root)
            #expect(again.status == 0 && again.out.contains("nothing to add"), "\(again)")

            let pack = box.path("linked.mlpack")
            let made = try await mlpack(
                ["create", "--output", pack, "--output-of", "final.bin", "--unsigned"], cwd: root)
            #expect(made.status == 0, "\(made)")
            #expect(try await inspectJSON(pack).roles.first { $0.role == "run" }?.items == 2)
            let rebuilt = try await mlpack(["verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned"])
            #expect(rebuilt.status == 0, "\(rebuilt)")

            for (arguments, problem) in [
                (["-i", "nope.bin"], "nope.bin: no such file or directory"),
                (["-i", "final.bin"], "an output of run \(id), not an input of it"),
            ] {
                let refused = try await mlpack(["runs", "link", id] + arguments, cwd: root)
                #expect(
                    refused.status == 2 && refused.errLines.count == 1 && refused.err.contains(problem), "\(refused)")
            }
            try box.write("project/pre.bin", "8")
            let changed = try await mlpack(["runs", "link", id, "-i", "pre.bin"], cwd: root)
            #expect(changed.status == 2 && changed.err.contains("with other content"), "\(changed)")
            let none = try await mlpack(["runs", "link", id], cwd: root)
            #expect(none.status == 2, "\(none)")
        }
    }

    /// Issue 24: a costly pretraining had to be replayed to check a fine-tuning.
    @Test("verify --rebuild --from RUN replays from that run on, the earlier runs' checkpoints taken from the pack")
    func rebuildFrom() async throws {
        try await withSandbox { box in
            let project = try await recordTwoStages(in: box)
            let (packed, unpacked) = (box.path("with.mlpack"), box.path("without.mlpack"))
            for (pack, extra) in [(packed, [String]()), (unpacked, ["--no-checkpoints"])] {
                let made = try await mlpack(
                    ["create", "--output", pack, "--output-of", project.finalWeights, "--unsigned"] + extra,
                    cwd: project.root)
                #expect(made.status == 0, "\(made)")
            }
            let rebuild = ["--rebuild", "--python-env", "host", "--allow-unsigned"]
            let from = try await mlpack(["verify", packed] + rebuild + ["--from", "finetune", "--json"])
            #expect(from.status == 0, "\(from)")
            let report = try #require(try JSONSerialization.jsonObject(with: from.stdout) as? [String: Any])
            let runs = (report["runs"] as? [[String: Any]] ?? []).map { "\($0["id"]!) \($0["status"]!)" }
            #expect(runs == ["\(project.runIds[0]) from the pack", "\(project.runIds[1]) ok"], "\(runs)")
            #expect(report["verdict"] as? String == "reproduced")

            let byPrefix = try await mlpack(
                ["verify", packed] + rebuild + ["--from", String(project.runIds[1].prefix(22))])
            #expect(byPrefix.status == 0, "\(byPrefix)")
            let left = try await mlpack(["verify", unpacked] + rebuild + ["--from", "finetune"])
            #expect(left.status == 2 && left.err.contains("is not in the pack (left to be rebuilt)"), "\(left)")
            let unknown = try await mlpack(["verify", packed] + rebuild + ["--from", "nope"])
            #expect(unknown.status == 2 && unknown.err.contains("pretrain (\(project.runIds[0]))"), "\(unknown)")
            let alone = try await mlpack(["verify", packed, "--allow-unsigned", "--from", "finetune"])
            #expect(alone.status == 2, "--from goes with --rebuild: \(alone)")
        }
    }

    /// Issue 24: with two snapshots on one side, every file was "changed" (its path carried
    /// the snapshot folder).
    @Test("diff pairs code snapshots by run: the shared stage is unchanged, the new stage one added line")
    func diffComparesSnapshotsPerRun() async throws {
        try await withSandbox { box in
            let project = try await recordTwoStages(in: box)
            let (one, two) = (box.path("pretrain.mlpack"), box.path("final.mlpack"))
            for (pack, output) in [(one, project.root + "/checkpoints/pre.weights"), (two, project.finalWeights)] {
                let made = try await mlpack(
                    ["create", "--output", pack, "--output-of", output, "--unsigned"], cwd: project.root)
                #expect(made.status == 0, "\(made)")
            }
            struct Diff: Decodable {
                struct Change: Decodable, Equatable {
                    var name: String
                    var change: String
                }
                var code: [Change]
                var codeFilesUnchanged: Int
            }
            let diff = try decodeJSON(Diff.self, try await mlpack(["diff", one, two, "--json"]))
            #expect(diff.code == [Diff.Change(name: "run finetune", change: "added")], "\(diff.code)")
            #expect(diff.codeFilesUnchanged == 2, "train.py and .gitignore of pretrain")
            let text = try await mlpack(["diff", one, two])
            #expect(text.out.contains("code: 1 changed (2 files unchanged)"), "\(text.out)")
            #expect(text.out.contains("added    run finetune  code/"), "\(text.out)")

            // Both sides with two stages, the second stage edited again: only its train.py.
            try box.write("project/train.py", Self.trainV2 + "# tuned\n")
            let again = try await mlpack(
                [
                    "run", "--name", "finetune", "-i", "dataset", "-i", "checkpoints/pre.weights", "--", "python3",
                    "train.py", "data=dataset", "init=checkpoints/pre.weights", "out=final2.weights",
                ], cwd: project.root)
            #expect(again.status == 0, "\(again)")
            let three = box.path("final2.mlpack")
            let made = try await mlpack(
                ["create", "--output", three, "--output-of", project.root + "/final2.weights", "--unsigned"],
                cwd: project.root)
            #expect(made.status == 0, "\(made)")
            let edited = try decodeJSON(Diff.self, try await mlpack(["diff", two, three, "--json"]))
            #expect(edited.code == [Diff.Change(name: "run finetune: train.py", change: "changed")], "\(edited.code)")
            #expect(edited.codeFilesUnchanged == 3)
        }
    }

    /// Issue 24: a same-size change was found only while packing, and the abandoned pack
    /// writer crashed the process (SIGILL in libdispatch).
    @Test(
        "a recorded file changed since, at its size or another, is a one-line error and leaves no pack",
        arguments: ["checkpoints/pre.weights", "final.weights"], [true, false])
    func changedRecordedFile(file: String, sameSize: Bool) async throws {
        try await withSandbox { box in
            let project = try await recordTwoStages(in: box)
            let changed = String(repeating: sameSize ? "0" : "00", count: 64) + "\n"
            try box.write("project/" + file, changed)
            let pack = box.path("lineage.mlpack")
            let create = try await mlpack(
                ["create", "--output", pack, "--output-of", project.finalWeights, "--unsigned"], cwd: project.root)
            #expect(create.status == 2, "\(create)")
            #expect(create.errLines.count == 1 && create.err.contains(file), "\(create)")
            #expect(!create.err.contains("crashed"), "\(create)")
            #expect(!FileManager.default.fileExists(atPath: pack))
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: box.root).allSatisfy { !$0.contains(".mlpack") })
        }
    }

    @Test("a code object of the run store changed at its size is a one-line error, not a crash")
    func changedStoreObject() async throws {
        try await withSandbox { box in
            let project = try await recordTwoStages(in: box)
            try box.write("project/probe.py", Self.trainV1)
            let object = project.root + "/.mlpack/objects/sha256/" + (try await sha256sum(box.path("project/probe.py")))
            #expect(FileManager.default.fileExists(atPath: object))
            try Self.trainV1.replacingOccurrences(of: "0.5", with: "0.9").write(
                toFile: object, atomically: true, encoding: .utf8)
            let pack = box.path("lineage.mlpack")
            let create = try await mlpack(
                ["create", "--output", pack, "--output-of", project.finalWeights, "--unsigned"], cwd: project.root)
            #expect(create.status == 2 && create.errLines.count == 1, "\(create)")
            #expect(!FileManager.default.fileExists(atPath: pack))
        }
    }

    @Test(
        "the two-stage lineage is found from the final weights alone; the unrelated run is not packed; stage 1's code is exact"
    )
    func twoStages() async throws {
        try await withSandbox { box in
            let project = try await recordTwoStages(in: box)
            let (pretrain, finetune, unrelated) = (project.runIds[0], project.runIds[1], project.runIds[2])
            let pack = box.path("lineage.mlpack")
            // From another folder, naming only the final weights.
            let create = try await mlpack(
                [
                    "create", "--output", pack, "--output-of", project.finalWeights, "--unsigned", "--name", "demo",
                    "--atol", "1e-6", "--rtol", "0", "--metric-tolerance", "accuracy=0.01",
                ], cwd: box.root)
            #expect(create.status == 0, "\(create)")

            let report = try await mlpack(["inspect", pack, "--json"])
            #expect(report.status == 0, "\(report)")
            let json = try #require(try JSONSerialization.jsonObject(with: report.stdout) as? [String: Any])
            let lineage = try #require(json["lineage"] as? [[String: Any]])
            #expect(lineage.map { $0["run"] as? String } == [pretrain, finetune])
            let files = (json["files"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
            #expect(files.contains("runs/\(pretrain).json") && files.contains("runs/\(finetune).json"))
            #expect(!files.contains { $0.contains(unrelated) }, "the unrelated run must not be packed")
            #expect(files.contains("artifacts/final.weights"))
            #expect(files.contains("artifacts/checkpoints/\(pretrain)/pre.weights"))
            #expect(files.contains("refs/dataset.json") && files.contains("refs/dataset.sha256"))
            #expect(
                !files.contains { $0.hasPrefix("inputs/") || $0.hasSuffix(".csv") }, "data is referenced, not copied")

            // The text graph names both runs, the checkpoint's producer and the commands.
            let text = try await mlpack(["inspect", pack])
            #expect(text.out.contains("from run \(pretrain)"), "\(text.out)")
            #expect(text.out.contains("$ python3 train.py data=dataset init=checkpoints/pre.weights out=final.weights"))

            // Stage 1's code is exactly what ran, although train.py was edited before stage 2.
            let extract = try await mlpack(["extract", pack, "--to", box.path("out")])
            #expect(extract.status == 0, "\(extract)")
            let snapshots = try FileManager.default.contentsOfDirectory(atPath: box.path("out/code")).filter {
                !$0.hasSuffix(".json")
            }
            let trains = try snapshots.map {
                String(decoding: try readBytes(box.path("out/code/\($0)/train.py")), as: UTF8.self)
            }
            #expect(Set(trains) == [Self.trainV1, Self.trainV2])
            let records = try [pretrain, finetune].map {
                try JSONSerialization.jsonObject(with: Data(try readBytes(box.path("out/runs/\($0).json"))))
                    as! [String: Any]
            }
            let codes = records.map { (($0["code"] as? [String: Any])?["treeDigest"] as? String ?? "").prefix(12) }
            #expect(
                try String(decoding: readBytes(box.path("out/code/\(codes[0])/train.py")), as: UTF8.self)
                    == Self.trainV1)
            #expect(
                try String(decoding: readBytes(box.path("out/code/\(codes[1])/train.py")), as: UTF8.self)
                    == Self.trainV2)
            #expect((((records[1]["code"] as? [String: Any])?["git"]) as? [String: Any])?["dirty"] as? Bool == true)

            // The card names the output and the tolerances a rebuild must meet.
            let card =
                try JSONSerialization.jsonObject(with: Data(try readBytes(box.path("out/pack.json")))) as! [String: Any]
            let output = try #require((card["outputs"] as? [[String: Any]])?.first)
            #expect(output["path"] as? String == "artifacts/final.weights")
            let tolerance = output["tolerance"] as? [String: Any]
            #expect(tolerance?["atol"] as? Double == 1e-6)
            #expect((tolerance?["metrics"] as? [String: Double])?["accuracy"] == 0.01)
            #expect(card["runs"] as? [String] == [pretrain, finetune])

            #expect(try await mlpack(["verify", pack, "--allow-unsigned"]).status == 0)
        }
    }

    @Test("--no-checkpoints leaves the checkpoint to be rebuilt; a file no run wrote is a usage error")
    func noCheckpoints() async throws {
        try await withSandbox { box in
            let project = try await recordTwoStages(in: box)
            let pack = box.path("slim.mlpack")
            let create = try await mlpack([
                "create", "--output", pack, "--output-of", project.finalWeights, "--no-checkpoints", "--unsigned",
            ])
            #expect(create.status == 0, "\(create)")
            let inspect = try await inspectJSON(pack)
            #expect(!inspect.files.contains { $0.role == "checkpoint" })
            #expect(inspect.files.contains { $0.path == "artifacts/final.weights" && $0.role == "weights" })

            let stranger = try box.write("stranger.weights", "nobody wrote me\n")
            let refused = try await mlpack([
                "create", "--output", box.path("x.mlpack"), "--output-of", stranger, "--unsigned",
            ])
            #expect(refused.status == 2, "\(refused)")
            #expect(refused.err.contains("no recorded run wrote"), "\(refused)")
            #expect(!exists(box.path("x.mlpack")))
        }
    }

    @Test("the pack's RO-Crate view validates as a Process Run Crate (offline, context inlined)")
    func roCrateValidates() async throws {
        try await withSandbox { box in
            let project = try await recordTwoStages(in: box)
            let pack = box.path("lineage.mlpack")
            let create = try await mlpack([
                "create", "--output", pack, "--output-of", project.finalWeights, "--unsigned", "--name", "demo",
            ])
            #expect(create.status == 0, "\(create)")
            try box.mkdir("bag")
            try await must("tar", ["--zstd", "-xf", pack, "-C", box.path("bag")])
            let crate = String(decoding: try readBytes(box.path("bag/demo/data/ro-crate-metadata.json")), as: UTF8.self)
            #expect(crate.contains("CreateAction"))
            let validate = try await run(
                "python3", [Repo.root + "/fixtures/ro-crate/validate-offline.py", box.path("bag/demo")], timeout: 300)
            #expect(validate.status == 0, "\(validate)")
        }
    }
}
