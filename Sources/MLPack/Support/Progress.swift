/// Progress of long work, reported to the caller (the CLI draws a bar from it).
public struct ProgressUpdate: Sendable {
    public var phase: String
    public var completed: UInt64
    public var total: UInt64
}

public typealias ProgressHandler = @Sendable (ProgressUpdate) -> Void

/// Counts bytes of one phase and reports them.
final class ProgressCounter {
    private let handler: ProgressHandler?
    private let phase: String
    private let total: UInt64
    private(set) var completed: UInt64 = 0

    init(_ handler: ProgressHandler?, phase: String, total: UInt64) {
        self.handler = handler
        self.phase = phase
        self.total = total
        handler?(ProgressUpdate(phase: phase, completed: 0, total: total))
    }

    func advance(by count: Int) {
        completed += UInt64(count)
        handler?(ProgressUpdate(phase: phase, completed: completed, total: total))
    }
}
