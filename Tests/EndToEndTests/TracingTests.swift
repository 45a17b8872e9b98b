import Foundation
import TestSupport
import Testing

/// Zero-tax lineage: plain `mlpack run -- …`, no `-i`, and the lineage is whole.
@Suite("Tracing by default")
struct TracingTests {
    /// How the fine-tuning stage reads the checkpoint the first stage wrote.
    enum Reader: String, CaseIterable, Sendable {
        case direct, multiprocessingWorker, subprocessChild, shellScript

        var command: [String] {
            switch self {
            case .shellScript: ["sh", "finetune.sh"]
            default: ["python3", "finetune.py", rawValue]
            }
        }
    }

    static let pretrain = """
        import os
        import numpy as np
        os.makedirs("checkpoints", exist_ok=True)
        np.save("checkpoints/pre.npy", np.arange(16, dtype=np.float64))
        """

    static let finetune = """
        import multiprocessing, subprocess, sys
        import numpy as np

        def load():
            return np.load("checkpoints/pre.npy")

        def in_worker(queue):
            queue.put(load())

        if __name__ == "__main__":
            how = sys.argv[1] if len(sys.argv) > 1 else "direct"
            if how == "multiprocessingWorker":
                queue = multiprocessing.get_context("fork").Queue()
                worker = multiprocessing.get_context("fork").Process(target=in_worker, args=(queue,))
                worker.start(); weights = queue.get(); worker.join()
            elif how == "subprocessChild":
                subprocess.run([sys.executable, "-c", "import numpy as np; np.save('checkpoints/copy.npy', np.load('checkpoints/pre.npy') + 1)"], check=True)
                weights = np.load("checkpoints/copy.npy") - 1
            else:
                weights = load()
            np.save("final.npy", weights * 2)
        """

    @Test(
        "two stages recorded with plain mlpack run: the pack holds both runs and both code versions, and rebuilds",
        arguments: Reader.allCases)
    func twoStagesWithoutDeclaredInputs(reader: Reader) async throws {
        try await withSandbox { box in
            let project = try box.mkdir("proj")
            try box.write("proj/pretrain.py", Self.pretrain)
            try box.write("proj/finetune.py", Self.finetune)
            try box.write("proj/finetune.sh", "exec python3 finetune.py direct\n")
            try box.write("proj/.gitignore", "checkpoints/\nfinal.npy\n")
            try await must("git", ["init", "-q"], cwd: project)
            try await must("git", ["add", "."], cwd: project)
            let first = try await mlpack(["run", "--", "python3", "pretrain.py"], cwd: project)
            #expect(first.status == 0, "\(first)")
            // The code is edited between the stages: two code versions.
            try box.write("proj/finetune.py", Self.finetune + "# tuned\n")
            let second = try await mlpack(["run", "--"] + reader.command, cwd: project)
            #expect(second.status == 0, "\(second)")
            #expect(!second.err.contains("without the read tracer"), "\(second)")

            let pack = box.path("two.mlpack")
            let create = try await mlpack(
                ["create", "--output", pack, "--output-of", "final.npy", "--unsigned"], cwd: project)
            #expect(create.status == 0, "\(create)")
            let files = try await inspectJSON(pack).files.map(\.path)
            #expect(files.filter { $0.hasPrefix("runs/") }.count == 2, "\(files)")
            #expect(Set(files.filter { $0.hasPrefix("code/") && $0.hasSuffix(".json") }).count == 2, "\(files)")

            let rebuild = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--workdir", box.path("w"),
            ])
            #expect(rebuild.status == 0, "\(rebuild)")
            #expect(rebuild.out.contains("REPRODUCED"), "\(rebuild)")
        }
    }

    @Test("a dataset folder outside the project, read file by file, is one folder data reference that rebuilds")
    func datasetOutsideTheProject() async throws {
        try await withSandbox { box in
            let dataset = try box.mkdir("datasets/digits")
            for number in 0..<1000 { try box.write("datasets/digits/\(number / 100)/\(number).txt", "\(number)\n") }
            let project = try box.mkdir("proj")
            try box.write(
                "proj/train.py",
                """
                import glob, sys
                total = sum(int(open(path).read()) for path in sorted(glob.glob(sys.argv[1] + "/*/*.txt")))
                open("total.txt", "w").write(str(total))
                """)
            try box.write("proj/.gitignore", "total.txt\n")
            try await must("git", ["init", "-q"], cwd: project)
            try await must("git", ["add", "."], cwd: project)
            let recorded = try await mlpack(["run", "--", "python3", "train.py", dataset], cwd: project)
            #expect(recorded.status == 0, "\(recorded)")
            let pack = box.path("data.mlpack")
            let create = try await mlpack(
                ["create", "--output", pack, "--output-of", "total.txt", "--unsigned"], cwd: project)
            #expect(create.status == 0, "\(create)")
            let references = try await inspectJSON(pack).files.filter { $0.role == "data-ref" }.map(\.path)
            #expect(references.sorted() == ["refs/digits.json", "refs/digits.sha256"], "\(references)")

            // The listing checks the folder with sha256sum alone.
            let out = try box.mkdir("extracted")
            try await must("tar", ["--zstd", "-xf", pack, "-C", out])
            let listing = out + "/data/data/refs/digits.sha256"
            let check = try await run("sha256sum", ["--strict", "-c", listing], cwd: dataset)
            #expect(check.status == 0, "\(check)")
            #expect(check.out.split(separator: "\n").count == 1000)

            let rebuild = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--workdir", box.path("w"),
            ])
            #expect(rebuild.status == 0, "\(rebuild)")
        }
    }
}

extension TracingTests {
    @Test("many files read in a folder of the project are one folder input; a file an earlier run wrote stays linked")
    func manyReadsInTheProject() async throws {
        try await withSandbox { box in
            let project = try box.mkdir("proj")
            for number in 0..<150 { try box.write("proj/data/raw/\(number / 50)/\(number).txt", "\(number)\n") }
            try box.write("proj/prepare.py", "open('data/offset.txt', 'w').write('7')\n")
            try box.write(
                "proj/train.py",
                """
                import glob
                offset = int(open("data/offset.txt").read())
                total = sum(int(open(path).read()) for path in sorted(glob.glob("data/raw/*/*.txt")))
                open("total.txt", "w").write(str(total + offset))
                """)
            try box.write("proj/.gitignore", "data/\ntotal.txt\n")
            try await must("git", ["init", "-q"], cwd: project)
            try await must("git", ["add", "."], cwd: project)
            #expect(try await mlpack(["run", "--", "python3", "prepare.py"], cwd: project).status == 0)
            let train = try await mlpack(["run", "--", "python3", "train.py"], cwd: project)
            #expect(train.status == 0, "\(train)")
            let runs = try await mlpack(["runs", "--json"], cwd: project)
            let ids = try #require(
                (try JSONSerialization.jsonObject(with: Data(runs.out.utf8)) as? [String: Any])?["runs"]
                    as? [[String: Any]]
            ).compactMap { $0["id"] as? String }
            let shown = try await mlpack(["runs", "show", ids[1], "--json"], cwd: project)
            let record = try #require(try JSONSerialization.jsonObject(with: Data(shown.out.utf8)) as? [String: Any])
            let inputs = try #require(record["inputs"] as? [[String: Any]])
            let byPath = Dictionary(uniqueKeysWithValues: inputs.map { ($0["path"] as? String ?? "", $0) })
            #expect(byPath.keys.sorted() == ["data/offset.txt", "data/raw"], "\(shown.out)")
            #expect(byPath["data/raw"]?["kind"] as? String == "directory")
            #expect(byPath["data/raw"]?["fileCount"] as? Int == 150)
            #expect(byPath["data/offset.txt"]?["producedBy"] as? String == ids[0])
        }
    }
}
