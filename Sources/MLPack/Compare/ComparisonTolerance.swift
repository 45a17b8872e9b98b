/// How closely an output must match to pass. Float elements and numeric metrics match when
/// |actual − expected| ≤ atol + rtol·|expected|; a metric named in `metrics` matches when
/// |actual − expected| ≤ its value instead. Integers, booleans and text always match exactly.
/// The default is exact: only bit-identical files and bitwise-equal tensors pass.
public struct ComparisonTolerance: Sendable, Codable, Equatable {
    public var atol: Double
    public var rtol: Double
    /// Absolute tolerance per metric (flattened name, e.g. `eval.accuracy`).
    public var metrics: [String: Double]

    public init(atol: Double = 0, rtol: Double = 0, metrics: [String: Double] = [:]) {
        self.atol = Self.sanitized(atol)
        self.rtol = Self.sanitized(rtol)
        self.metrics = metrics.mapValues(Self.sanitized)
    }

    /// The card's tolerance with the reviewer's flags on top: `atol`, `rtol` and each metric
    /// given here override the card's value; what neither gives is exact (0).
    public init(card: Card.Tolerance?, atol: Double?, rtol: Double?, metrics: [String: Double] = [:]) {
        self.init(
            atol: atol ?? card?.atol ?? 0, rtol: rtol ?? card?.rtol ?? 0,
            metrics: (card?.metrics ?? [:]).merging(metrics) { _, reviewer in reviewer })
    }

    public static let exact = ComparisonTolerance()

    /// "exact", or "atol 1e-06, rtol 0, loss ±0.01": for reports.
    public var summary: String {
        if self == .exact { return "exact" }
        func number(_ value: Double) -> String { String(format: "%.3g", value) }
        var parts = ["atol \(number(atol))", "rtol \(number(rtol))"]
        parts += metrics.sorted { $0.key < $1.key }.map { "\($0.key) ±\(number($0.value))" }
        return parts.joined(separator: ", ")
    }

    /// The largest difference allowed from `expected` for a float element or an unnamed metric.
    func allowed(from expected: Double) -> Double { atol + rtol * abs(expected) }

    /// A card comes from a stranger: a negative, NaN or infinite tolerance counts as 0
    /// (exact), which can only make the comparison stricter, and keeps reports encodable.
    private static func sanitized(_ value: Double) -> Double { value.isFinite && value > 0 ? value : 0 }
}
