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

    @Option(
        help: ArgumentHelp(
            "Also write an HTML page with the charts (max difference per tensor, histograms of the worst tensors' element differences, metrics against their tolerance).",
            valueName: "FILE.html"))
    var report: String?

    func validate() throws {
        if let report, !Terminal.isHTML(report) {
            throw ValidationError("--report \(report): the comparison report is HTML: name a .html file")
        }
    }

    func run() throws {
        for path in [expected, actual] where !FileManager.default.fileExists(atPath: path) {
            throw MLPackError.io(path: path, reason: "no such file")
        }
        let result = try OutputComparison.compare(expected: expected, actual: actual, tolerance: tolerance.tolerance)
        if let report {
            let page = HTMLReport.comparison(result, expected: expected, actual: actual)
            try Terminal.write(Data(page.utf8), to: report, what: "the report")
        }
        if json {
            try Terminal.printJSON(result)
        } else {
            let summary = ComparisonText.summary(result)
            print(
                "\(result.verdict.rawValue): \(expected) → \(actual) (\(result.kind.rawValue), tolerance \(result.tolerance.summary))"
            )
            if !summary.isEmpty { print("  \(summary)") }
            ComparisonText.details(result, indent: "  ", allTensors: all).forEach { print($0) }
        }
        if !result.verdict.passes { throw ExitCode(ExitStatus.notReproduced) }
    }
}
