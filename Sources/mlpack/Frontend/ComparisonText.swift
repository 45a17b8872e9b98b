import Foundation
import MLPack

/// A comparison as text: shared by `compare`, `diff` and `verify --rebuild`.
enum ComparisonText {
    /// "max abs 0.006, max rel 0.8 in emb.weight", or "" when nothing differs by value.
    static func summary(_ comparison: Comparison) -> String {
        var parts: [String] = []
        if let abs = comparison.maxAbsoluteDifference, abs > 0 { parts.append("max abs \(number(abs))") }
        if let rel = comparison.maxRelativeDifference, rel > 0 { parts.append("max rel \(number(rel))") }
        if let worst = comparison.worst, !parts.isEmpty { parts.append("in \(worst)") }
        return parts.joined(separator: ", ")
    }

    /// What differs, line by line: problems, changed tensors, changed metrics, notes.
    static func details(_ comparison: Comparison, indent: String, allTensors: Bool = false) -> [String] {
        var out = comparison.problems.prefix(8).map { "\(indent)! \($0)" }
        if comparison.problems.count > 8 { out.append("\(indent)! … and \(comparison.problems.count - 8) more") }
        let tensors = comparison.tensors.filter { allTensors || $0.verdict != .identical }
        if !tensors.isEmpty {
            let width = min(40, tensors.map(\.name.count).max() ?? 0)
            out.append(
                indent + pad("tensor", width) + "  " + pad("dtype", 6) + " " + pad("shape", 14) + " "
                    + pad("verdict", 17)
                    + " " + pad("max abs", 10) + " " + pad("max rel", 10) + " changed")
            for row in tensors.prefix(allTensors ? .max : 20) {
                let shape = "[" + row.shape.map(String.init).joined(separator: ",") + "]"
                let changed = row.elements > 0 ? "\(row.changedElements)/\(row.elements)" : ""
                out.append(
                    indent + pad(row.name, width) + "  " + pad(row.dtype, 6) + " " + pad(shape, 14) + " "
                        + pad(row.verdict.rawValue, 17)
                        + " " + pad(row.maxAbs.map(number) ?? "", 10) + " " + pad(row.maxRel.map(number) ?? "", 10)
                        + " " + changed)
            }
            if !allTensors && tensors.count > 20 { out.append("\(indent)… and \(tensors.count - 20) more tensors") }
        }
        for metric in comparison.metrics where metric.verdict != .identical {
            let difference = metric.difference.map { ", difference \(number($0))" } ?? ""
            let tolerance = metric.tolerance.map { ", allowed \(number($0))" } ?? ""
            out.append(
                "\(indent)metric \(metric.name): \(value(metric.expected)) → \(value(metric.actual)) (\(metric.verdict.rawValue)\(difference)\(tolerance)\(metric.counted ? "" : ", timing: not counted"))"
            )
        }
        out += comparison.notes.map { "\(indent)note: \($0)" }
        return out
    }

    static func number(_ value: Double) -> String { String(format: "%.3g", value) }

    static func value(_ value: JSONValue?) -> String {
        guard let value else { return "absent" }
        switch value {
        case .number(let number): return "\(number)"
        case .string(let text): return text
        case .bool(let flag): return "\(flag)"
        case .null: return "null"
        case .array, .object: return "…"
        }
    }
}
