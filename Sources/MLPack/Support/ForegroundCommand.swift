import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How the user's command ended.
public enum CommandTermination: Sendable, Equatable {
    /// Exited with this status.
    case exited(Int32)
    /// Ended by this signal.
    case signaled(Int32)
}

/// Starts the user's command for `mlpack run` in the foreground: same process group, same
/// standard input, output and error, so it behaves as if the shell had started it (a
/// terminal's Ctrl-C reaches it, progress bars draw live). `ChildProcess` is for helper
/// programs whose output mlpack reads; this is for the one program mlpack exists to watch.
enum ForegroundCommand {
    /// The file a shell in `directory` would run for `program`: a name with a slash as it
    /// is, else the first executable match on PATH; relative paths are made absolute against
    /// `directory`. Fails as a shell does: 127 when there is nothing to run, 126 when there
    /// is something that cannot be run.
    static func resolve(
        _ program: String, in directory: String, path searchPath: String? = ProcessInfo.processInfo.environment["PATH"]
    ) throws -> String {
        func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : directory + "/" + path }
        guard !program.isEmpty else { throw MLPackError.cannotRun(program: "''", reason: "command not found", status: 127) }
        if program.contains("/") {
            let candidate = absolute(program)
            guard let status = FileSystem.status(candidate, followLinks: true) else {
                throw MLPackError.cannotRun(program: program, reason: "no such file or directory", status: 127)
            }
            if status.isDirectory { throw MLPackError.cannotRun(program: program, reason: "is a directory", status: 126) }
            guard access(candidate, X_OK) == 0 else { throw MLPackError.cannotRun(program: program, reason: "permission denied", status: 126) }
            return candidate
        }
        var notExecutable: String?
        // An empty PATH entry means the current folder, as in sh.
        for folder in (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = absolute((folder.isEmpty ? "." : String(folder)) + "/" + program)
            guard let status = FileSystem.status(candidate, followLinks: true), status.isRegular else { continue }
            if access(candidate, X_OK) == 0 { return candidate }
            notExecutable = notExecutable ?? candidate
        }
        if let notExecutable { throw MLPackError.cannotRun(program: notExecutable, reason: "permission denied", status: 126) }
        throw MLPackError.cannotRun(program: program, reason: "command not found", status: 127)
    }

    /// Starts `executable` with `arguments` (`arguments[0]` is the name the program sees) and
    /// `environment`, in `directory` (default: ours); `closing` are descriptors of ours the
    /// child must not inherit.
    static func spawn(
        executable: String, arguments: [String], environment: [String: String], directory: String? = nil, closing: [Int32] = []
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in closing where fd >= 0 { posix_spawn_file_actions_addclose(&actions, fd) }
        if let directory, directory != FileManager.default.currentDirectoryPath {
            guard let addChdir = Self.addChdir else {
                throw MLPackError.usage("cannot start a command in another folder with this C library (glibc 2.29 or later is needed)")
            }
            _ = addChdir(&actions, directory)
        }

        // In mlpack's process group, so a terminal's Ctrl-C reaches it; ignored signals stay
        // ignored, as under nohup.
        var attributes = ChildProcess.spawnAttributes(newProcessGroup: false)
        defer { posix_spawnattr_destroy(&attributes) }

        let envp = environment.map { "\($0.key)=\($0.value)" }.sorted()
        func start(_ path: String, _ argv: [String]) -> (Int32, pid_t) {
            // Not while a helper's pipe is still inheritable (see ChildProcess.spawning).
            ChildProcess.spawning.lock()
            defer { ChildProcess.spawning.unlock() }
            var pid: pid_t = 0
            let result = withCStrings(argv) { argv in
                withCStrings(envp) { envp in posix_spawn(&pid, path, &actions, &attributes, argv, envp) }
            }
            return (result, pid)
        }
        var (result, pid) = start(executable, arguments)
        // A script without a #! line: a shell runs it with sh, so mlpack does too.
        if result == ENOEXEC { (result, pid) = start("/bin/sh", ["sh", executable] + arguments.dropFirst()) }
        guard result == 0 else {
            throw MLPackError.cannotRun(program: arguments.first ?? executable, reason: String(cString: strerror(result)).lowercased(), status: 126)
        }
        return pid
    }

    /// glibc's posix_spawn_file_actions_addchdir_np (2.29+), which Swift's Glibc module does
    /// not show: looked up at run time.
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private static let addChdir: AddChdir? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(symbol, to: AddChdir.self)
    }()

    /// Waits for `pid` to end (signals that interrupt the wait are handled elsewhere).
    static func wait(_ pid: pid_t) -> CommandTermination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return .exited(127) }  // not our child: cannot happen
        }
        // The <sys/wait.h> macros are not visible from Swift: low 7 bits are the signal (0
        // for a normal exit), the next byte the exit status.
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }

    /// A NULL-terminated array of C strings, valid during `body`.
    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
