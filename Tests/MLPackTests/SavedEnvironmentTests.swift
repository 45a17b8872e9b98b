import Foundation
import TestSupport
import Testing

@testable import MLPack

/// `create --env`: a pack records a capture saved elsewhere (the training machine) instead
/// of probing the machine it is made on.
@Suite("Saved environment in create")
struct SavedEnvironmentTests {
    /// The GPU host's capture with variables a hand-edited file might hold, saved as
    /// `mlpack env --json` saves it.
    static func savedCapture(
        in dir: TempDir, name: String = "gpu-env.json"
    ) throws -> (path: String, platform: EnvironmentCapture) {
        var platform = try EnvironmentFixtures.gpuCapture().platform
        platform.environment = [
            "OMP_NUM_THREADS": "8", "HF_TOKEN": "hf_abcdefghijklmnopqrstuvwxyz0123", "TF_API_KEY": "x",
            "CUDA_VISIBLE_DEVICES": "0",
        ]
        return (try dir.write(name, platform.platformJSON()), platform)
    }

    /// The env/ items of a pack: file name → bytes, and the env folder.
    static func environmentItems(_ pack: String) throws -> (folder: String, files: [String: [UInt8]]) {
        let items = try PackItems.read(pack) { $0.hasPrefix("env/") }.items
        let folders = Set(items.map { $0.item.path.split(separator: "/").prefix(2).joined(separator: "/") })
        let folder = try #require(folders.first, "no env/ folder")
        #expect(folders.count == 1)
        return (
            folder,
            Dictionary(uniqueKeysWithValues: items.map { (String($0.item.path.dropFirst(folder.count + 1)), $0.bytes) })
        )
    }

    @Test("the saved platform is recorded with this pack's lock files, secrets filtered, no host record")
    func recordsSavedCapture() throws {
        try withTemporaryDirectory { dir in
            try makeProject(in: dir)
            let requirements = try dir.write("project/requirements.txt", "torch==2.11.0\n")
            let (saved, platform) = try Self.savedCapture(in: dir)
            var options = createOptions(dir, weights: [])
            options.environment = saved
            let created = try PackCreator.create(options)
            #expect(try PackVerifier.verify(dir.path("demo.mlpack"), options: allowUnsigned()).verdict == .verified)

            let (folder, files) = try Self.environmentItems(dir.path("demo.mlpack"))
            #expect(
                Set(files.keys) == ["platform.json", "python-packages.txt"],
                "no host.json: the saved record names no host")
            let recorded = try EnvironmentCapture.decode(try #require(files["platform.json"]))
            var expected = platform
            expected.lockFiles = [.init(path: "requirements.txt", sha256: sha256Hex(try readBytes(requirements)))]
            expected.environment = ["OMP_NUM_THREADS": "8", "CUDA_VISIBLE_DEVICES": "0"]
            #expect(recorded == expected)
            #expect(folder == "env/" + expected.id)
            #expect(files["python-packages.txt"] == expected.pythonPackagesText())
            #expect(recorded.gpus.first?.name == "NVIDIA H100 80GB HBM3")
            // 7 project files + requirements.txt, snapshot + card, platform + packages
            #expect(created.items == 8 + 2 + 2)

            // A pack is a source too: the second pack records the same platform.
            var again = createOptions(dir, output: "again.mlpack", weights: [])
            again.environment = dir.path("demo.mlpack")
            _ = try PackCreator.create(again)
            #expect(try Self.environmentItems(dir.path("again.mlpack")).files == files)
        }
    }

    @Test(
        "a saved record gets a probe's rules: conda name only, flags and packages sorted and unique, no home in a variable"
    )
    func normalised() throws {
        try withTemporaryDirectory { dir in
            try makeProject(in: dir)
            var platform = try EnvironmentFixtures.gpuCapture().platform
            platform.conda = "/opt/conda/envs/train"
            platform.cpu.flags = ["sse2", "avx2", "sse2", "aes"]
            let packages = try #require(platform.python?.packages)
            platform.python?.packages = packages.reversed() + [packages[0]]
            platform.environment = ["XLA_FLAGS": "--xla_dump_to=/home/alice/dump", "OMP_NUM_THREADS": "8"]
            // `env --json --private`'s form: the saved host's home is never recorded either.
            struct Saved: Encodable { var platform: EnvironmentCapture; var host: HostRecord }
            let bytes = try JSONText.encode(
                Saved(platform: platform, host: HostRecord(hostname: "gpu7", user: "alice", home: "/home/alice")))
            var options = createOptions(dir, weights: [])
            options.environment = try dir.write("private.json", bytes)
            _ = try PackCreator.create(options)
            let recorded = try EnvironmentCapture.decode(
                try #require(try Self.environmentItems(dir.path("demo.mlpack")).files["platform.json"]))
            #expect(recorded.conda == "train")
            #expect(recorded.cpu.flags == ["aes", "avx2", "sse2"])
            #expect(recorded.python?.packages == packages)
            #expect(recorded.environment == ["OMP_NUM_THREADS": "8"])
        }
    }

    @Test(
        "a bad source is a clear error and writes nothing",
        arguments: ["missing", "version2", "newline", "pip option", "path", "escape", "folder"])
    func badSources(kind: String) throws {
        try withTemporaryDirectory { dir in
            try makeProject(in: dir)
            var options = createOptions(dir, weights: [])
            var expected: MLPackError
            switch kind {
            case "missing":
                options.environment = dir.path("nope.json")
                expected = .io(
                    path: dir.path("nope.json"),
                    reason: "no such file (expected a pack, a JSON file from `mlpack env --json`, or \"current\")")
            case "version2":
                options.environment = try dir.write("v2.json", #"{"formatVersion": 2}"#)
                expected = .io(
                    path: dir.path("v2.json"),
                    reason: "not an environment capture (formatVersion: unsupported formatversion 2)")
            case "newline", "pip option":
                var platform = try EnvironmentFixtures.gpuCapture().platform
                let name = kind == "newline" ? "evil\ntorch" : "-i https://evil.example/simple #"
                platform.python?.packages.append(.init(name: name, version: "1"))
                options.environment = try dir.write("evil.json", platform.platformJSON())
                expected = .io(
                    path: dir.path("evil.json"),
                    reason: "package \(String(reflecting: name)) \"1\" is not a plain name and version")
            case "path", "escape":
                var platform = try EnvironmentFixtures.gpuCapture().platform
                platform.gpus[0].name = kind == "path" ? "/home/alice/gpu" : "H100 \u{1B}]0;owned\u{07}"
                options.environment = try dir.write("odd.json", platform.platformJSON())
                expected = .io(
                    path: dir.path("odd.json"),
                    reason:
                        "gpus.name holds \(kind == "path" ? "a path" : "a control character"), which a pack must not record"
                )
            default:
                options.environment = try dir.makeDirectory("somewhere")
                expected = .io(
                    path: dir.path("somewhere"), reason: "is a folder, not a pack or an environment JSON file")
            }
            #expect(expectMLPackError { _ = try PackCreator.create(options) } == expected)
            #expect(!dir.exists("demo.mlpack"))
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy {
                    !$0.hasPrefix(".mlpack-create-")
                })
        }
    }

    @Test("--env contradicts --python and --output-of; `current` probes as without it")
    func contradictions() throws {
        try withTemporaryDirectory { dir in
            try makeProject(in: dir)
            let (saved, _) = try Self.savedCapture(in: dir)
            var options = createOptions(dir, weights: [])
            options.environment = saved
            options.python = "/usr/bin/python3"
            #expect(
                expectMLPackError { _ = try PackCreator.create(options) }
                    == .usage(
                        "\(input: .environment) and \(input: .python) contradict each other: the saved capture names its Python"
                    ))
            options.python = nil
            options.outputOf = dir.path("project/train.py")
            #expect(
                expectMLPackError { _ = try PackCreator.create(options) }
                    == .usage(
                        "\(input: .environment) does not go with \(input: .outputOf): a lineage brings its runs' environments"
                    ))

            var current = createOptions(dir, weights: [])
            current.environment = EnvironmentSource.currentMachine
            _ = try PackCreator.create(current)
            let files = try PackItems.read(dir.path("demo.mlpack")) { $0.hasPrefix("env/") }.items
            expectEnvironmentItems(files.map { ($0.item.path, $0.item.role, $0.item.sha256) })
        }
    }
}
