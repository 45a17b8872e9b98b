import Foundation
import Testing

@testable import MLPack

@Suite("Environment diff")
struct EnvironmentDiffTests {
    static func entry(_ diff: EnvironmentDiff, _ field: String) -> EnvironmentDiff.Entry? {
        diff.entries.first { $0.field == field }
    }

    @Test("The GPU host against this machine: GPU and torch are major differences")
    func gpuHostAgainstCurrent() throws {
        let gpu = try EnvironmentFixtures.gpuCapture().platform
        let current = EnvironmentCapture.capture().platform
        let diff = EnvironmentDiff(gpu, current)
        let model = try #require(Self.entry(diff, "gpu.model"))
        #expect(model == .init(severity: .major, field: "gpu.model", a: "NVIDIA H100 80GB HBM3", b: "absent"))
        let torch = try #require(Self.entry(diff, "package torch"))
        #expect(torch == .init(severity: .major, field: "package torch", a: "2.11.0+cu130", b: "absent"))
        #expect(
            Self.entry(diff, "cuda.version") == .init(severity: .major, field: "cuda.version", a: "13.0", b: "absent"))
        #expect(Self.entry(diff, "python.version")?.severity == .major)
        #expect(Self.entry(diff, "os")?.severity == .minor)
        #expect(Self.entry(diff, "kernel")?.severity == .minor)
        // Majors first, then by field.
        let severities = diff.entries.map(\.severity)
        #expect(severities == severities.sorted())
        let majors = diff.entries.filter { $0.severity == .major }.map(\.field)
        #expect(majors == majors.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        // The other way round, a and b swap.
        let reverse = EnvironmentDiff(current, gpu)
        #expect(Self.entry(reverse, "gpu.model")?.b == "NVIDIA H100 80GB HBM3")
        #expect(reverse.entries.count == diff.entries.count)
    }

    @Test("A capture against itself has no differences")
    func identical() throws {
        let gpu = try EnvironmentFixtures.gpuCapture().platform
        #expect(EnvironmentDiff(gpu, gpu).entries.isEmpty)
    }

    @Test("Severities: Python minor vs patch, frameworks vs other packages, flags in one entry")
    func severities() throws {
        let a = try EnvironmentFixtures.gpuCapture().platform
        var b = a
        b.python?.version = "3.12.7"
        let packages = b.python!.packages
        b.python?.packages = packages.map { package in
            var package = package
            switch package.name {
            case "numpy": package.version = "2.6.0"
            case "tqdm": package.version = "9.9.9"
            case "nvidia-cudnn-cu13": package.version = "9.20.0.1"
            default: break
            }
            return package
        }
        b.python?.torch = .init(version: "2.11.0+cu128", cuda: "12.8")
        b.cpu.flags.removeAll { $0 == "avx512f" || $0 == "sha_ni" }
        b.cpu.flags.append("sve")
        b.os.version = "24.04.4 LTS (Noble Numbat)"
        b.kernel = "6.8.0-45-generic"
        b.environment["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
        b.environment["LANG"] = "en_US.UTF-8"
        b.gpus.append(b.gpus[0])
        let diff = EnvironmentDiff(a, b)
        let expected: [EnvironmentDiff.Entry] = [
            .init(severity: .major, field: "env CUBLAS_WORKSPACE_CONFIG", a: "absent", b: ":4096:8"),
            .init(severity: .major, field: "gpu.count", a: "1", b: "2"),
            .init(severity: .major, field: "package numpy", a: "2.5.2", b: "2.6.0"),
            .init(severity: .major, field: "package nvidia-cudnn-cu13", a: "9.19.0.56", b: "9.20.0.1"),
            .init(severity: .major, field: "package torch", a: "2.11.0+cu130", b: "2.11.0+cu128"),
            .init(severity: .major, field: "torch.cuda", a: "13.0", b: "12.8"),
            .init(severity: .minor, field: "cpu.flags", a: "only here: avx512f sha_ni", b: "only here: sve"),
            .init(severity: .minor, field: "env LANG", a: "C.UTF-8", b: "en_US.UTF-8"),
            .init(severity: .minor, field: "kernel", a: "6.18.44-fc-v657-gpu", b: "6.8.0-45-generic"),
            .init(
                severity: .minor, field: "os.version", a: "24.04.3 LTS (Noble Numbat)", b: "24.04.4 LTS (Noble Numbat)"),
            .init(severity: .minor, field: "package tqdm", a: "4.70.1", b: "9.9.9"),
            .init(severity: .minor, field: "python.version", a: "3.12.3", b: "3.12.7"),
        ]
        #expect(diff.entries == expected)
        b.python?.version = "3.13.0"
        #expect(Self.entry(EnvironmentDiff(a, b), "python.version")?.severity == .major)
        b.arch = "aarch64"
        #expect(
            Self.entry(EnvironmentDiff(a, b), "cpu.arch")
                == .init(severity: .major, field: "cpu.arch", a: "x86_64", b: "aarch64"))
    }

    @Test("Without Python on one side, frameworks are listed and the rest summed up")
    func noPython() throws {
        let a = try EnvironmentFixtures.gpuCapture().platform
        var b = a
        b.python = nil
        let diff = EnvironmentDiff(a, b)
        #expect(
            Self.entry(diff, "python.version")
                == .init(severity: .major, field: "python.version", a: "3.12.3", b: "absent"))
        #expect(Self.entry(diff, "package torch")?.b == "absent")
        #expect(Self.entry(diff, "package tqdm") == nil)
        #expect(
            Self.entry(diff, "python.packages")
                == .init(severity: .minor, field: "python.packages", a: "197 packages", b: "absent"))
    }
}

@Suite("Environment sources")
struct EnvironmentSourceTests {
    @Test("A saved JSON file, with or without the private wrapper")
    func jsonFile() throws {
        let (platform, host) = try EnvironmentFixtures.gpuCapture()
        try withTemporaryDirectory { dir in
            let plain = try dir.write("env.json", platform.platformJSON())
            #expect(try EnvironmentSource.load(plain) == platform)
            struct Wrapped: Encodable { var platform: EnvironmentCapture; var host: HostRecord }
            let wrapped = try dir.write("private.json", try JSONText.encode(Wrapped(platform: platform, host: host)))
            #expect(try EnvironmentSource.load(wrapped) == platform)
            #expect(try EnvironmentSource.load(EnvironmentFixtures.gpuPlatformJSON) == platform)
        }
    }

    @Test("Bad inputs are usage errors naming the file")
    func badInputs() throws {
        try withTemporaryDirectory { dir in
            let notJSON = try dir.write("bad.json", "hello")
            let other = try dir.write("other.json", #"{"name": "x"}"#)
            for (path, words) in [
                (notJSON, "not an environment capture"), (other, "not an environment capture"),
                (dir.path("missing"), "no such file"), (dir.path, "folder"),
            ] {
                let error = expectMLPackError { _ = try EnvironmentSource.load(path) }
                #expect(error?.category == .usage)
                #expect(error?.description.contains(words) == true, "\(error?.description ?? "")")
                #expect(error?.description.hasPrefix(path) == true)
            }
        }
    }

    @Test("current is this machine")
    func current() throws {
        let current = try EnvironmentSource.load("current")
        #expect(current.gpus.isEmpty)
        #expect(current.python != nil)
    }

    @Test("A pack: its env/<id>/platform.json, checked against its disclosure; PACK#ID picks one of several")
    func pack() throws {
        let gpu = try EnvironmentFixtures.gpuCapture()
        let cpu = EnvironmentCapture.capture().platform
        try withTemporaryDirectory { dir in
            let one = dir.path("one.mlpack")
            let files = gpu.platform.packFiles(host: gpu.host)
            try craftPack(
                at: one, name: "one",
                items: files.map { ("env/\(gpu.platform.id)/\($0.name)", $0.role, $0.bytes, 0o644) })
            #expect(try EnvironmentSource.load(one) == gpu.platform)

            let two = dir.path("two.mlpack")
            try craftPack(
                at: two, name: "two",
                items: [
                    ("env/\(gpu.platform.id)/platform.json", .env, gpu.platform.platformJSON(), 0o644),
                    ("env/\(cpu.id)/platform.json", .env, cpu.platformJSON(), 0o644),
                ])
            let ambiguous = expectMLPackError { _ = try EnvironmentSource.load(two) }
            #expect(
                ambiguous?.description.contains("2 environment captures") == true, "\(ambiguous?.description ?? "")")
            #expect(try EnvironmentSource.load(two + "#" + gpu.platform.id) == gpu.platform)
            #expect(try EnvironmentSource.load(two + "#" + cpu.id.prefix(6)) == cpu)

            let none = dir.path("none.mlpack")
            try craftPack(at: none, name: "none", items: [("notes/a.txt", .note, Array("hi\n".utf8), 0o644)])
            let empty = expectMLPackError { _ = try EnvironmentSource.load(none) }
            #expect(empty?.description.contains("no environment capture") == true)
        }
    }
}
