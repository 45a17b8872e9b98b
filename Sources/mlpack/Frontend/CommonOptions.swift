import ArgumentParser
import MLPack

struct OutputOptions: ParsableArguments {
    @Flag(help: "Print the result as JSON on standard output.")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress bar and no warnings on standard error.")
    var quiet = false
}

/// Reader limits against hostile packs; the defaults are safe, raise them for huge packs.
struct LimitOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Most entries a pack may hold.", valueName: "N"))
    var maxEntries = ReaderLimits().maxEntries

    @Option(help: ArgumentHelp("Most bytes the pack may expand to.", valueName: "BYTES"))
    var maxTotalSize = ReaderLimits().maxTotalBytes

    @Option(
        help: ArgumentHelp(
            "Largest metadata file (manifest, disclosures, index) read into memory; also the most bytes all entry names may total.",
            valueName: "BYTES")
    )
    var maxMetadataSize = ReaderLimits().maxMetadataBytes

    @Option(help: ArgumentHelp("Largest ratio of expanded to compressed size.", valueName: "RATIO"))
    var maxExpansionRatio = ReaderLimits().maxExpansionRatio

    var limits: ReaderLimits {
        var limits = ReaderLimits()
        limits.maxEntries = maxEntries
        limits.maxTotalBytes = maxTotalSize
        limits.maxMetadataBytes = maxMetadataSize
        limits.maxExpansionRatio = maxExpansionRatio
        return limits
    }
}

/// --atol, --rtol and --metric-tolerance: one rule set for `create` (the card's tolerance),
/// `compare`, `diff` and `verify --rebuild` (the reviewer's, on top of the card's).
struct ToleranceOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Absolute tolerance for float tensors and numeric metrics (default 0: exact, or the card's on rebuild).",
            valueName: "X"))
    var atol: Double?

    @Option(
        help: ArgumentHelp(
            "Relative tolerance for float tensors and numeric metrics (default 0: exact, or the card's on rebuild).",
            valueName: "Y"))
    var rtol: Double?

    @Option(
        help: ArgumentHelp("Absolute tolerance for one metric, e.g. accuracy=0.01 (repeatable).", valueName: "NAME=X"))
    var metricTolerance: [String] = []

    var given: Bool { atol != nil || rtol != nil || !metricTolerance.isEmpty }

    /// Per metric, the last value given for a name winning.
    var metrics: [String: Double] { Dictionary(metricTolerance.compactMap(Self.parse), uniquingKeysWith: { $1 }) }

    /// The flags alone, exact where they say nothing.
    var tolerance: ComparisonTolerance { ComparisonTolerance(atol: atol ?? 0, rtol: rtol ?? 0, metrics: metrics) }

    /// What `create` writes into the card: nil when no flag was given.
    var card: Card.Tolerance? {
        given ? Card.Tolerance(atol: atol, rtol: rtol, metrics: metricTolerance.isEmpty ? nil : metrics) : nil
    }

    func validate() throws {
        for (flag, value) in [("--atol", atol), ("--rtol", rtol)] where value.map({ $0 < 0 || !$0.isFinite }) == true {
            throw ValidationError("\(flag) must be a finite number ≥ 0")
        }
        for entry in metricTolerance where Self.parse(entry) == nil {
            throw ValidationError("--metric-tolerance \(entry): expected NAME=X with X a finite number ≥ 0")
        }
    }

    /// NAME=X, split at the last `=` (a metric name may hold one), X finite and ≥ 0.
    private static func parse(_ entry: String) -> (String, Double)? {
        guard let equals = entry.lastIndex(of: "="), equals != entry.startIndex,
            let value = Double(entry[entry.index(after: equals)...]), value.isFinite, value >= 0
        else { return nil }
        return (String(entry[..<equals]), value)
    }
}
