import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a program (git, nvidia-smi, python3…) with a timeout: its output when it exits 0, nil
/// when the program is missing, fails, or takes too long (a hung driver must not hang
/// `mlpack`). The one place that starts child processes.
///
/// It spawns and reaps the child itself, on the calling thread, with poll(2) and a deadline:
/// Foundation's Process reports output and exit through Dispatch's pool, which is as small
/// as the CPU count and can be exhausted by the very threads waiting for it.
enum ChildProcess {
    /// More output than any probe prints: a runaway program is cut off.
    static let maxOutputBytes = 16 << 20
    /// Held from creating a pipe until it is close-on-exec and the child started; whoever
    /// else spawns while helpers may run (`ForegroundCommand`) takes it too, so no child
    /// inherits another's pipe end.
    static let spawning = NSLock()

    static func run(_ arguments: [String], timeout: Double = 3, environment: [String: String]? = nil) -> String? {
        runBytes(arguments, timeout: timeout, environment: environment).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The raw output (file names from git are bytes, not necessarily text).
    static func runBytes(
        _ arguments: [String], timeout: Double = 3, maxOutputBytes: Int = maxOutputBytes, environment: [String: String]? = nil
    ) -> [UInt8]? {
        guard let program = arguments.first, let executable = locate(program) else { return nil }
        let deadline = Date().addingTimeInterval(timeout)
        // pipe2(O_CLOEXEC) is not visible from Swift: the lock keeps another thread of ours
        // from spawning between pipe() and fcntl(), which would leak the write end into its
        // child and delay our end of file. dup2 onto the child's stdout clears the flag there.
        spawning.lock()
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            spawning.unlock()
            return nil
        }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        defer { close(readEnd) }
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)

        // Its own process group, so a timeout kills what it started too.
        var attributes = Self.spawnAttributes(newProcessGroup: true)
        defer { posix_spawnattr_destroy(&attributes) }

        let argv = [executable] + arguments.dropFirst()
        let envp = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }.sorted()
        var pid: pid_t = 0
        let spawned = withCStrings(argv) { argv in
            withCStrings(envp) { envp in posix_spawn(&pid, executable, &actions, &attributes, argv, envp) }
        }
        close(writeEnd)
        spawning.unlock()
        guard spawned == 0 else { return nil }

        var output: [UInt8] = []
        var complete = false
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while output.count <= maxOutputBytes {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { break }
            var ready = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            let polled = poll(&ready, 1, Int32(min(remaining * 1000 + 1, 60_000)))
            if polled < 0 && errno != EINTR { break }
            guard polled > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR || errno == EAGAIN { continue } else { break } }
            if n == 0 {
                complete = true
                break
            }
            output += buffer[0..<n]
        }

        var status: Int32 = 0
        var reaped = false
        while complete, !reaped, deadline.timeIntervalSinceNow > 0 {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { reaped = true } else if result < 0 && errno != EINTR { break } else { usleep(1000) }
        }
        if !reaped {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return nil
        }
        // Exited normally (no signal) with status 0.
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else { return nil }
        return output
    }

    /// Attributes for posix_spawn (destroy them after use): no blocked signals, and SIGPIPE
    /// back to its default (the Swift runtime ignores it), so a child sees the signals a shell
    /// would have given it. Caught signals are reset by exec itself.
    static func spawnAttributes(newProcessGroup: Bool) -> posix_spawnattr_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &pipeSignal)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        return attributes
    }

    /// `program` when it holds a slash, else its first executable match on PATH.
    static func locate(_ program: String) -> String? {
        if program.contains("/") { return access(program, X_OK) == 0 && !isDirectory(program) ? program : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in path.split(separator: ":") where !folder.isEmpty {
            let candidate = folder + "/" + program
            if access(candidate, X_OK) == 0 && !isDirectory(candidate) { return candidate }
        }
        return nil
    }

    private static func isDirectory(_ path: String) -> Bool {
        FileSystem.status(path, followLinks: true)?.isDirectory ?? false
    }

    /// A NULL-terminated array of C strings, valid during `body`.
    static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
