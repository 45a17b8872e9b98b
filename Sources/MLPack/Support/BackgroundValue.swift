import Foundation

/// A value computed on its own thread while the caller does something else (the environment
/// capture while the user's command runs). A plain thread, not Dispatch: the work mostly
/// waits on child processes, and Dispatch's pool is only as wide as the CPUs.
final class BackgroundValue<Value: Sendable>: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var result: Value?

    init(_ body: @escaping @Sendable () -> Value) {
        Thread.detachNewThread { [self] in
            let value = body()
            lock.withLock { result = value }
            finished.signal()
        }
    }

    /// Waits for the value.
    var value: Value {
        finished.wait()
        finished.signal()  // for the next reader
        return lock.withLock { result! }
    }
}
