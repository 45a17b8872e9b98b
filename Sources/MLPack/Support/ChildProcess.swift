import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How a child process ended.
public enum CommandTermination: Sendable, Equatable {
    /// Exited with this status.
    case exited(Int32)
    /// Ended by this signal.
    case signaled(Int32)

    /// From a `waitpid` status (the <sys/wait.h> macros are not visible from Swift: the low 7
    /// bits are the signal, 0 for a normal exit, the next byte the exit status).
    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }
}

/// The one place that starts child processes: `spawn` is the only call of posix_spawn, and
/// `resolve` the only PATH search. Three kinds of child use it — helper programs whose output
/// mlpack reads (`run`, below), the user's command in the foreground (`ForegroundCommand`),
/// and a replayed run writing to a log under a deadline (`LoggedCommand`).
///
/// Children are spawned and reaped on the calling thread: Foundation's Process reports output
/// and exit through Dispatch's pool, which is as small as the CPU count and can be exhausted
/// by the very threads waiting for it.
enum ChildProcess {
    /// Where one of a child's standard streams goes.
    enum Stream {
        case inherit
        case null
        case descriptor(Int32)
    }

    /// Held from creating a pipe until it is close-on-exec and the child started, and around
    /// every spawn, so no child inherits another's pipe end (pipe2(O_CLOEXEC) is not visible
    /// from Swift). Recursive: `runBytes` holds it across its pipe and its `spawn`.
    static let spawning = NSRecursiveLock()

    /// Starts `executable` with `arguments` (`arguments[0]` is the name the program sees) and
    /// exactly `environment`, in `directory` (default: ours). `newProcessGroup` makes the child
    /// lead its own group (so a timeout can kill all it started); `closing` are descriptors of
    /// ours it must not inherit. Throws the errno of a failed spawn.
    static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String],
        stdin: Stream = .null, stdout: Stream, stderr: Stream, directory: String? = nil, newProcessGroup: Bool,
        closing: [Int32] = []
    ) throws(SpawnError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .inherit: break
            case .null: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
            case .descriptor(let source): posix_spawn_file_actions_adddup2(&actions, source, fd)
            }
        }
        for fd in closing where fd >= 0 { posix_spawn_file_actions_addclose(&actions, fd) }
        if let directory, directory != Host.current.workingDirectory {
            guard let addChdir = Self.addChdir else { throw SpawnError(code: ENOSYS) }
            _ = addChdir(&actions, directory)
        }
        var attributes = spawnAttributes(newProcessGroup: newProcessGroup)
        defer { posix_spawnattr_destroy(&attributes) }

        let envp = environment.map { "\($0.key)=\($0.value)" }.sorted()
        var pid: pid_t = 0
        spawning.lock()
        let result = withCStrings(arguments) { argv in
            withCStrings(envp) { envp in posix_spawn(&pid, executable, &actions, &attributes, argv, envp) }
        }
        spawning.unlock()
        guard result == 0 else { throw SpawnError(code: result) }
        return pid
    }

    struct SpawnError: Error, CustomStringConvertible {
        let code: Int32
        var description: String {
            code == ENOSYS
                ? "cannot start a command in another folder with this C library (glibc 2.29 or later is needed)"
                : String(cString: strerror(code)).lowercased()
        }
    }

    // MARK: - Finding programs

    /// The file a shell in `directory` would run for `program`: a name with a slash as it
    /// is, else the first executable regular file on `searchPath`; relative paths are made
    /// absolute against `directory`. An empty PATH entry is the current folder, as in sh,
    /// only where `emptyEntryIsCurrentFolder` (the user's own command — never a helper mlpack
    /// runs, which must not be picked up from wherever mlpack was started). Fails as a shell
    /// does: 127 when there is nothing to run, 126 when there is something that cannot be run.
    static func resolve(
        _ program: String, in directory: String = Host.current.workingDirectory,
        path searchPath: String? = Host.current.path, emptyEntryIsCurrentFolder: Bool = true
    ) throws -> String {
        func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : directory + "/" + path }
        guard !program.isEmpty else {
            throw MLPackError.cannotRun(program: "''", reason: "command not found", status: 127)
        }
        if program.contains("/") {
            let candidate = absolute(program)
            guard let status = FileSystem.status(candidate, followLinks: true) else {
                throw MLPackError.cannotRun(program: program, reason: "no such file or directory", status: 127)
            }
            if status.isDirectory {
                throw MLPackError.cannotRun(program: program, reason: "is a directory", status: 126)
            }
            guard access(candidate, X_OK) == 0 else {
                throw MLPackError.cannotRun(program: program, reason: "permission denied", status: 126)
            }
            return candidate
        }
        var notExecutable: String?
        for folder in (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(
            separator: ":", omittingEmptySubsequences: false)
        {
            guard !folder.isEmpty || emptyEntryIsCurrentFolder else { continue }
            let candidate = absolute((folder.isEmpty ? "." : String(folder)) + "/" + program)
            guard let status = FileSystem.status(candidate, followLinks: true), status.isRegular else { continue }
            if access(candidate, X_OK) == 0 { return candidate }
            notExecutable = notExecutable ?? candidate
        }
        if let notExecutable {
            throw MLPackError.cannotRun(program: notExecutable, reason: "permission denied", status: 126)
        }
        throw MLPackError.cannotRun(program: program, reason: "command not found", status: 127)
    }

    /// A helper program (git, bwrap, strace…) by name on PATH, or as given when it holds a
    /// slash; nil when there is none.
    static func locate(_ program: String) -> String? {
        try? resolve(program, emptyEntryIsCurrentFolder: false)
    }

    // MARK: - Helper programs

    /// More output than any probe prints: a runaway program is cut off.
    static let maxOutputBytes = 16 << 20

    /// Runs a helper program (git, nvidia-smi, python3…) with a timeout: its output when it
    /// exits 0, nil when the program is missing, fails, or takes too long (a hung driver must
    /// not hang `mlpack`).
    static func run(_ arguments: [String], timeout: Double = 3, environment: [String: String]? = nil) -> String? {
        runBytes(arguments, timeout: timeout, environment: environment).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The raw output (file names from git are bytes, not necessarily text).
    static func runBytes(
        _ arguments: [String], timeout: Double = 3, maxOutputBytes: Int = maxOutputBytes,
        environment: [String: String]? = nil
    ) -> [UInt8]? {
        guard let program = arguments.first, let executable = locate(program) else { return nil }
        let deadline = Date().addingTimeInterval(timeout)
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
        // Its own process group, so a timeout kills what it started too. dup2 onto the
        // child's stdout clears the close-on-exec flag there.
        let pid = try? spawn(
            executable, [executable] + arguments.dropFirst(),
            environment: environment ?? Host.current.environment,
            stdout: .descriptor(writeEnd), stderr: .null, newProcessGroup: true)
        close(writeEnd)
        spawning.unlock()
        guard let pid else { return nil }

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
        guard CommandTermination(waitStatus: status) == .exited(0) else { return nil }
        return output
    }

    // MARK: -

    /// Attributes for posix_spawn (destroy them after use): no blocked signals, and SIGPIPE
    /// back to its default (the Swift runtime ignores it), so a child sees the signals a shell
    /// would have given it. Caught signals are reset by exec itself.
    private static func spawnAttributes(newProcessGroup: Bool) -> posix_spawnattr_t {
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

    /// glibc's posix_spawn_file_actions_addchdir_np (2.29+), which Swift's Glibc module does
    /// not show: looked up at run time.
    private typealias AddChdir =
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) ->
        Int32
    private static let addChdir: AddChdir? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else {
            return nil
        }
        return unsafeBitCast(symbol, to: AddChdir.self)
    }()

    /// A NULL-terminated array of C strings, valid during `body`.
    private static func withCStrings<R>(
        _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
    ) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
