import Foundation

/// Text of a pack (names, commands, metadata, log lines) inside HTML or SVG: a pack is a
/// stranger's, and the report opens in a browser. Everything that did not come from mlpack
/// itself goes through `escape`.
enum Markup {
    /// `&`, `<`, `>`, quotes escaped (safe in element text and in quoted attributes), and
    /// control characters other than tab and newline shown as `?`.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n": out.unicodeScalars.append(scalar)
            default:
                if scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format {
                    out += "?"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// A number for a coordinate: short, and never in exponent notation.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        return String(format: "%.1f", value).replacingOccurrences(of: ".0", with: "")
    }

    /// A difference as people read it: "0.00612", "3.2e-07".
    static func amount(_ value: Double) -> String { String(format: "%.3g", value) }
}
