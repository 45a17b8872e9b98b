import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Run ids and times, always in UTC: `20261128T003512Z-a1b2c3` sorts by start time, and
/// `2026-11-28T00:35:12.345Z` (RFC 3339 with milliseconds) is what a record holds.
enum RunClock {
    static func id(started: Date) -> String {
        let random = (0..<3).map { _ in UInt8.random(in: 0...255) }
        return format(started, "%04d%02d%02dT%02d%02d%02dZ") + "-" + Hex.encode(random)
    }

    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int((date.timeIntervalSince1970 * 1000).rounded(.down)) % 1000
        return format(date, "%04d-%02d-%02dT%02d:%02d:%02d") + String(format: ".%03dZ", milliseconds)
    }

    /// A record's time back as a date (nil when it is not one of ours).
    static func date(_ timestamp: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: timestamp)
    }

    /// Whole seconds of `date`, broken down in UTC.
    private static func format(_ date: Date, _ pattern: String) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: pattern, Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_hour),
            Int(parts.tm_min),
            Int(parts.tm_sec))
    }
}
