import Foundation
import TestSupport
import Testing

@testable import MLPack

/// The repository's fixtures folder (never ../shared: the tests must run from a clone).
enum EnvironmentFixtures {
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url.path
            }
            url = url.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }()

    static let gpuHost = repository + "/fixtures/gpu-h100/env"
    static let gpuPlatformJSON = repository + "/fixtures/gpu-h100/platform.json"

    static func text(_ name: String) throws -> String {
        String(decoding: try readBytes(gpuHost + "/" + name), as: UTF8.self)
    }

    static func gpuCapture() throws -> (platform: EnvironmentCapture, host: HostRecord) {
        try RawCaptures(folder: gpuHost).build()
    }
}

/// The parsers on the real captures of a GPU training host (fixtures/gpu-h100/env/).
@Suite("Environment parsers")
struct EnvironmentParserTests {
    @Test("nvidia-smi's query CSV: the H100's name, driver, memory and compute capability; no uuid or bus id")
    func gpuQuery() throws {
        let gpus = GPUParsers.queryCSV(try EnvironmentFixtures.text("nvidia-smi-query.csv"))
        #expect(
            gpus == [
                .init(
                    name: "NVIDIA H100 80GB HBM3", driverVersion: "580.159.04", memoryMiB: 81559,
                    computeCapability: "9.0")
            ])
    }

    @Test("the CSV without header or units, in the probe's column order")
    func gpuQueryNoHeader() {
        let gpus = GPUParsers.queryCSV(
            "0, NVIDIA A100-SXM4-40GB, 535.104.05, 40960, 8.0\n1, NVIDIA A100-SXM4-40GB, 535.104.05, 40960, 8.0\n")
        #expect(gpus.count == 2)
        #expect(
            gpus.first
                == .init(
                    name: "NVIDIA A100-SXM4-40GB", driverVersion: "535.104.05", memoryMiB: 40960,
                    computeCapability: "8.0"))
        #expect(GPUParsers.queryCSV("") == [])
    }

    @Test("the CUDA version from nvidia-smi's header and from its XML")
    func cudaVersion() throws {
        #expect(GPUParsers.cudaVersion(try EnvironmentFixtures.text("nvidia-smi.txt")) == "13.0")
        #expect(GPUParsers.cudaVersion(try EnvironmentFixtures.text("nvidia-smi-q.xml")) == "13.0")
        #expect(GPUParsers.driverVersion(try EnvironmentFixtures.text("nvidia-smi.txt")) == "580.159.04")
        #expect(GPUParsers.nvccVersion(try EnvironmentFixtures.text("nvcc-version.txt")) == "13.0.88")
    }

    @Test("GPUs from the XML, for drivers that cannot be queried for compute_cap")
    func gpuXML() throws {
        let gpus = GPUParsers.xmlGPUs(try EnvironmentFixtures.text("nvidia-smi-q.xml"))
        #expect(gpus == [.init(name: "NVIDIA H100 80GB HBM3", driverVersion: "580.159.04", memoryMiB: 81559)])
    }

    @Test("os-release, uname -a, ldd --version, meminfo")
    func system() throws {
        let os = SystemParsers.osRelease(try EnvironmentFixtures.text("os-release.txt"))
        #expect(
            os
                == .init(
                    id: "ubuntu", versionId: "24.04", version: "24.04.3 LTS (Noble Numbat)",
                    prettyName: "Ubuntu 24.04.3 LTS"))
        let uname = SystemParsers.uname(try EnvironmentFixtures.text("uname.txt"))
        #expect(uname == .init(hostname: "vm", release: "6.18.44-fc-v657-gpu", machine: "x86_64"))
        #expect(
            SystemParsers.uname("Linux 6.1.0-18-arm64 aarch64\n")
                == .init(release: "6.1.0-18-arm64", machine: "aarch64"))
        #expect(SystemParsers.libc(try EnvironmentFixtures.text("ldd-version.txt")) == "glibc 2.39")
        #expect(SystemParsers.libc("glibc 2.36") == "glibc 2.36")
        #expect(SystemParsers.libc("musl libc (x86_64)\nVersion 1.2.4\nDynamic Program Loader\n") == "musl 1.2.4")
        #expect(SystemParsers.memTotal(try EnvironmentFixtures.text("meminfo.txt")) == 131_981_020 * 1024)
    }

    @Test("lscpu and /proc/cpuinfo agree on the CPU")
    func cpu() throws {
        let lscpu = SystemParsers.lscpu(try EnvironmentFixtures.text("lscpu.txt"))
        #expect(lscpu.arch == "x86_64")
        #expect(lscpu.cpu.model == "Intel(R) Xeon(R) Processor")
        #expect(lscpu.cpu.vendor == "GenuineIntel")
        #expect(lscpu.cpu.cores == 16)
        for flag in ["avx512f", "sha_ni", "avx2", "amx_bf16", "fma"] {
            #expect(lscpu.cpu.flags.contains(flag), "\(flag)")
        }
        #expect(lscpu.cpu.flags == lscpu.cpu.flags.sorted())
        let cpuinfo = SystemParsers.cpuinfo(try EnvironmentFixtures.text("cpuinfo-head.txt"))
        #expect(cpuinfo.model == lscpu.cpu.model)
        #expect(cpuinfo.vendor == lscpu.cpu.vendor)
        #expect(cpuinfo.flags == lscpu.cpu.flags)
    }

    @Test("Python: sys.version, pip list, pip freeze and torch's own versions")
    func python() throws {
        let version = try #require(PythonParsers.versionText(try EnvironmentFixtures.text("python.txt")))
        #expect(version.version == "3.12.3")
        #expect(version.implementation == "CPython")
        #expect(version.executable == "/opt/torch/.venv/bin/python3")
        let list = try #require(PythonParsers.pipList(try EnvironmentFixtures.text("pip-list.json")))
        let freeze = PythonParsers.pipFreeze(try EnvironmentFixtures.text("pip-freeze.txt"))
        #expect(list.count == 197)
        #expect(list == freeze, "pip list and pip freeze name the same distributions")
        #expect(list.first { $0.name == "torch" }?.version == "2.11.0")
        #expect(list.first { $0.name == "numpy" }?.version == "2.5.2")
        let names = list.map { PythonParsers.normalizedName($0.name) }
        #expect(names == names.sorted(), "sorted as pip sorts: by normalized name")
        let torch = PythonParsers.torchText(try EnvironmentFixtures.text("torch.txt"))
        #expect(torch == .init(version: "2.11.0+cu130", cuda: "13.0"))
        #expect(PythonParsers.torchText("2.5.1+cpu\nNone\nNone\n") == .init(version: "2.5.1+cpu", cuda: nil))
    }

    @Test("pip freeze lines without a version (editable, direct references) are left out")
    func freezeOddLines() {
        let packages = PythonParsers.pipFreeze(
            """
            -e git+https://example.org/repo.git@abc#egg=thing
            mylib @ file:///home/alice/src/mylib
            Torch==2.1.0
            numpy===1.26.4
            # comment
            """)
        #expect(packages == [.init(name: "numpy", version: "1.26.4"), .init(name: "Torch", version: "2.1.0")])
    }

    @Test("the probe script's JSON")
    func probeOutput() throws {
        let json =
            #"{"executable": "/usr/bin/python3", "implementation": "CPython", "packages": [{"name": "numpy", "version": "2.0.0"}, {"name": "Babel", "version": "2.1"}, {"name": "babel", "version": "9"}], "torch": {"version": "2.4.0+cu121", "cuda": "12.1"}, "version": "3.11.7"}"#
        let probe = try #require(PythonParsers.probe(json))
        #expect(probe.executable == "/usr/bin/python3")
        #expect(
            probe.python
                == .init(
                    version: "3.11.7", implementation: "CPython",
                    packages: [.init(name: "Babel", version: "2.1"), .init(name: "numpy", version: "2.0.0")],
                    torch: .init(version: "2.4.0+cu121", cuda: "12.1")))
        #expect(PythonParsers.probe("not json") == nil)
        #expect(PythonParsers.normalizedName("Scikit_Learn") == "scikit-learn")
        #expect(PythonParsers.normalizedName("zope.interface") == "zope-interface")
    }

    @Test("the whole GPU host: every value the issue names comes out right")
    func gpuHost() throws {
        let (platform, host) = try EnvironmentFixtures.gpuCapture()
        #expect(
            platform.gpus == [
                .init(
                    name: "NVIDIA H100 80GB HBM3", driverVersion: "580.159.04", memoryMiB: 81559,
                    computeCapability: "9.0")
            ])
        #expect(platform.cuda == .init(version: "13.0", toolkit: "13.0.88"))
        #expect(platform.python?.version == "3.12.3")
        #expect(platform.python?.implementation == "CPython")
        #expect(platform.python?.torch == .init(version: "2.11.0+cu130", cuda: "13.0"))
        #expect(platform.python?.packages.count == 197)
        #expect(platform.os.id == "ubuntu" && platform.os.versionId == "24.04")
        #expect(platform.arch == "x86_64")
        #expect(platform.kernel == "6.18.44-fc-v657-gpu")
        #expect(platform.libc == "glibc 2.39")
        #expect(platform.cpu.model == "Intel(R) Xeon(R) Processor")
        #expect(platform.cpu.cores == 16)
        #expect(platform.cpu.flags.contains("avx512f") && platform.cpu.flags.contains("sha_ni"))
        #expect(platform.memoryBytes == 135_148_564_480)
        // The allow-list keeps numerics and locale; paths and driver plumbing stay out.
        #expect(
            platform.environment == [
                "CUDA_VERSION": "13.0.2", "LANG": "C.UTF-8", "LC_ALL": "en_US.UTF-8", "NVIDIA_VISIBLE_DEVICES": "0",
            ])
        #expect(host == .init(hostname: "vm", pythonExecutable: "/opt/torch/.venv/bin/python3"))
        // Nothing that names the card or the host leaks into the platform record.
        let text = String(decoding: platform.platformJSON(), as: UTF8.self)
        for leak in ["GPU-00000000", "00000000:00:06.0", "/opt/torch", "/usr/local", "\"vm\"", "MemFree", "2100.000"] {
            #expect(!text.contains(leak), "\(leak) in platform.json")
        }
    }

    @Test("fixtures/gpu-h100/platform.json is exactly what the parsers make of the raw captures")
    func committedFixture() throws {
        let (platform, _) = try EnvironmentFixtures.gpuCapture()
        let committed = try readBytes(EnvironmentFixtures.gpuPlatformJSON)
        #expect(committed == platform.platformJSON(), "regenerate it: the parsers changed")
        #expect(try EnvironmentCapture.decode(committed) == platform)
    }
}
