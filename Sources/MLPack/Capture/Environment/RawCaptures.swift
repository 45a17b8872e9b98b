import Foundation

/// What a machine said about itself, as raw text, before any parsing: collected live by
/// `EnvironmentProbe`, or read from a folder of saved command outputs (the GPU host's
/// fixtures). Every field is optional; `build()` keeps whatever it can parse.
public struct RawCaptures: Sendable {
    /// `/etc/os-release`.
    public var osRelease: String?
    /// `uname -srm` or `uname -a`.
    public var uname: String?
    public var lscpu: String?
    /// `/proc/cpuinfo` (its head is enough).
    public var cpuinfo: String?
    /// `/proc/meminfo`.
    public var meminfo: String?
    /// `ldd --version`, or "glibc 2.39" from confstr.
    public var libc: String?
    /// `nvidia-smi --query-gpu=index,name,driver_version,memory.total,compute_cap --format=csv`.
    public var nvidiaSMIQuery: String?
    /// Plain `nvidia-smi` (its header names the CUDA version).
    public var nvidiaSMI: String?
    /// `nvidia-smi -q -x`.
    public var nvidiaSMIXML: String?
    /// `nvcc --version`.
    public var nvccVersion: String?
    /// The output of `PythonParsers.probeScript`.
    public var pythonProbe: String?
    /// `sys.version`, then `sys.executable`, one a line.
    public var pythonVersion: String?
    /// `pip list --format=json`.
    public var pipList: String?
    /// `pip freeze`.
    public var pipFreeze: String?
    /// `torch.__version__`, then `torch.version.cuda`, one a line.
    public var torch: String?
    /// The process environment, unfiltered: `build()` applies `EnvironmentVariables.filter`.
    public var environment: [String: String]?
    public var hostname: String?
    public var user: String?
    public var home: String?
    /// The interpreter that was asked, when known apart from the probe's output.
    public var pythonExecutable: String?
    /// The project the capture is for: packages installed from a folder inside it are
    /// recorded relative to it.
    public var projectRoot: String?
    /// The packed code snapshot's files (relative path, sha256), for `LockFiles.find`.
    public var codeFiles: [(path: String, sha256: String)] = []

    public init() {}

    /// The file names a folder of raw captures uses (those of `fixtures/gpu-h100/env/`).
    static var fileNames: [String: WritableKeyPath<RawCaptures, String?>] {
        [
            "os-release.txt": \.osRelease, "uname.txt": \.uname, "lscpu.txt": \.lscpu, "cpuinfo.txt": \.cpuinfo,
            "cpuinfo-head.txt": \.cpuinfo, "meminfo.txt": \.meminfo, "ldd-version.txt": \.libc,
            "nvidia-smi-query.csv": \.nvidiaSMIQuery, "nvidia-smi.txt": \.nvidiaSMI, "nvidia-smi-q.xml": \.nvidiaSMIXML,
            "nvcc-version.txt": \.nvccVersion, "python-probe.json": \.pythonProbe, "python.txt": \.pythonVersion,
            "pip-list.json": \.pipList, "pip-freeze.txt": \.pipFreeze, "torch.txt": \.torch,
        ]
    }

    /// Reads a folder of raw captures named as the fixtures name them (`os-release.txt`, `lscpu.txt`,
    /// `nvidia-smi-query.csv`, `python.txt`, `pip-list.json`, `torch.txt`, …), plus `env-allowlisted.txt`
    /// (`NAME=value` lines), which is filtered like a live environment.
    public init(folder: String) throws {
        guard FileSystem.status(folder, followLinks: true)?.isDirectory == true else {
            throw MLPackError.io(path: folder, reason: "not a folder of raw captures")
        }
        for (name, field) in Self.fileNames.sorted(by: { $0.key < $1.key }) {
            if let text = Self.read(folder + "/" + name) { self[keyPath: field] = text }
        }
        if let text = Self.read(folder + "/env-allowlisted.txt") {
            var environment: [String: String] = [:]
            for line in text.split(whereSeparator: \.isNewline) {
                guard let eq = line.firstIndex(of: "="), eq != line.startIndex else { continue }
                environment[String(line[..<eq])] = String(line[line.index(after: eq)...])
            }
            self.environment = environment
        }
    }

    private static func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Parses everything into the platform record and the private host record.
    public func build() -> (platform: EnvironmentCapture, host: HostRecord) {
        var platform = EnvironmentCapture()
        var host = HostRecord(hostname: hostname, user: user, home: home, pythonExecutable: pythonExecutable)

        if let osRelease { platform.os = SystemParsers.osRelease(osRelease) }
        let uname = uname.map(SystemParsers.uname) ?? .init()
        platform.kernel = uname.release
        host.hostname = host.hostname ?? uname.hostname
        let cpu = SystemParsers.cpu(lscpu: lscpu, cpuinfo: cpuinfo)
        platform.cpu = cpu.cpu
        platform.arch = cpu.arch ?? uname.machine
        platform.memoryBytes = meminfo.flatMap(SystemParsers.memTotal)
        platform.libc = libc.flatMap(SystemParsers.libc)

        platform.gpus = nvidiaSMIQuery.map(GPUParsers.queryCSV) ?? []
        if platform.gpus.isEmpty, let nvidiaSMIXML { platform.gpus = GPUParsers.xmlGPUs(nvidiaSMIXML) }
        let cudaVersion = nvidiaSMI.flatMap(GPUParsers.cudaVersion) ?? nvidiaSMIXML.flatMap(GPUParsers.cudaVersion)
        let toolkit = nvccVersion.flatMap(GPUParsers.nvccVersion)
        if cudaVersion != nil || toolkit != nil { platform.cuda = .init(version: cudaVersion, toolkit: toolkit) }

        if let probe = pythonProbe.flatMap({ PythonParsers.probe($0, projectRoot: projectRoot) }) {
            platform.python = probe.python
            host.pythonExecutable = host.pythonExecutable ?? probe.executable
        } else if let version = pythonVersion.flatMap(PythonParsers.versionText) {
            let packages = pipList.flatMap(PythonParsers.pipList) ?? pipFreeze.map(PythonParsers.pipFreeze) ?? []
            platform.python = .init(
                version: version.version, implementation: version.implementation, packages: packages,
                torch: torch.flatMap(PythonParsers.torchText))
            host.pythonExecutable = host.pythonExecutable ?? version.executable
        }

        if let environment {
            platform.conda = Self.condaEnvironment(environment)
            platform.environment = EnvironmentVariables.filter(environment, home: home)
        }
        platform.lockFiles = LockFiles.find(in: codeFiles)
        return (platform, host)
    }

    /// The active conda environment's name: `CONDA_DEFAULT_ENV`, else the last component of
    /// `CONDA_PREFIX` (an environment activated by path has a path as its "name").
    static func condaEnvironment(_ environment: [String: String]) -> String? {
        for name in ["CONDA_DEFAULT_ENV", "CONDA_PREFIX"] {
            if let value = environment[name], let last = value.split(separator: "/").last, !last.isEmpty {
                return String(last)
            }
        }
        return nil
    }
}
