import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Starts the user's command for `mlpack run` in the foreground: same process group, same
/// standard input, output and error, so it behaves as if the shell had started it (a
/// terminal's Ctrl-C reaches it, progress bars draw live). `ChildProcess.run` is for helper
/// programs whose output mlpack reads; this is for the one program mlpack exists to watch.
enum ForegroundCommand {
    /// Starts `executable` with `arguments` (`arguments[0]` is the name the program sees) and
    /// `environment`, in `directory` (default: ours); `closing` are descriptors of ours the
    /// child must not inherit. In mlpack's process group, so a terminal's Ctrl-C reaches it;
    /// ignored signals stay ignored, as under nohup.
    static func spawn(
        executable: String, arguments: [String], environment: [String: String], directory: String? = nil,
        closing: [Int32] = []
    ) throws -> pid_t {
        func start(_ path: String, _ argv: [String]) throws(ChildProcess.SpawnError) -> pid_t {
            try ChildProcess.spawn(
                path, argv, environment: environment, stdin: .inherit, stdout: .inherit, stderr: .inherit,
                directory: directory, newProcessGroup: false, closing: closing)
        }
        do {
            do { return try start(executable, arguments) } catch  where error.code == ENOEXEC {
                // A script without a #! line: a shell runs it with sh, so mlpack does too.
                return try start("/bin/sh", ["sh", executable] + arguments.dropFirst())
            }
        } catch {
            if error.code == ENOSYS { throw MLPackError.usage(Message(error.description)) }
            throw MLPackError.cannotRun(program: arguments.first ?? executable, reason: error.description, status: 126)
        }
    }

    /// Waits for `pid` to end (signals that interrupt the wait are handled elsewhere).
    static func wait(_ pid: pid_t) -> CommandTermination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return .exited(127) }  // not our child: cannot happen
        }
        return CommandTermination(waitStatus: status)
    }
}
