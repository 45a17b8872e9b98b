import Foundation

extension RunRecord {
    /// Seconds from start to end, from the record's RFC 3339 times (nil if unreadable).
    public var durationSeconds: Double? {
        guard let start = RunClock.date(started), let end = RunClock.date(ended) else { return nil }
        return end.timeIntervalSince(start)
    }
}
