import ArgumentParser
import MLPack

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what differs between two packs: code, environment, data references, outputs, card.",
        discussion: """
            Code files are matched by their path in the snapshot; when a pack holds several \
            snapshots (a lineage whose runs ran different code), snapshots are paired first — \
            the same content, then the same run, then the most files in common — and a \
            snapshot with no counterpart is one added or removed line. Data references are \
            matched by name, \
            outputs (weights, checkpoints, outputs, metrics) by their path in the pack; outputs \
            whose bytes differ are compared by value as `mlpack compare` does (exact unless \
            --atol/--rtol). Nothing of either pack runs, and neither needs to be trusted: each \
            is verified first, as `mlpack verify` does (every file hashed against its own \
            manifest and signature), and compared by the digests that checked out; a pack \
            that fails is an error naming it.

            Exit codes: 0 the packs were compared (whatever differs); 1 a pack is invalid; \
            2 usage or I/O error.
            """)

    @Argument(help: ArgumentHelp("The first pack.", valueName: "A"))
    var a: String

    @Argument(help: ArgumentHelp("The second pack.", valueName: "B"))
    var b: String

    @OptionGroup var tolerance: ToleranceOptions

    @Flag(help: "Print the result as JSON on standard output.")
    var json = false

    @OptionGroup(title: "Limits") var limits: LimitOptions

    func run() throws {
        let diff = try PackDiff.compare(a, b, tolerance: tolerance.tolerance, limits: limits.limits)
        if json { return try Terminal.printJSON(diff) }
        print("\(a) → \(b)\(diff.same ? ": the same code, data, outputs and card" : "")")
        section("code", diff.code, unchanged: "\(diff.codeFilesUnchanged) files unchanged")
        if let environment = diff.environment {
            print("environment: \(environment.majorCount) major, \(environment.minorCount) minor differences")
            for entry in environment.entries.prefix(20) {
                print("  \(pad(entry.severity.rawValue, 6)) \(pad(entry.field, 28)) \(entry.a) → \(entry.b)")
            }
            if environment.entries.count > 20 {
                print("  … and \(environment.entries.count - 20) more (see `mlpack env diff`)")
            }
        } else if let note = diff.environmentNote {
            print("environment: \(note)")
        }
        section("data references", diff.data, unchanged: nil)
        print("outputs:")
        if diff.outputs.isEmpty { print("  none in either pack") }
        for output in diff.outputs {
            guard let comparison = output.comparison else {
                print("  \(pad(output.change?.rawValue ?? "", 17)) \(output.path)")
                continue
            }
            print("  \(pad(comparison.verdict.rawValue, 17)) \(output.path)  \(ComparisonText.summary(comparison))")
            ComparisonText.details(comparison, indent: "      ").forEach { print($0) }
        }
        section("card", diff.card, unchanged: nil)
    }

    private func section(_ title: String, _ changes: [PackDiff.Change], unchanged: String?) {
        print(
            "\(title): \(changes.isEmpty ? "no changes" : "\(changes.count) changed")\(unchanged.map { " (\($0))" } ?? "")"
        )
        for change in changes.prefix(50) {
            let values =
                switch change.change {
                case .added: change.b.map(short) ?? ""
                case .removed: change.a.map(short) ?? ""
                case .changed: "\(change.a.map(short) ?? "") → \(change.b.map(short) ?? "")"
                }
            print("  \(pad(change.change.rawValue, 8)) \(change.name)  \(values)")
        }
        if changes.count > 50 { print("  … and \(changes.count - 50) more (--json lists all)") }
    }

    /// Digests shortened for the terminal; other values as they are.
    private func short(_ value: String) -> String {
        value.count == 64 && value.allSatisfy(\.isHexDigit) ? String(value.prefix(12)) + "…" : value
    }
}
