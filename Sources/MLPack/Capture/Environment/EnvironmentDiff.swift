/// What differs between two environment captures, each difference with a severity:
/// **major** when it commonly changes numerical results (Python's minor version, the ML
/// frameworks and the math libraries below them, CUDA, the GPU model or count, the CPU
/// architecture, numerics environment variables), **minor** otherwise (other packages, CPU
/// model and flags, OS patch level, kernel, libc, memory, locale). A value missing on one
/// side is reported as "absent". Entries come majors first, then by field.
public struct EnvironmentDiff: Codable, Sendable, Equatable {
    public enum Severity: String, Codable, Sendable, Comparable {
        case major, minor

        public static func < (a: Severity, b: Severity) -> Bool { a == .major && b == .minor }
    }

    public struct Entry: Codable, Sendable, Equatable {
        public var severity: Severity
        /// What differs: "gpu.model", "python.version", "package torch", "cuda.version",
        /// "cpu.arch", "cpu.flags", "os.version", "kernel", "env CUBLAS_WORKSPACE_CONFIG", …
        public var field: String
        /// The value in the first capture, or "absent".
        public var a: String
        /// The value in the second capture, or "absent".
        public var b: String

        public init(severity: Severity, field: String, a: String, b: String) {
            self.severity = severity
            self.field = field
            self.a = a
            self.b = b
        }
    }

    public var entries: [Entry]

    public var majorCount: Int { entries.filter { $0.severity == .major }.count }
    public var minorCount: Int { entries.filter { $0.severity == .minor }.count }

    public static let absent = "absent"

    /// Distributions whose version changes numerics: frameworks, array libraries, and the
    /// CUDA math libraries they load (by PEP 503 name; a prefix ends with "-").
    static let majorPackages: Set<String> = [
        "torch", "torchvision", "torchaudio", "jax", "jaxlib", "tensorflow", "tensorflow-cpu", "tensorflow-gpu",
        "tf-nightly", "keras", "numpy", "scipy", "scikit-learn", "cupy", "triton", "mkl", "intel-openmp",
        "onnxruntime", "onnxruntime-gpu",
    ]
    static let majorPackagePrefixes = ["cupy-cuda", "jax-cuda", "nvidia-cudnn", "nvidia-cublas", "nvidia-nccl"]

    /// Allowed variables whose change is minor: locale, logging, and which device ids are
    /// visible (the GPU model is compared on its own).
    static func isMinorVariable(_ name: String) -> Bool {
        name == "LANG" || name == "LANGUAGE" || name == "TZ" || name.hasPrefix("LC_") || name == "CUDA_VERSION"
            || name.hasSuffix("_VISIBLE_DEVICES") || name.contains("LOG")
    }

    public init(_ a: EnvironmentCapture, _ b: EnvironmentCapture) {
        var entries: [Entry] = []
        func add(_ severity: Severity, _ field: String, _ x: String?, _ y: String?) {
            let x = x ?? Self.absent, y = y ?? Self.absent
            if x != y { entries.append(Entry(severity: severity, field: field, a: x, b: y)) }
        }

        // Platform.
        add(.major, "cpu.arch", a.arch, b.arch)
        add(.minor, "os", Self.osName(a.os), Self.osName(b.os))
        if Self.osName(a.os) == Self.osName(b.os) {
            add(.minor, "os.version", a.os.version ?? a.os.prettyName, b.os.version ?? b.os.prettyName)
        }
        add(.minor, "kernel", a.kernel, b.kernel)
        add(.minor, "libc", a.libc, b.libc)
        add(
            .minor, "memory", a.memoryBytes.map { "\($0 / (1 << 20)) MiB" },
            b.memoryBytes.map { "\($0 / (1 << 20)) MiB" })
        add(.minor, "cpu.vendor", a.cpu.vendor, b.cpu.vendor)
        add(.minor, "cpu.model", a.cpu.model, b.cpu.model)
        add(.minor, "cpu.cores", a.cpu.cores.map(String.init), b.cpu.cores.map(String.init))
        let flagsA = Set(a.cpu.flags), flagsB = Set(b.cpu.flags)
        if flagsA != flagsB {
            func list(_ flags: Set<String>) -> String {
                flags.isEmpty ? "none" : "only here: " + flags.sorted().joined(separator: " ")
            }
            entries.append(
                Entry(
                    severity: .minor, field: "cpu.flags", a: list(flagsA.subtracting(flagsB)),
                    b: list(flagsB.subtracting(flagsA))))
        }

        // Accelerators.
        add(.major, "gpu.model", Self.gpuModels(a.gpus), Self.gpuModels(b.gpus))
        // With GPUs on one side only, gpu.model says it all.
        if !a.gpus.isEmpty && !b.gpus.isEmpty {
            add(.major, "gpu.count", "\(a.gpus.count)", "\(b.gpus.count)")
            add(
                .minor, "gpu.driver", Self.joined(a.gpus.compactMap(\.driverVersion)),
                Self.joined(b.gpus.compactMap(\.driverVersion)))
        }
        add(.major, "cuda.version", a.cuda?.version, b.cuda?.version)
        add(.major, "cuda.toolkit", a.cuda?.toolkit, b.cuda?.toolkit)

        // Python.
        add(.minor, "conda", a.conda, b.conda)
        Self.comparePython(a.python, b.python, add: add)

        // Variables and lock files.
        for name in Set(a.environment.keys).union(b.environment.keys) {
            add(Self.isMinorVariable(name) ? .minor : .major, "env " + name, a.environment[name], b.environment[name])
        }
        let locksA = Dictionary(a.lockFiles.map { ($0.path, $0.sha256) }, uniquingKeysWith: { x, _ in x })
        let locksB = Dictionary(b.lockFiles.map { ($0.path, $0.sha256) }, uniquingKeysWith: { x, _ in x })
        for path in Set(locksA.keys).union(locksB.keys) {
            add(
                .minor, "lockfile " + path, locksA[path].map { "sha256 " + $0.prefix(12) },
                locksB[path].map { "sha256 " + $0.prefix(12) })
        }

        self.entries = entries.sorted {
            $0.severity != $1.severity
                ? $0.severity < $1.severity
                : Manifest.bytewise($0.field, $1.field)
        }
    }

    private static func comparePython(
        _ a: EnvironmentCapture.Python?, _ b: EnvironmentCapture.Python?,
        add: (Severity, String, String?, String?) -> Void
    ) {
        let sameMinor = a.map { majorMinor($0.version) } == b.map { majorMinor($0.version) }
        add(sameMinor && a != nil ? .minor : .major, "python.version", a?.version, b?.version)
        if let a, let b {
            add(.major, "python.implementation", a.implementation, b.implementation)
            if a.torch != nil && b.torch != nil {
                add(.major, "torch.cuda", a.torch?.cuda ?? "cpu", b.torch?.cuda ?? "cpu")
            }
        }
        let packagesA = packageVersions(a), packagesB = packageVersions(b)
        let oneSideOnly = (a == nil) != (b == nil)
        for name in Set(packagesA.keys).union(packagesB.keys) {
            let major = isMajorPackage(name)
            // Without Python on one side, every package would be "absent": list only the
            // frameworks, and sum up the rest in one entry.
            if oneSideOnly && !major { continue }
            add(major ? .major : .minor, "package " + name, packagesA[name], packagesB[name])
        }
        if oneSideOnly {
            add(
                .minor, "python.packages", a.map { "\($0.packages.count) packages" },
                b.map { "\($0.packages.count) packages" })
        }
    }

    /// Versions by normalized name; torch's own version ("2.11.0+cu130") when known, since
    /// the wheel's metadata leaves out the CUDA build.
    static func packageVersions(_ python: EnvironmentCapture.Python?) -> [String: String] {
        guard let python else { return [:] }
        var out: [String: String] = [:]
        for package in python.packages where out[PythonParsers.normalizedName(package.name)] == nil {
            out[PythonParsers.normalizedName(package.name)] = package.version
        }
        if let torch = python.torch { out["torch"] = torch.version }
        return out
    }

    static func isMajorPackage(_ name: String) -> Bool {
        majorPackages.contains(name) || majorPackagePrefixes.contains { name.hasPrefix($0) }
    }

    static func majorMinor(_ version: String) -> String {
        version.split(separator: ".").prefix(2).joined(separator: ".")
    }

    static func osName(_ os: EnvironmentCapture.OperatingSystem) -> String? {
        guard os.id != nil || os.versionId != nil else { return os.prettyName }
        return [os.id, os.versionId].compactMap { $0 }.joined(separator: " ")
    }

    /// "NVIDIA H100 80GB HBM3", or "2 × NVIDIA A100-SXM4-40GB, NVIDIA T4" for mixed hosts.
    static func gpuModels(_ gpus: [EnvironmentCapture.GPU]) -> String? {
        guard !gpus.isEmpty else { return nil }
        var counts: [String: Int] = [:]
        for gpu in gpus { counts[gpu.name, default: 0] += 1 }
        return counts.keys.sorted().map { counts[$0]! > 1 && counts.count > 1 ? "\(counts[$0]!) × \($0)" : $0 }.joined(
            separator: ", ")
    }

    static func joined(_ values: [String]) -> String? {
        values.isEmpty ? nil : Array(Set(values)).sorted().joined(separator: ", ")
    }
}
