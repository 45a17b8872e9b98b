import ArgumentParser
import Foundation
import MLPack

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two tensor or metrics files: identical, equivalent, within tolerance, or different.",
        discussion: """
            FILE_A is the expected file, FILE_B the actual one. .safetensors, .npy and .npz \
            files are compared tensor by tensor (same names, dtypes and shapes required); \
            .json metrics files key by key (nested keys joined with dots); anything else by \
            SHA-256. Verdicts: identical (same bytes), equivalent (bitwise-equal tensors or \
            equal metrics in other bytes), within tolerance (every float within \
            atol + rtol·|expected|; integers and booleans exact), different. The default \
            tolerance is exact. Timing metrics (seconds, time, duration, throughput, …) are \
            shown but do not count unless --metric-tolerance names them.

            Exit codes: 0 identical, equivalent or within tolerance; 4 different; 2 usage \
            or I/O error (a missing file, FILE_A not valid for its kind).
            """)

    @Argument(help: ArgumentHelp("The expected file.", valueName: "FILE_A"))
    var expected: String

    @Argument(help: ArgumentHelp("The actual file.", valueName: "FILE_B"))
    var actual: String

    @OptionGroup var tolerance: ToleranceOptions

    @Flag(help: "List every tensor, not only those that changed.")
    var all = false

    @Flag(help: "Print the result as JSON on standard output.")
    var json = false

    func run() throws {
        for path in [expected, actual] where !FileManager.default.fileExists(atPath: path) {
            throw MLPackError.io(path: path, reason: "no such file")
        }
        let result = try OutputComparison.compare(expected: expected, actual: actual, tolerance: tolerance.tolerance)
        if json {
            try Terminal.printJSON(result)
        } else {
            let summary = ComparisonText.summary(result)
            print("\(result.verdict.rawValue): \(expected) → \(actual) (\(result.kind.rawValue), tolerance \(ComparisonText.tolerance(result.tolerance)))")
            if !summary.isEmpty { print("  \(summary)") }
            ComparisonText.details(result, indent: "  ", allTensors: all).forEach { print($0) }
        }
        if !result.verdict.passes { throw ExitCode(ExitStatus.notReproduced) }
    }
}

/// --atol, --rtol and --metric-tolerance, for `compare` and `diff`.
struct ToleranceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Absolute tolerance for floats and numeric metrics (default 0: exact).", valueName: "X"))
    var atol: Double = 0

    @Option(help: ArgumentHelp("Relative tolerance for floats and numeric metrics (default 0: exact).", valueName: "Y"))
    var rtol: Double = 0

    @Option(help: ArgumentHelp("Absolute tolerance for one metric, e.g. accuracy=0.01 (repeatable).", valueName: "NAME=X"))
    var metricTolerance: [String] = []

    var tolerance: ComparisonTolerance {
        ComparisonTolerance(atol: atol, rtol: rtol, metrics: Dictionary(metricTolerance.compactMap(Self.parse), uniquingKeysWith: { $1 }))
    }

    func validate() throws {
        for (flag, value) in [("--atol", atol), ("--rtol", rtol)] where value < 0 || !value.isFinite {
            throw ValidationError("\(flag) must be a finite number ≥ 0")
        }
        for entry in metricTolerance where Self.parse(entry) == nil {
            throw ValidationError("--metric-tolerance \(entry): expected NAME=X with X a finite number ≥ 0")
        }
    }

    private static func parse(_ entry: String) -> (String, Double)? {
        guard let equals = entry.lastIndex(of: "="), let value = Double(entry[entry.index(after: equals)...]),
            value.isFinite, value >= 0, equals != entry.startIndex
        else { return nil }
        return (String(entry[..<equals]), value)
    }
}
