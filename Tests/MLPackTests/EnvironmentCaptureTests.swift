import Foundation
import Testing

@testable import MLPack

@Suite("Environment capture")
struct EnvironmentCaptureTests {
    @Test("This machine: no GPU, no CUDA, python3 with numpy")
    func currentMachine() throws {
        let (platform, host) = EnvironmentCapture.capture()
        #expect(platform.gpus.isEmpty)
        #expect(platform.cuda == nil)
        let python = try #require(platform.python)
        #expect(python.version.hasPrefix("3."))
        #expect(python.packages.contains { $0.name.lowercased() == "numpy" })
        #expect(python.torch == nil)
        #expect(platform.arch != nil && platform.kernel != nil && platform.libc?.hasPrefix("glibc ") == true)
        #expect(platform.os.id != nil)
        #expect(platform.cpu.model != nil && !platform.cpu.flags.isEmpty)
        #expect((platform.memoryBytes ?? 0) > 0)
        #expect(host.pythonExecutable?.hasPrefix("/") == true)
        #expect(host.hostname != nil)
        // Who and where stay in the host record.
        let text = String(decoding: platform.platformJSON(), as: UTF8.self)
        if let home = host.home, home.count > 1 { #expect(!text.contains(home + "/"), "the home folder leaked") }
        if let executable = host.pythonExecutable { #expect(!text.contains(executable)) }
    }

    @Test("Two captures of the same machine give the same bytes and id")
    func deterministic() {
        let first = EnvironmentCapture.capture().platform
        let second = EnvironmentCapture.capture().platform
        #expect(EnvironmentDiff(first, second).entries == [])
        #expect(first.platformJSON() == second.platformJSON(), "the same record, in the same bytes")
        #expect(first.id == second.id)
        #expect(first.id.count == 12 && first.id.allSatisfy(\.isHexDigit))
    }

    @Test("A missing interpreter leaves python out, and nothing fails")
    func missingPython() {
        let (platform, host) = EnvironmentCapture.capture(python: "/nonexistent/python3")
        #expect(platform.python == nil)
        #expect(host.pythonExecutable == "/nonexistent/python3")
        let failing = EnvironmentCapture.capture(python: "/bin/false")
        #expect(failing.platform.python == nil)
    }

    @Test("A slow command is cut off by its timeout")
    func timeout() {
        // Behaviour, not speed: a 10-minute sleep must come back long before it would end.
        let started = Date()
        #expect(ChildProcess.run(["sleep", "600"], timeout: 0.3) == nil)
        #expect(Date().timeIntervalSince(started) < 300)
        #expect(ChildProcess.run(["echo", "hi"]) == "hi\n")
        #expect(ChildProcess.run(["no-such-program-mlpack"]) == nil)
    }

    @Test("Pack files: platform.json, python-packages.txt (pip freeze format), host.json; id from platform.json")
    func packFiles() throws {
        let (platform, host) = try EnvironmentFixtures.gpuCapture()
        let files = platform.packFiles(host: host)
        #expect(files.map(\.name) == ["platform.json", "python-packages.txt", "host.json"])
        #expect(files.map(\.role) == [.env, .env, .host])
        #expect(files[0].bytes == platform.platformJSON())
        #expect(platform.id == String(SHA256Hasher.hex(files[0].bytes).prefix(12)))
        let packages = String(decoding: files[1].bytes, as: UTF8.self)
        #expect(packages == (try EnvironmentFixtures.text("pip-freeze.txt")), "the same lines as pip freeze")
        #expect(try JSONText.decode(HostRecord.self, from: files[2].bytes) == host)
        #expect(platform.packFiles(host: nil).map(\.name) == ["platform.json", "python-packages.txt"])
    }

    @Test("A record of an unknown format version is refused")
    func formatVersion() throws {
        var json = String(decoding: try EnvironmentFixtures.gpuCapture().platform.platformJSON(), as: UTF8.self)
        json = json.replacingOccurrences(of: "\"formatVersion\" : 1", with: "\"formatVersion\" : 2")
        #expect(throws: (any Error).self) { try EnvironmentCapture.decode(Array(json.utf8)) }
    }

    @Test(
        "Lock files in the code snapshot are found by name, with their digests",
        arguments: [
            ("requirements.txt", true), ("requirements-dev.txt", true), ("requirements/base.txt", true),
            ("sub/environment.yml", true), ("environment.yaml", true), ("conda-lock.yml", true),
            ("linux-64.conda-lock.yml", true), ("poetry.lock", true), ("Pipfile.lock", true), ("uv.lock", true),
            ("pyproject.toml", true), ("setup.cfg", true), ("train.py", false), ("notes.txt", false),
            ("docs/requirements.md", false), ("myrequirements.txt", false),
        ])
    func lockFiles(path: String, isLock: Bool) {
        let found = LockFiles.find(in: [(path: path, sha256: String(repeating: "a", count: 64))])
        #expect(found == (isLock ? [.init(path: path, sha256: String(repeating: "a", count: 64))] : []))
    }

    @Test("capture(codeFiles:) records lock files sorted by path")
    func lockFilesInCapture() {
        let files: [(path: String, sha256: String)] = [
            ("uv.lock", String(repeating: "b", count: 64)), ("train.py", String(repeating: "c", count: 64)),
            ("requirements.txt", String(repeating: "d", count: 64)),
        ]
        var raw = RawCaptures()
        raw.codeFiles = files
        #expect(raw.build().platform.lockFiles.map(\.path) == ["requirements.txt", "uv.lock"])
    }

    @Test("Conda: the environment's name, never its path")
    func conda() {
        #expect(
            RawCaptures.condaEnvironment([
                "CONDA_DEFAULT_ENV": "torch-2.4", "CONDA_PREFIX": "/home/a/miniconda3/envs/torch-2.4",
            ]) == "torch-2.4")
        #expect(RawCaptures.condaEnvironment(["CONDA_PREFIX": "/home/a/miniconda3/envs/exp"]) == "exp")
        #expect(RawCaptures.condaEnvironment(["CONDA_DEFAULT_ENV": "/srv/envs/shared"]) == "shared")
        #expect(RawCaptures.condaEnvironment([:]) == nil)
    }
}
