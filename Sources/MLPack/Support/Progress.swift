import Foundation

/// Progress of long work, reported to the caller (the CLI draws a bar from it).
public struct ProgressUpdate: Sendable {
    public var phase: String
    public var completed: UInt64
    public var total: UInt64
}

public typealias ProgressHandler = @Sendable (ProgressUpdate) -> Void

/// Counts bytes of one phase and reports them; safe to advance from several threads (files
/// hashed in parallel).
final class ProgressCounter: @unchecked Sendable {
    private let handler: ProgressHandler?
    private let phase: String
    private let total: UInt64
    private let lock = NSLock()
    private var done: UInt64 = 0

    init(_ handler: ProgressHandler?, phase: String, total: UInt64) {
        self.handler = handler
        self.phase = phase
        self.total = total
        handler?(ProgressUpdate(phase: phase, completed: 0, total: total))
    }

    var completed: UInt64 { lock.withLock { done } }

    /// Reports under the lock, so the handler sees one update at a time, never going back.
    func advance(by count: Int) {
        lock.withLock {
            done += UInt64(count)
            handler?(ProgressUpdate(phase: phase, completed: done, total: total))
        }
    }
}
