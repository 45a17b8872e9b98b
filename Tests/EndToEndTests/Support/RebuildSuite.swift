import Foundation
import TestSupport
import Testing

/// What the rebuild suites share: small git projects, runs recorded in them, packs made of them.
protocol RebuildSuite {}

extension RebuildSuite {
    /// A git project with `files`, committed.
    func project(in box: Sandbox, _ files: [String: String]) async throws -> String {
        let root = try box.mkdir("project")
        for (path, text) in files { try box.write("project/" + path, text) }
        for arguments in [
            ["init", "-q"], ["add", "-A"],
            ["-c", "user.name=T", "-c", "user.email=t@example.org", "commit", "-qm", "v1"],
        ] {
            try await must("git", arguments, cwd: root)
        }
        return root
    }

    /// The demo project (numpy MLP, safetensors): pretrain, edit the code, fine-tune.
    func demoPack(in box: Sandbox) async throws -> (pack: String, project: String) {
        let demo = Repo.root + "/fixtures/demo-project/"
        var files: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: demo) {
            files[name] = String(decoding: try readBytes(demo + name), as: UTF8.self)
        }
        files[".gitignore"] = "dataset/\ncheckpoints/\n*.safetensors\n*.json\n"
        let root = try await project(in: box, files)
        try await must("python3", ["make_data.py", "--out", "dataset"], cwd: root)
        try await record(
            [
                "--name", "pretrain", "-i", "dataset", "--metrics", "pretrain-metrics.json", "--",
                "python3", "train.py", "--data", "dataset", "--epochs", "8", "--out",
                "checkpoints/pretrain.safetensors", "--metrics", "pretrain-metrics.json",
            ], in: root)
        try box.write(
            "project/train.py",
            String(decoding: try readBytes(root + "/train.py"), as: UTF8.self).replacingOccurrences(
                of: "default=0.5", with: "default=0.2"))
        try await record(
            [
                "--name", "finetune", "-i", "dataset", "-i", "checkpoints/pretrain.safetensors", "--metrics",
                "metrics.json", "--",
                "python3", "train.py", "--data", "dataset", "--init", "checkpoints/pretrain.safetensors", "--epochs",
                "4",
                "--out", "finetuned.safetensors", "--metrics", "metrics.json",
            ], in: root)
        let pack = box.path("spirals.mlpack")
        try await create(
            pack, from: root, of: "finetuned.safetensors",
            ["--atol", "1e-6", "--metric-tolerance", "test_accuracy=0.01"])
        return (pack, root)
    }

    /// A training seeded from the clock: its weights and loss differ on every run. `name`,
    /// `argument` (to train.py, which ignores it) and `title` are text for the pack to carry.
    func clockSeededPack(
        in box: Sandbox, name: String? = nil, argument: String? = nil, title: String? = nil
    )
        async throws -> String
    {
        let root = try await project(
            in: box,
            [
                "train.py": """
                import json, time
                import numpy as np
                from safetensors.numpy import save_file
                rng = np.random.default_rng(time.time_ns())
                w = rng.standard_normal((16, 8)).astype(np.float32)
                save_file({"w": w, "steps": np.arange(4, dtype=np.int64)}, "model.safetensors")
                json.dump({"loss": float(np.abs(w).mean()), "seconds": time.time() % 1}, open("metrics.json", "w"))

                """, ".gitignore": "*.safetensors\nmetrics.json\n",
            ])
        try await record(
            (name.map { ["--name", $0] } ?? []) + ["--metrics", "metrics.json", "--", "python3", "train.py"]
                + (argument.map { [$0] } ?? []), in: root)
        let pack = box.path("clock.mlpack")
        try await create(pack, from: root, of: "model.safetensors", title.map { ["--title", $0] } ?? [])
        return pack
    }

    func record(_ arguments: [String], in root: String) async throws {
        let result = try await mlpack(["run"] + arguments, cwd: root)
        guard result.status == 0 else { throw TestError("mlpack run: \(result)") }
    }

    func create(_ output: String, from root: String, of weights: String, _ extra: [String] = []) async throws {
        let result = try await mlpack(
            ["create", "--output", output, "--output-of", weights, "--unsigned"] + extra, cwd: root)
        guard result.status == 0 else { throw TestError("mlpack create: \(result)") }
    }

    func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(readBytes(path))) as? [String: Any])
    }

    /// The record of the project's only (or first) run, as JSON to edit the way an attacker
    /// would before `create --output-of`, saved again under its (possibly new) id.
    func editRecord(in root: String, _ edit: (inout [String: Any]) -> Void) throws {
        let folder = root + "/.mlpack/runs"
        let name = try #require(
            try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".json") }.sorted().first)
        var record = try json(folder + "/" + name)
        edit(&record)
        let id = try #require(record["id"] as? String)
        try FileManager.default.removeItem(atPath: folder + "/" + name)
        try writeBytes(
            folder + "/" + id + ".json",
            Array(try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])))
    }
}
