import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Collects the raw captures of this machine: files under /proc and /etc, `uname(2)`, and a
/// few commands (lscpu, nvidia-smi, nvcc, the Python probe) run in parallel with short
/// timeouts. Anything missing stays nil; parsing is `RawCaptures.build()`'s job.
enum EnvironmentProbe {
    /// `askPython` false leaves the Python out (a rebuild asks its own, inside the sandbox).
    static func collect(python: String?, askPython: Bool = true) -> RawCaptures {
        let environment = Host.current.environment
        var raw = RawCaptures()
        raw.osRelease = read("/etc/os-release") ?? read("/usr/lib/os-release")
        raw.cpuinfo = read("/proc/cpuinfo")
        raw.meminfo = read("/proc/meminfo")
        raw.uname = unameText()
        raw.libc = libcVersion()
        raw.environment = environment
        raw.hostname = hostname()
        let account = account()
        raw.user = environment["USER"] ?? account.user
        raw.home = environment["HOME"] ?? account.home

        // Tools print in the C locale so their labels are the ones the parsers know.
        let cLocale = environment.merging(["LC_ALL": "C"]) { $1 }
        let interpreter = python ?? "python3"
        let hasGPU = ChildProcess.locate("nvidia-smi") != nil
        // Timeouts are for hangs (a stuck driver), not for slowness: on a loaded machine a
        // tight one would silently drop Python or the CPU from the record.
        let timeout = 60.0
        let jobs: [(WritableKeyPath<RawCaptures, String?>, @Sendable () -> String?)] = [
            (\.lscpu, { ChildProcess.run(["lscpu"], timeout: timeout, environment: cLocale) }),
            (
                \.pythonProbe,
                {
                    askPython
                        ? ChildProcess.run([interpreter, "-c", PythonParsers.probeScript], timeout: timeout) : nil
                }
            ),
            (
                \.nvidiaSMIQuery,
                {
                    guard hasGPU else { return nil }
                    let query = ["nvidia-smi", "--format=csv"]
                    // compute_cap needs driver 510 or later; older ones refuse the whole query.
                    return ChildProcess.run(
                        query + ["--query-gpu=index,name,driver_version,memory.total,compute_cap"], timeout: timeout,
                        environment: cLocale)
                        ?? ChildProcess.run(
                            query + ["--query-gpu=index,name,driver_version,memory.total"], timeout: timeout,
                            environment: cLocale)
                }
            ),
            (\.nvidiaSMI, { hasGPU ? ChildProcess.run(["nvidia-smi"], timeout: timeout, environment: cLocale) : nil }),
            (\.nvccVersion, { ChildProcess.run(["nvcc", "--version"], timeout: timeout, environment: cLocale) }),
        ]
        // One thread each: they mostly wait, and Dispatch's pool is only as wide as the CPUs.
        let results = Results(count: jobs.count)
        let finished = DispatchGroup()
        for (i, job) in jobs.enumerated() {
            finished.enter()
            let work = job.1
            Thread.detachNewThread {
                results.set(i, work())
                finished.leave()
            }
        }
        finished.wait()
        for (i, job) in jobs.enumerated() { raw[keyPath: job.0] = results.get(i) }
        if python != nil, raw.pythonProbe == nil {
            // Name the interpreter that was asked for even when it could not answer.
            raw.pythonExecutable = python
        }
        return raw
    }

    private static func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// "Linux 6.18.44 x86_64", as `uname -srm` prints it.
    static func unameText() -> String? {
        var names = utsname()
        guard Glibc.uname(&names) == 0 else { return nil }
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(field(names.sysname)) \(field(names.release)) \(field(names.machine))"
    }

    /// "glibc 2.36" from confstr(3), without running `ldd`.
    static func libcVersion() -> String? {
        let length = confstr(Int32(_CS_GNU_LIBC_VERSION), nil, 0)
        guard length > 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: length)
        guard confstr(Int32(_CS_GNU_LIBC_VERSION), &buffer, length) > 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func hostname() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? nil : name
    }

    static func account() -> (user: String?, home: String?) {
        guard let entry = getpwuid(getuid()) else { return (nil, nil) }
        return (entry.pointee.pw_name.map { String(cString: $0) }, entry.pointee.pw_dir.map { String(cString: $0) })
    }

    /// One slot per job, each written by exactly one iteration.
    private final class Results: @unchecked Sendable {
        private var slots: [String?]
        private let lock = NSLock()
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ value: String?) { lock.withLock { slots[i] = value } }
        func get(_ i: Int) -> String? { lock.withLock { slots[i] } }
    }
}
