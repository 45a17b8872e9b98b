import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// Written once, before the handler is installed; the handler, a C function, cannot capture.
nonisolated(unsafe) private var cleanupPipeWriteEnd: Int32 = -1

/// What a writer leaves behind until it is done (a pack's temporary file, an extraction's
/// staging folder) is removed when SIGINT, SIGTERM or SIGHUP ends mlpack, which then exits
/// 128 + the signal's number (130, 143, 129), as a shell reports a command a signal ended.
///
/// The handler only writes the signal's number into a pipe: removing a folder tree is not
/// async-signal-safe. A thread reads it, removes every registered path and exits. Signals
/// this process was told to ignore (nohup) stay ignored. `mlpack run` puts its own handlers
/// in place while the command runs (SignalForwarder) and this one back after.
enum InterruptCleanup {
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    private static let registry = Registry()

    private final class Registry: @unchecked Sendable {
        let lock = NSLock()
        var paths: Set<String> = []
        /// Set up on first use, so a process that never writes keeps the default handlers.
        lazy var installed: Bool = InterruptCleanup.install()
    }

    /// From now until `unregister`, `path` (a file or a folder, which need not exist yet) is
    /// removed if a signal ends the process. Register before creating it.
    static func register(_ path: String) {
        registry.lock.withLock {
            _ = registry.installed
            registry.paths.insert(path)
        }
    }

    static func unregister(_ path: String) {
        _ = registry.lock.withLock { registry.paths.remove(path) }
    }

    private static func install() -> Bool {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return false }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
        cleanupPipeWriteEnd = ends[1]
        let readEnd = ends[0]
        let thread = Thread {
            // Signals blocked in every other thread (a mask inherited by accident, as from a
            // parent's worker thread) still reach this one.
            var unblock = sigset_t()
            sigemptyset(&unblock)
            for signal in signals { sigaddset(&unblock, signal) }
            pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
            var byte: UInt8 = 0
            while read(readEnd, &byte, 1) != 1 {
                if errno != EINTR { return }
            }
            // The lock stays taken: no writer registers or lets go of a path from now on.
            registry.lock.lock()
            // A writer still running may add a file to a folder being removed: try again.
            for path in registry.paths {
                for _ in 0..<3 where FileSystem.status(path) != nil { FileSystem.removeTree(path) }
            }
            _exit(128 + Int32(byte))
        }
        thread.name = "mlpack-interrupt-cleanup"
        thread.start()
        for signal in signals {
            var current = sigaction()
            guard sigaction(signal, nil, &current) == 0, !SignalForwarder.isIgnored(current) else { continue }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signal in
                var byte = UInt8(truncatingIfNeeded: signal)
                _ = write(cleanupPipeWriteEnd, &byte, 1)
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
        return true
    }
}
