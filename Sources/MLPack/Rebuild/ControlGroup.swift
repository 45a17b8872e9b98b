import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A control group for one replayed run, where the machine lets mlpack make one (cgroup v2,
/// or the v1 `pids` and `memory` hierarchies): it bounds the run's processes (a fork bomb)
/// and memory, tells afterwards whether a bound was hit, and finds every process the run
/// left behind so none survives it. Without a writable cgroup, `make` gives nil and the
/// rebuild reports those bounds as not enforced.
struct ControlGroup {
    /// The group's folders: one for v2, one per controller for v1.
    let folders: [String]
    let maxProcesses: Int
    let maxMemory: UInt64

    /// `cgroup.procs` of each folder: a process writes its pid there to join.
    var joinFiles: [String] { folders.map { $0 + "/cgroup.procs" } }

    static func make(name: String, maxProcesses: Int, maxMemory: UInt64) -> ControlGroup? {
        guard let memberships = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        // hierarchy-id:controllers:path, one line per hierarchy; "0::path" is v2.
        var paths: [String: String] = [:]
        for line in memberships.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 else { continue }
            for controller in fields[1].split(separator: ",") { paths[String(controller)] = fields[2] }
            if fields[0] == "0" { paths["unified"] = fields[2] }
        }
        if FileSystem.status("/sys/fs/cgroup/cgroup.controllers") != nil, let own = paths["unified"] {
            let folder = "/sys/fs/cgroup" + own + "/" + name
            return make(
                [
                    (
                        folder,
                        [("pids.max", "\(maxProcesses)"), ("memory.max", "\(maxMemory)"), ("memory.swap.max", "0")]
                    )
                ],
                maxProcesses: maxProcesses, maxMemory: maxMemory)
        }
        guard let pids = paths["pids"], let memory = paths["memory"] else { return nil }
        return make(
            [
                ("/sys/fs/cgroup/pids" + pids + "/" + name, [("pids.max", "\(maxProcesses)")]),
                ("/sys/fs/cgroup/memory" + memory + "/" + name, [("memory.limit_in_bytes", "\(maxMemory)")]),
            ], maxProcesses: maxProcesses, maxMemory: maxMemory)
    }

    /// Creates each folder and writes its limits; any failure undoes it all (nil). A v2
    /// swap limit is optional: not every kernel has swap accounting.
    private static func make(
        _ plan: [(folder: String, limits: [(file: String, value: String)])], maxProcesses: Int, maxMemory: UInt64
    ) -> ControlGroup? {
        var made: [String] = []
        for (folder, limits) in plan {
            guard mkdir(folder, 0o755) == 0 else {
                made.forEach { rmdir($0) }
                return nil
            }
            made.append(folder)
            for (file, value) in limits where !write(value, to: folder + "/" + file) && file != "memory.swap.max" {
                made.forEach { rmdir($0) }
                return nil
            }
        }
        return ControlGroup(folders: made, maxProcesses: maxProcesses, maxMemory: maxMemory)
    }

    /// The bounds the run ran into, in words.
    func limitsHit() -> [RebuildLimits.LimitHit] {
        var hit: [RebuildLimits.LimitHit] = []
        for folder in folders {
            let pids = Self.counter("max", in: folder + "/pids.events")
            if pids > 0 {
                hit.append(
                    .init(
                        limit: .processes,
                        detail: "process limit reached (\(maxProcesses) processes; \(pids) forks refused)"))
            }
            let ooms = max(
                Self.counter("oom_kill", in: folder + "/memory.events"),
                Self.counter("oom_kill", in: folder + "/memory.oom_control"))
            if ooms > 0 {
                hit.append(
                    .init(
                        limit: .memory,
                        detail: "memory limit reached (\(ByteCount.text(maxMemory))): \(ooms) process(es) killed"))
            }
        }
        return hit
    }

    /// Kills whatever is still in the group (a daemon the run left), then removes it.
    func destroy() {
        for _ in 0..<100 {
            let pids = folders.flatMap { folder in
                ((try? String(contentsOfFile: folder + "/cgroup.procs", encoding: .utf8)) ?? "").split(separator: "\n")
                    .compactMap { pid_t($0) }
            }
            if pids.isEmpty { break }
            pids.forEach { kill($0, SIGKILL) }
            usleep(20_000)
        }
        folders.forEach { rmdir($0) }
    }

    private static func write(_ value: String, to file: String) -> Bool {
        let fd = open(file, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return Array(value.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == value.utf8.count
    }

    /// The number after `key` in a flat-keyed file ("max 3"), 0 when absent.
    private static func counter(_ key: String, in file: String) -> Int {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[0] == key { return Int(fields[1]) ?? 0 }
        }
        return 0
    }
}
