import Foundation

/// What a machine looked like when a result was made, as far as numerics can tell: the
/// platform record `env/<id>/platform.json`. It holds no time, no free memory, no clock
/// speed, no GPU serial or bus id and no local path, so the same machine with the same
/// software always gives the same bytes and the same id. Who and where (host name, user,
/// home) live apart, in `HostRecord`, which a publisher withholds.
public struct EnvironmentCapture: Codable, Sendable, Equatable {
    public struct OperatingSystem: Codable, Sendable, Equatable {
        /// os-release `ID`, e.g. "ubuntu".
        public var id: String?
        /// os-release `VERSION_ID`, e.g. "24.04".
        public var versionId: String?
        /// os-release `VERSION`, e.g. "24.04.3 LTS (Noble Numbat)": carries the patch level.
        public var version: String?
        public var prettyName: String?

        public init(id: String? = nil, versionId: String? = nil, version: String? = nil, prettyName: String? = nil) {
            self.id = id
            self.versionId = versionId
            self.version = version
            self.prettyName = prettyName
        }
    }

    public struct CPU: Codable, Sendable, Equatable {
        public var vendor: String?
        public var model: String?
        /// Logical CPUs the kernel reports (lscpu's "CPU(s)").
        public var cores: Int?
        /// Feature flags, sorted and without duplicates.
        public var flags: [String]

        public init(vendor: String? = nil, model: String? = nil, cores: Int? = nil, flags: [String] = []) {
            self.vendor = vendor
            self.model = model
            self.cores = cores
            self.flags = flags
        }
    }

    public struct GPU: Codable, Sendable, Equatable {
        public var name: String
        public var driverVersion: String?
        public var memoryMiB: Int?
        /// "9.0" for an H100.
        public var computeCapability: String?

        public init(name: String, driverVersion: String? = nil, memoryMiB: Int? = nil, computeCapability: String? = nil)
        {
            self.name = name
            self.driverVersion = driverVersion
            self.memoryMiB = memoryMiB
            self.computeCapability = computeCapability
        }
    }

    public struct CUDA: Codable, Sendable, Equatable {
        /// The CUDA version the driver supports (nvidia-smi's "CUDA Version").
        public var version: String?
        /// The toolkit on PATH (`nvcc --version`), e.g. "13.0.88".
        public var toolkit: String?

        public init(version: String? = nil, toolkit: String? = nil) {
            self.version = version
            self.toolkit = toolkit
        }
    }

    public struct Package: Codable, Sendable, Equatable {
        public var name: String
        public var version: String
        /// True for an editable install (`pip install -e`, PEP 610 `dir_info.editable`);
        /// absent otherwise.
        public var editable: Bool?
        /// Where the package came from when not from an index (PEP 610 `direct_url.json`):
        /// `.` or a folder relative to the project, `local` (a path elsewhere on the author's
        /// machine), a VCS URL with its commit, or another URL. Absent for index packages.
        public var directURL: String?

        /// A PEP 508 name and a version of PEP 440's characters: what a `name==version` line
        /// of `pip freeze` can hold without meaning something else to pip.
        var isPlain: Bool {
            func alphanumeric(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber) }
            guard let first = name.first, let last = name.last, alphanumeric(first), alphanumeric(last),
                name.allSatisfy({ alphanumeric($0) || "._-".contains($0) }),
                !version.isEmpty, version.allSatisfy({ alphanumeric($0) || ".+!_-".contains($0) })
            else { return false }
            return true
        }

        public init(name: String, version: String, editable: Bool? = nil, directURL: String? = nil) {
            self.name = name
            self.version = version
            self.editable = editable
            self.directURL = directURL
        }

        /// Installed from the project's own folder (`pip install -e .`): a rebuild makes it
        /// from the code snapshot.
        public var isFromProject: Bool {
            guard let directURL, directURL != "local" else { return false }
            return directURL == "." || PackPath.problem(with: directURL) == nil && !directURL.contains(":")
        }
    }

    /// How the installed PyTorch was built, read from `torch/version.py` without importing
    /// torch: the wheel's metadata says "2.11.0" where torch itself says "2.11.0+cu130".
    public struct TorchBuild: Codable, Sendable, Equatable {
        public var version: String
        /// CUDA version torch was built against; nil for a CPU build.
        public var cuda: String?

        public init(version: String, cuda: String? = nil) {
            self.version = version
            self.cuda = cuda
        }
    }

    public struct Python: Codable, Sendable, Equatable {
        /// "3.12.3".
        public var version: String
        /// "CPython", "PyPy".
        public var implementation: String?
        /// Installed distributions, sorted as pip sorts them: by normalized name (PEP 503).
        public var packages: [Package]
        public var torch: TorchBuild?

        public init(version: String, implementation: String? = nil, packages: [Package] = [], torch: TorchBuild? = nil)
        {
            self.version = version
            self.implementation = implementation
            self.packages = packages
            self.torch = torch
        }
    }

    /// A lock or requirements file found in the packed code, by its path in the snapshot.
    public struct LockFile: Codable, Sendable, Equatable {
        public var path: String
        public var sha256: String

        public init(path: String, sha256: String) {
            self.path = path
            self.sha256 = sha256
        }
    }

    public static let currentFormatVersion = 1

    public var formatVersion = EnvironmentCapture.currentFormatVersion
    public var os: OperatingSystem
    /// Kernel release, e.g. "6.18.44-fc-v657-gpu".
    public var kernel: String?
    /// Machine architecture, e.g. "x86_64", "aarch64".
    public var arch: String?
    /// "glibc 2.39", "musl 1.2.4".
    public var libc: String?
    public var cpu: CPU
    public var memoryBytes: UInt64?
    public var gpus: [GPU]
    public var cuda: CUDA?
    public var python: Python?
    /// Name of the active conda environment (never its path).
    public var conda: String?
    public var lockFiles: [LockFile]
    /// Numerics-relevant environment variables, after `EnvironmentVariables.filter`.
    public var environment: [String: String]

    public init(
        os: OperatingSystem = .init(), kernel: String? = nil, arch: String? = nil, libc: String? = nil,
        cpu: CPU = .init(), memoryBytes: UInt64? = nil, gpus: [GPU] = [], cuda: CUDA? = nil, python: Python? = nil,
        conda: String? = nil, lockFiles: [LockFile] = [], environment: [String: String] = [:]
    ) {
        self.os = os
        self.kernel = kernel
        self.arch = arch
        self.libc = libc
        self.cpu = cpu
        self.memoryBytes = memoryBytes
        self.gpus = gpus
        self.cuda = cuda
        self.python = python
        self.conda = conda
        self.lockFiles = lockFiles
        self.environment = environment
    }

    private enum CodingKeys: String, CodingKey {
        case formatVersion, os, kernel, arch, libc, cpu, memoryBytes, gpus, cuda, python, conda, lockFiles, environment
    }

    /// Decodes a record written by any mlpack, rejecting a format version it does not know
    /// (a newer record might mean something else by the same field).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        guard formatVersion == Self.currentFormatVersion else {
            throw DecodingError.dataCorruptedError(
                forKey: .formatVersion, in: c, debugDescription: "unsupported formatVersion \(formatVersion)")
        }
        os = try c.decodeIfPresent(OperatingSystem.self, forKey: .os) ?? .init()
        kernel = try c.decodeIfPresent(String.self, forKey: .kernel)
        arch = try c.decodeIfPresent(String.self, forKey: .arch)
        libc = try c.decodeIfPresent(String.self, forKey: .libc)
        cpu = try c.decodeIfPresent(CPU.self, forKey: .cpu) ?? .init()
        memoryBytes = try c.decodeIfPresent(UInt64.self, forKey: .memoryBytes)
        gpus = try c.decodeIfPresent([GPU].self, forKey: .gpus) ?? []
        cuda = try c.decodeIfPresent(CUDA.self, forKey: .cuda)
        python = try c.decodeIfPresent(Python.self, forKey: .python)
        conda = try c.decodeIfPresent(String.self, forKey: .conda)
        lockFiles = try c.decodeIfPresent([LockFile].self, forKey: .lockFiles) ?? []
        environment = try c.decodeIfPresent([String: String].self, forKey: .environment) ?? [:]
    }
}

/// The private half of a capture (`env/<id>/host.json`, role `host`): who ran it and where.
/// Withheld from published packs; never part of the environment id.
public struct HostRecord: Codable, Sendable, Equatable {
    public var hostname: String?
    public var user: String?
    public var home: String?
    /// The Python interpreter that was asked, as a path.
    public var pythonExecutable: String?

    public init(hostname: String? = nil, user: String? = nil, home: String? = nil, pythonExecutable: String? = nil) {
        self.hostname = hostname
        self.user = user
        self.home = home
        self.pythonExecutable = pythonExecutable
    }
}

extension EnvironmentCapture {
    /// Captures this machine (see `EnvironmentProbe`): commands run with short timeouts and
    /// whatever is missing (no GPU, no Python, no lscpu) is simply left out.
    /// `python` is the interpreter to ask (default: `python3` on PATH); `codeFiles` is the
    /// packed code snapshot, whose lock and requirements files are recorded.
    public static func capture(
        python: String? = nil, codeFiles: [(path: String, sha256: String)] = []
    ) -> (platform: EnvironmentCapture, host: HostRecord) {
        var raw = EnvironmentProbe.collect(python: python)
        raw.codeFiles = codeFiles
        return raw.build()
    }

    /// The platform record built from raw captures (for instance a folder of them).
    public init(rawCaptures: RawCaptures) {
        self = rawCaptures.build().platform
    }

    /// The exact bytes of `platform.json`: sorted keys, two-space indentation, final newline.
    public func platformJSON() -> [UInt8] {
        // Only strings, integers and containers of them: encoding cannot fail.
        try! JSONText.encode(self)
    }

    /// The environment id: the first 12 hex digits of the SHA-256 of `platform.json`, so
    /// two captures share an id exactly when they record the same platform.
    public var id: String { String(SHA256Hasher.hex(platformJSON()).prefix(12)) }

    /// `python-packages.txt`: one `name==version` line per installed distribution (the
    /// `pip freeze` format, so `pip install -r` reads it); nil when no Python was found.
    public func pythonPackagesText() -> [UInt8]? {
        guard let python else { return nil }
        // What no index holds is a comment, so `pip install -r` still reads the rest.
        return Array(
            python.packages.map { package in
                guard let source = package.directURL else { return "\(package.name)==\(package.version)\n" }
                let how = package.editable == true ? "editable, " : ""
                return "# \(package.name)==\(package.version) (\(how)from \(source))\n"
            }.joined().utf8)
    }

    /// The files a pack stores under `env/<id>/`, with their roles: `platform.json` and
    /// `python-packages.txt` (role env), and `host.json` (role host) when `host` is given.
    public func packFiles(host: HostRecord?) -> [(name: String, role: Role, bytes: [UInt8])] {
        var files: [(name: String, role: Role, bytes: [UInt8])] = [("platform.json", .env, platformJSON())]
        if let packages = pythonPackagesText() { files.append(("python-packages.txt", .env, packages)) }
        // Only strings: encoding cannot fail.
        if let host { files.append(("host.json", .host, try! JSONText.encode(host))) }
        return files
    }

    /// A saved record made fit for a pack (`create --env`): it may come from anyone, so it
    /// gets the rules a probe's record gets. Variables pass the same filter (a hand-edited
    /// file may hold a secret), the conda name loses any folder, flags and packages are
    /// sorted and unique again. Then no value may hold a control character, start with `/`
    /// or `~`, or name one of `homes` (this user's, the saved host's), and every package
    /// must be a plain `name==version` (a name such as `-i https://…` would turn
    /// `python-packages.txt` into pip options).
    func packable(source: String, homes: [String]) throws -> EnvironmentCapture {
        var record = self
        let homes = homes.filter { $0.count > 1 }
        record.environment = EnvironmentVariables.filter(environment).filter { _, value in
            !homes.contains(where: value.contains)
        }
        record.conda = conda.flatMap { RawCaptures.condaEnvironment(["CONDA_DEFAULT_ENV": $0]) }
        record.cpu.flags = SystemParsers.sortedFlags(cpu.flags)
        for package in python?.packages ?? [] where !package.isPlain {
            throw MLPackError.io(
                path: source,
                reason:
                    "package \(String(reflecting: package.name)) \(String(reflecting: package.version)) is not a plain name and version"
            )
        }
        record.python?.packages = PythonParsers.sortedPackages(python?.packages ?? [])
        for (field, value) in record.strings() {
            let problem =
                value.unicodeScalars.contains { $0.properties.generalCategory == .control }
                ? "a control character"
                : value.hasPrefix("/") || value.hasPrefix("~") || homes.contains(where: value.contains) ? "a path" : nil
            if let problem {
                throw MLPackError.io(path: source, reason: "\(field) holds \(problem), which a pack must not record")
            }
        }
        return record
    }

    /// Every string value of the record with its field (`gpus.name`, `environment.TZ`).
    private func strings() -> [(field: String, value: String)] {
        var out: [(String, String)] = []
        func visit(_ value: Any, _ field: String) {
            switch value {
            case let text as String: out.append((field, text))
            case let array as [Any]: array.forEach { visit($0, field) }
            case let object as [String: Any]:
                object.forEach { visit($0.value, field.isEmpty ? $0.key : field + "." + $0.key) }
            default: break
            }
        }
        // platformJSON is always valid JSON: it was just encoded.
        visit(try! JSONSerialization.jsonObject(with: Data(platformJSON())), "")
        return out
    }

    /// Reads a platform record: `platform.json` itself, or `mlpack env --json --private`'s
    /// `{"platform": …, "host": …}`.
    public static func decode(_ bytes: [UInt8]) throws -> EnvironmentCapture {
        struct Wrapped: Decodable { var platform: EnvironmentCapture }
        if let wrapped = try? JSONText.decode(Wrapped.self, from: bytes) { return wrapped.platform }
        return try JSONText.decode(EnvironmentCapture.self, from: bytes)
    }

    /// The host record of `mlpack env --json --private`'s `{"platform": …, "host": …}`.
    static func decodeHost(_ bytes: [UInt8]) -> HostRecord? {
        struct Wrapped: Decodable { var host: HostRecord }
        return (try? JSONText.decode(Wrapped.self, from: bytes))?.host
    }
}
