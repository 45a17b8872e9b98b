import Foundation

/// The report's charts as inline SVG, from numbers a comparison already made: the largest
/// difference per tensor on a log scale against the tolerance, the spread of one tensor's
/// element differences, and metrics against their tolerance bands.
enum Charts {
    /// Tensors shown in the per-tensor chart, worst first.
    static let tensorRows = 40

    /// One bar per tensor compared by value: its max abs difference, log scale; the atol as
    /// a dashed line. Nil when no tensor differs by value.
    static func tensors(_ comparison: Comparison) -> String? {
        let rows = comparison.tensors.filter { $0.maxAbs != nil }
            .sorted { ($0.maxAbs ?? 0, $1.name) > ($1.maxAbs ?? 0, $0.name) }
        let values = rows.compactMap(\.maxAbs).filter { $0 > 0 }
        guard !values.isEmpty else { return nil }
        let atol = comparison.tolerance.atol
        let shown = Array(rows.prefix(tensorRows))
        let low = floor(log10(min(values.min()!, atol > 0 ? atol : .infinity))) - 1
        let high = max(ceil(log10(max(values.max()!, atol))), low + 1)
        let labelWidth = min(44.0, Double(shown.map(\.name.count).max() ?? 0)) * 6.6 + 12
        let barWidth = 440.0
        let rowHeight = 18.0
        let top = 22.0
        let width = labelWidth + barWidth + 150
        let height = top + rowHeight * Double(shown.count) + 30
        func x(_ value: Double) -> Double { labelWidth + (log10(value) - low) / (high - low) * barWidth }

        var out =
            "<svg class=\"chart\" width=\"\(Markup.number(width))\" height=\"\(Markup.number(height))\" viewBox=\"0 0 \(Markup.number(width)) \(Markup.number(height))\" role=\"img\" aria-label=\"max abs difference per tensor\">\n"
        let axisY = top + rowHeight * Double(shown.count) + 4
        for decade in stride(from: low, through: high, by: 1) {
            let position = labelWidth + (decade - low) / (high - low) * barWidth
            out +=
                "<line class=\"grid\" x1=\"\(Markup.number(position))\" y1=\"\(Markup.number(top - 4))\" x2=\"\(Markup.number(position))\" y2=\"\(Markup.number(axisY))\"/>"
            out +=
                "<text class=\"tick\" x=\"\(Markup.number(position))\" y=\"\(Markup.number(axisY + 14))\">1e\(Int(decade))</text>\n"
        }
        for (index, row) in shown.enumerated() {
            let y = top + rowHeight * Double(index)
            let name = row.name.count > 44 ? "…" + String(row.name.suffix(43)) : row.name
            out +=
                "<text class=\"label\" x=\"\(Markup.number(labelWidth - 6))\" y=\"\(Markup.number(y + 13))\">\(Markup.escape(name))</text>"
            let value = row.maxAbs ?? 0
            if value > 0 {
                out +=
                    "<rect class=\"bar \(tone(row.verdict))\" x=\"\(Markup.number(labelWidth))\" y=\"\(Markup.number(y + 3))\" width=\"\(Markup.number(max(1, x(value) - labelWidth)))\" height=\"\(Markup.number(rowHeight - 6))\"><title>\(Markup.escape(row.name)): max abs \(Markup.amount(value))</title></rect>"
                out +=
                    "<text class=\"value\" x=\"\(Markup.number(x(value) + 4))\" y=\"\(Markup.number(y + 13))\">\(Markup.amount(value))</text>\n"
            } else {
                out +=
                    "<text class=\"value muted\" x=\"\(Markup.number(labelWidth + 4))\" y=\"\(Markup.number(y + 13))\">identical</text>\n"
            }
        }
        if atol > 0 {
            let position = x(atol)
            out +=
                "<line class=\"tolerance\" x1=\"\(Markup.number(position))\" y1=\"\(Markup.number(top - 8))\" x2=\"\(Markup.number(position))\" y2=\"\(Markup.number(axisY))\"/>"
            out +=
                "<text class=\"tolerance-label\" x=\"\(Markup.number(position))\" y=\"\(Markup.number(top - 10))\">tolerance: atol \(Markup.amount(atol))</text>\n"
        }
        out += "</svg>\n"
        if rows.count > shown.count {
            out +=
                "<p class=\"note\">… and \(rows.count - shown.count) more tensors, each with a smaller difference.</p>\n"
        }
        return out
    }

    /// The element differences of one tensor by power of two, counts on a linear scale, the
    /// atol as a dashed line. Nil when the tensor has no nonzero difference.
    static func histogram(_ row: TensorComparison, tolerance: ComparisonTolerance) -> String? {
        guard let bins = row.differences, let first = bins.first?.exponent, let last = bins.last?.exponent else {
            return nil
        }
        let counts = Dictionary(uniqueKeysWithValues: bins.map { ($0.exponent, $0.count) })
        let atol = tolerance.atol
        var low = first
        var high = last
        if atol > 0, atol.isFinite {
            let exponent = Int(atol.exponent)
            low = min(low, exponent)
            high = max(high, exponent)
        }
        low -= 1
        high += 1
        let binWidth = max(6.0, min(24.0, 560.0 / Double(high - low + 1)))
        let plotHeight = 120.0
        let left = 56.0
        let top = 18.0
        let caption =
            "|rebuilt − expected| per element (log₂ bins); \(row.changedElements) of \(row.elements) elements changed"
        let width = max(left + binWidth * Double(high - low + 1) + 20, left + Double(caption.count) * 6.7)
        let height = top + plotHeight + 36
        let peak = Double(bins.map(\.count).max() ?? 1)
        var out =
            "<svg class=\"chart\" width=\"\(Markup.number(width))\" height=\"\(Markup.number(height))\" viewBox=\"0 0 \(Markup.number(width)) \(Markup.number(height))\" role=\"img\" aria-label=\"element differences of \(Markup.escape(row.name))\">\n"
        let base = top + plotHeight
        out +=
            "<line class=\"axis\" x1=\"\(Markup.number(left))\" y1=\"\(Markup.number(base))\" x2=\"\(Markup.number(width - 12))\" y2=\"\(Markup.number(base))\"/>"
        out +=
            "<text class=\"tick end\" x=\"\(Markup.number(left - 4))\" y=\"\(Markup.number(top + 8))\">\(Int(peak))</text><text class=\"tick end\" x=\"\(Markup.number(left - 4))\" y=\"\(Markup.number(base))\">0</text>\n"
        for exponent in low...high {
            let x = left + binWidth * Double(exponent - low)
            if let count = counts[exponent] {
                let barHeight = max(1, Double(count) / peak * plotHeight)
                // A bin wholly under the atol is within tolerance whatever the rtol.
                let under = atol > 0 && pow(2, Double(exponent + 1)) <= atol
                out +=
                    "<rect class=\"bar \(under ? "good" : tone(row.verdict))\" x=\"\(Markup.number(x + 1))\" y=\"\(Markup.number(base - barHeight))\" width=\"\(Markup.number(binWidth - 2))\" height=\"\(Markup.number(barHeight))\"><title>\(count) elements differ by \(Markup.amount(pow(2, Double(exponent)))) to \(Markup.amount(pow(2, Double(exponent + 1))))</title></rect>"
            }
            // A label where the bin holds a power of ten.
            let decade = ceil(Double(exponent) * log10(2.0))
            if decade < Double(exponent + 1) * log10(2.0) {
                out +=
                    "<text class=\"tick\" x=\"\(Markup.number(x + binWidth / 2))\" y=\"\(Markup.number(base + 14))\">1e\(Int(decade))</text>"
            }
        }
        if atol > 0, atol.isFinite {
            let position = left + binWidth * (log2(atol) - Double(low))
            out +=
                "<line class=\"tolerance\" x1=\"\(Markup.number(position))\" y1=\"\(Markup.number(top - 6))\" x2=\"\(Markup.number(position))\" y2=\"\(Markup.number(base))\"/>"
            out +=
                "<text class=\"tolerance-label\" x=\"\(Markup.number(position))\" y=\"\(Markup.number(top - 8))\">atol \(Markup.amount(atol))</text>"
        }
        out +=
            "<text class=\"caption\" x=\"\(Markup.number(left))\" y=\"\(Markup.number(height - 4))\">\(caption)</text>\n"
        return out + "</svg>\n"
    }

    /// One row per numeric metric: the band the tolerance allows around the expected value,
    /// the expected value (hollow) and the rebuilt one (filled). Nil without numeric metrics.
    static func metrics(_ comparison: Comparison) -> String? {
        let rows: [(MetricComparison, Double, Double)] = comparison.metrics.compactMap { metric in
            guard case .number(let expected)? = metric.expected, case .number(let actual)? = metric.actual,
                expected.isFinite, actual.isFinite
            else { return nil }
            return (metric, expected, actual)
        }
        guard !rows.isEmpty else { return nil }
        let labelWidth = min(36.0, Double(rows.map(\.0.name.count).max() ?? 0)) * 6.6 + 12
        let plotWidth = 360.0
        let rowHeight = 26.0
        let values = rows.map { metric, expected, actual in
            "\(Markup.amount(expected)) → \(Markup.amount(actual)) \(metric.verdict.rawValue)"
                + (metric.counted ? "" : " (timing, not counted)")
        }
        let width = labelWidth + plotWidth + 20 + Double(values.map(\.count).max() ?? 0) * 6.6
        let height = rowHeight * Double(rows.count) + 10
        var out =
            "<svg class=\"chart\" width=\"\(Markup.number(width))\" height=\"\(Markup.number(height))\" viewBox=\"0 0 \(Markup.number(width)) \(Markup.number(height))\" role=\"img\" aria-label=\"metrics against their tolerance\">\n"
        for (index, (metric, expected, actual)) in rows.enumerated() {
            let allowed = metric.tolerance ?? 0
            var low = min(expected - allowed, actual)
            var high = max(expected + allowed, actual)
            if high - low < 1e-12 * max(1, abs(expected)) {
                low -= max(1e-9, abs(expected) * 1e-6)
                high += max(1e-9, abs(expected) * 1e-6)
            }
            let pad = (high - low) * 0.1
            (low, high) = (low - pad, high + pad)
            func x(_ value: Double) -> Double { labelWidth + (value - low) / (high - low) * plotWidth }
            let y = rowHeight * Double(index) + 5
            let middle = y + rowHeight / 2
            let name = metric.name.count > 36 ? "…" + String(metric.name.suffix(35)) : metric.name
            out +=
                "<text class=\"label\" x=\"\(Markup.number(labelWidth - 6))\" y=\"\(Markup.number(middle + 4))\">\(Markup.escape(name))</text>"
            out +=
                "<line class=\"axis\" x1=\"\(Markup.number(labelWidth))\" y1=\"\(Markup.number(middle))\" x2=\"\(Markup.number(labelWidth + plotWidth))\" y2=\"\(Markup.number(middle))\"/>"
            if allowed > 0 {
                out +=
                    "<rect class=\"band\" x=\"\(Markup.number(x(expected - allowed)))\" y=\"\(Markup.number(y + 4))\" width=\"\(Markup.number(x(expected + allowed) - x(expected - allowed)))\" height=\"\(Markup.number(rowHeight - 8))\"><title>allowed: ±\(Markup.amount(allowed))</title></rect>"
            }
            out +=
                "<circle class=\"expected\" cx=\"\(Markup.number(x(expected)))\" cy=\"\(Markup.number(middle))\" r=\"5\"><title>expected \(Markup.amount(expected))</title></circle>"
            out +=
                "<circle class=\"actual \(tone(metric.verdict))\" cx=\"\(Markup.number(x(actual)))\" cy=\"\(Markup.number(middle))\" r=\"4\"><title>rebuilt \(Markup.amount(actual))</title></circle>"
            out +=
                "<text class=\"value\" x=\"\(Markup.number(labelWidth + plotWidth + 10))\" y=\"\(Markup.number(middle + 4))\">\(Markup.escape(values[index]))</text>\n"
        }
        return out + "</svg>\n"
    }

    /// The CSS class of a verdict.
    static func tone(_ verdict: ComparisonVerdict) -> String {
        switch verdict {
        case .identical, .equivalent: "good"
        case .withinTolerance: "fair"
        case .different, .missing: "bad"
        }
    }
}
