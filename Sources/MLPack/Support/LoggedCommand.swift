import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a program with its output going to a log file and an optional time limit: the
/// replayed runs of a rebuild, which may print a lot and must not take forever.
enum LoggedCommand {
    struct Outcome: Sendable {
        var termination: CommandTermination
        var timedOut: Bool
        /// Why `check` had it stopped.
        var stopped: String?
        var seconds: Double
    }

    /// `arguments[0]` must be an absolute path. The child gets its own process group, so a
    /// timeout kills whatever it started. `check`, asked every `checkEvery` seconds while it
    /// runs, stops it by returning why (a workspace grown past its limit).
    /// `follow` gets what the program writes to the log as it writes it, made safe for a
    /// terminal (`terminalSafe`).
    static func run(
        _ arguments: [String], log: String, environment: [String: String], timeout: Double?,
        check: (() -> String?)? = nil, checkEvery: Double = 1, follow: (([UInt8]) -> Void)? = nil
    ) throws -> Outcome {
        let logFile = try PosixFile(path: log, mode: .createTruncate)
        // The log as the program writes it, read through a handle of its own.
        let reader = follow == nil ? nil : try PosixFile(path: log, mode: .read)
        var followed: UInt64 = 0
        /// Whether it found anything new.
        @discardableResult func catchUp() -> Bool {
            guard let follow, let reader, let size = reader.seekableSize, size > followed,
                let bytes = try? reader.read(at: followed, count: Int(min(size - followed, 1 << 20))),
                !bytes.isEmpty
            else { return false }
            followed += UInt64(bytes.count)
            follow(terminalSafe(bytes))
            return true
        }
        let started = Date()
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(
                arguments[0], arguments, environment: environment, stdout: .descriptor(logFile.fd),
                stderr: .descriptor(logFile.fd), newProcessGroup: true)
        } catch {
            throw MLPackError.io(path: arguments[0], reason: error.description)
        }
        var status: Int32 = 0
        var timedOut = false
        var stopped: String?
        var checked = started
        // Short commands (uv from its cache) are waited for in milliseconds, long ones
        // (a training) without spinning.
        var pause: UInt32 = 1_000
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { break }
            if result < 0 && errno != EINTR { break }
            if !timedOut && stopped == nil {
                if let timeout, Date().timeIntervalSince(started) > timeout {
                    timedOut = true
                } else if let check, Date().timeIntervalSince(checked) >= checkEvery {
                    checked = Date()
                    stopped = check()
                }
                if timedOut || stopped != nil {
                    kill(-pid, SIGKILL)
                    kill(pid, SIGKILL)
                }
            }
            catchUp()
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        while catchUp() {}
        let termination: CommandTermination =
            status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
        return Outcome(
            termination: termination, timedOut: timedOut, stopped: stopped, seconds: Date().timeIntervalSince(started))
    }

    /// A stranger's output, made safe to show on a terminal: control bytes other than tab,
    /// newline and carriage return (escape sequences can rewrite the screen or the title,
    /// or feign mlpack's own lines) become `?`.
    static func terminalSafe(_ bytes: [UInt8]) -> [UInt8] {
        bytes.map { byte in
            (byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D) || byte == 0x7F ? UInt8(ascii: "?") : byte
        }
    }
}
