import Foundation
import MLPack

#if canImport(Glibc)
    import Glibc
#endif

/// `mlpack run` ends the way its command ended, so scripts and shells cannot tell the
/// difference: the same exit status, or death by the same signal.
enum ChildExit {
    static func exit(like termination: CommandTermination) -> Never {
        switch termination {
        case .exited(let status):
            Foundation.exit(status)
        case .signaled(let signal):
            fflush(nil)  // print()'s buffer: raise() ends the process without exit's flushing
            // SIGQUIT, SIGSEGV, SIGABRT… dump core by default: the command's core is the one
            // that matters, mlpack's own would only be confusing.
            var limit = rlimit()
            if getrlimit(RLIMIT_CORE_ID, &limit) == 0 {
                limit.rlim_cur = 0
                setrlimit(RLIMIT_CORE_ID, &limit)
            }
            Glibc.signal(signal, SIG_DFL)
            var unblock = sigset_t()
            sigemptyset(&unblock)
            sigaddset(&unblock, signal)
            sigprocmask(SIG_UNBLOCK, &unblock, nil)
            raise(signal)
            // A signal whose default is not to end the process: the shell's convention.
            Foundation.exit(128 + signal)
        }
    }

    private static let RLIMIT_CORE_ID = __rlimit_resource_t(RLIMIT_CORE.rawValue)
}
