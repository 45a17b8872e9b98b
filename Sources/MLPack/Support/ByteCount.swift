import Foundation

/// Byte counts as people write them: "1.5 GB" out, "20G" / "512M" / "4096" in (powers of
/// 1024, as `ls -h` and `du -h`).
public enum ByteCount {
    private static let units = ["K", "M", "G", "T"]

    /// 1536 → "1.5 KB".
    public static func text(_ count: UInt64) -> String {
        if count < 1024 { return "\(count) B" }
        var value = Double(count)
        for unit in units {
            value /= 1024
            if value < 1024 || unit == "T" { return String(format: value < 10 ? "%.1f %@B" : "%.0f %@B", value, unit) }
        }
        return "\(count) B"
    }

    /// "20G", "1.5g", "512MB", "4096" → bytes; nil for anything else.
    public static func parse(_ text: String) -> UInt64? {
        var number = text.trimmingCharacters(in: .whitespaces).uppercased()
        if number.hasSuffix("IB") { number.removeLast(2) } else if number.hasSuffix("B") { number.removeLast() }
        var scale = 1.0
        if let last = number.last, let power = units.firstIndex(of: String(last)) {
            scale = pow(1024, Double(power + 1))
            number.removeLast()
        }
        guard let value = Double(number), value.isFinite, value >= 0, value * scale < 1.8e19 else { return nil }
        return UInt64(value * scale)
    }
}
