/// How an output compares with the expected one, from best to worst.
public enum ComparisonVerdict: String, Codable, Sendable {
    /// Same bytes (same SHA-256).
    case identical
    /// Different bytes, same values: every tensor bitwise equal (the files differ in
    /// metadata, layout or order), or every counted metric exactly equal.
    case equivalent
    /// Some values differ, all within the tolerance.
    case withinTolerance = "within tolerance"
    /// Some value is outside the tolerance, or the structure differs (tensor names, dtypes,
    /// shapes, metric keys), or the file is not what its kind requires.
    case different
    /// The output (or, in a row, the tensor or metric) is absent from the actual side.
    case missing

    /// Whether the output counts as reproduced.
    public var passes: Bool { self == .identical || self == .equivalent || self == .withinTolerance }
}

/// How the two files were compared.
public enum ComparisonKind: String, Codable, Sendable {
    case safetensors, npy, npz, metrics, bytes
}

/// One tensor of a tensor file compared with its namesake.
public struct TensorComparison: Codable, Sendable, Equatable {
    public var name: String
    /// The expected tensor's dtype as its file spells it ("F32", "<f4"), and its shape.
    public var dtype: String
    public var shape: [Int]
    /// The actual tensor's dtype and shape, when they differ from the expected ones.
    public var actualDtype: String?
    public var actualShape: [Int]?
    /// identical: bitwise equal; within tolerance; different; missing: not in the actual
    /// file (a tensor only in the actual file is different).
    public var verdict: ComparisonVerdict
    /// Largest |actual − expected| over elements that are finite on both sides (nil for
    /// booleans, 8-bit floats and other types compared byte for byte, and when not compared).
    public var maxAbs: Double?
    /// Largest |actual − expected| / |expected| over those elements with expected ≠ 0.
    public var maxRel: Double?
    /// Elements outside the tolerance (a NaN against a number, an infinity against anything
    /// but the same infinity, a changed integer count too).
    public var mismatchedElements: Int
    /// Elements whose bytes differ, inside the tolerance or not.
    public var changedElements: Int
    public var elements: Int
    /// The changed elements' nonzero differences by power of two (tensors compared by value
    /// that changed; nil otherwise).
    public var differences: [DifferenceBin]?
}

/// One metric (a key of a metrics JSON object, nested keys joined with dots).
public struct MetricComparison: Codable, Sendable, Equatable {
    public var name: String
    /// The values; nil on the side that lacks the key. NaN and infinities appear as the
    /// strings "NaN", "Infinity", "-Infinity" (JSON has no such numbers).
    public var expected: JSONValue?
    public var actual: JSONValue?
    /// |actual − expected| when both are finite numbers.
    public var difference: Double?
    /// The largest difference allowed (numbers only): the metric's own tolerance, else
    /// atol + rtol·|expected|.
    public var tolerance: Double?
    public var verdict: ComparisonVerdict
    /// False for a timing ("seconds", "time", "duration", "elapsed", "throughput",
    /// "per_sec", "it/s" in the name) that the tolerance does not name: it is reported, but
    /// it does not decide the verdict.
    public var counted: Bool
}

/// The comparison of one output: the recorded (expected) file against the rebuilt (actual) one.
public struct Comparison: Codable, Sendable, Equatable {
    public var verdict: ComparisonVerdict
    public var kind: ComparisonKind
    public var expectedSHA256: String?
    public var actualSHA256: String?
    /// Over all compared tensors (or counted numeric metrics); nil when nothing was compared
    /// by value.
    public var maxAbsoluteDifference: Double?
    public var maxRelativeDifference: Double?
    /// The tensor (or metric) that differs most: the largest max abs difference.
    public var worst: String?
    public var tensors: [TensorComparison]
    public var metrics: [MetricComparison]
    /// Why the verdict is different or missing: a tensor or key on one side only, a dtype or
    /// shape that differs, an actual file that cannot be read as its kind.
    public var problems: [String]
    /// What differs without counting: a safetensors header's `__metadata__`, tensor order.
    public var notes: [String]
    /// Set when the actual file is missing or is not a valid file of the expected file's
    /// kind (the verdict is then missing or different): one line naming the file.
    public var actualUnreadable: String?
    /// The tolerance the comparison applied.
    public var tolerance: ComparisonTolerance

    init(verdict: ComparisonVerdict, kind: ComparisonKind, tolerance: ComparisonTolerance) {
        self.verdict = verdict
        self.kind = kind
        self.tolerance = tolerance
        tensors = []
        metrics = []
        problems = []
        notes = []
    }
}
