import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// Read by the signal handler, which as a C function cannot capture anything. The pipe is
// set only while no handler is installed (before `install`, after `restore`); the flag is a
// single aligned word, written by the thread that waits for the command, which is also the
// thread the kernel picks for a process-wide signal while it does not block it.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1
nonisolated(unsafe) private var commandRunning: Int32 = 0

/// Keeps `mlpack run` alive through SIGINT, SIGTERM, SIGHUP and SIGQUIT while the command
/// runs, and passes each to the command: an interrupted run is still recorded. The handler
/// only writes the signal's number into a pipe; a thread reads it and does the forwarding,
/// which may need to look in /proc (under strace, the command is strace's child).
///
/// A signal the terminal sent (Ctrl-C, Ctrl-\, hang-up) went to the whole foreground process
/// group, the command included, so it is not sent a second time. Before the command starts
/// and after it ended (while its outputs are hashed), a signal ends mlpack as it would
/// without the handler: a second Ctrl-C gives up the recording.
final class SignalForwarder: @unchecked Sendable {
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

    private let readEnd: Int32
    private let writeEnd: Int32
    private let lock = NSLock()
    private var target: (pid: pid_t, isTracer: Bool)?
    private var pending: [Int32] = []
    private var saved: [Int32: sigaction] = [:]
    private var savedMask = sigset_t()

    /// Creates the pipe (close-on-exec) and starts the forwarding thread; no handler yet.
    init() throws {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw MLPackError.io(path: "pipe", reason: PosixFile.lastError()) }
        (readEnd, writeEnd) = (ends[0], ends[1])
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // A full pipe (hundreds of signals unread) must not block the handler.
        _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) | O_NONBLOCK)
        let thread = Thread { [self] in forwardLoop() }
        thread.name = "mlpack-signal-forwarder"
        thread.start()
    }

    /// Our descriptors, for the command not to inherit.
    var descriptors: [Int32] { [readEnd, writeEnd] }

    /// Catches the signals, except those this process was told to ignore (nohup): the
    /// command inherits the ignoring, and forwarding them would undo it. A signal blocked
    /// in this thread (a mask inherited by accident, as from a parent's worker thread) is
    /// unblocked here, else it would stay pending and never be forwarded.
    func install() {
        signalPipeWriteEnd = writeEnd
        for signal in Self.signals {
            var current = sigaction()
            guard sigaction(signal, nil, &current) == 0, !Self.isIgnored(current) else { continue }
            var action = sigaction()
            action.__sigaction_handler.sa_sigaction = { signal, info, _ in
                guard commandRunning != 0 else {
                    // Only async-signal-safe calls here.
                    _ = Glibc.signal(signal, SIG_DFL)
                    raise(signal)
                    return
                }
                // SI_KERNEL (0x80): sent by the terminal to the whole process group.
                if let info, info.pointee.si_code == 0x80 { return }
                var byte = UInt8(truncatingIfNeeded: signal)
                _ = write(signalPipeWriteEnd, &byte, 1)
            }
            action.sa_flags = SA_SIGINFO | SA_RESTART
            sigemptyset(&action.sa_mask)
            var previous = sigaction()
            if sigaction(signal, &action, &previous) == 0 { saved[signal] = previous }
        }
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signal in saved.keys { sigaddset(&unblock, signal) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, &savedMask)
    }

    /// The command is about to start: from now on signals are kept for it.
    func commandStarting() {
        commandRunning = 1
    }

    /// From now on signals go to `pid`; those received before are sent now. Under strace
    /// (`isTracer`), they go to strace's children: strace holds fatal signals back while it
    /// waits for the program it started.
    func forward(to pid: pid_t, isTracer: Bool) {
        lock.lock()
        target = (pid, isTracer)
        let waiting = pending
        pending = []
        lock.unlock()
        for signal in waiting { send(signal, to: (pid, isTracer)) }
    }

    /// The command has ended (or could not start): nothing to forward to any more.
    func stopForwarding() {
        commandRunning = 0
        lock.withLock {
            target = nil
            pending = []
        }
    }

    /// Puts the previous handlers and signal mask back, and ends the thread.
    func restore() {
        if !saved.isEmpty { pthread_sigmask(SIG_SETMASK, &savedMask, nil) }
        for (signal, previous) in saved {
            var action = previous
            sigaction(signal, &action, nil)
        }
        saved = [:]
        commandRunning = 0
        signalPipeWriteEnd = -1
        close(writeEnd)
    }

    private func forwardLoop() {
        defer { close(readEnd) }
        var byte: UInt8 = 0
        while true {
            let n = read(readEnd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            guard n == 1 else { return }
            let signal = Int32(byte)
            lock.lock()
            let current = target
            if current == nil { pending.append(signal) }
            lock.unlock()
            if let current { send(signal, to: current) }
        }
    }

    private func send(_ signal: Int32, to target: (pid: pid_t, isTracer: Bool)) {
        guard target.isTracer else {
            kill(target.pid, signal)
            return
        }
        let children = Self.children(of: target.pid)
        if children.isEmpty { kill(target.pid, signal) }
        for child in children { kill(child, signal) }
    }

    /// The processes whose parent is `pid`, from /proc/<pid>/task/<pid>/children (or, when
    /// the kernel lacks it, the parent field of every /proc/<n>/stat).
    static func children(of pid: pid_t) -> [pid_t] {
        if let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8) {
            return text.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return names.compactMap { name -> pid_t? in
            guard let child = pid_t(name),
                let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // "pid (comm) state ppid …": the name may hold spaces and parentheses.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == pid ? child : nil
        }
    }

    /// Whether `action` is SIG_IGN.
    static func isIgnored(_ action: sigaction) -> Bool {
        guard action.sa_flags & SA_SIGINFO == 0, let handler = action.__sigaction_handler.sa_handler else {
            return false
        }
        return unsafeBitCast(handler, to: Int.self) == 1  // SIG_IGN
    }
}
