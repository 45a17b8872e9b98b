import Foundation
import MLPack

/// The rebuild report as text for the terminal, and as Markdown to paste into a review.
enum RebuildText {
    static func lines(_ report: RebuildReport) -> [String] {
        var out: [String] = []
        let verification = report.verification
        out.append("verified: \(report.pack) — \(verification.name)\(verification.title.map { " (\($0))" } ?? "")")
        out.append("  signature   \(verification.signature); \(verification.items) items, every sha256 checked")
        out.append("rebuild (sandbox: \(report.sandbox))")
        out.append("  limits per run: \(report.limits.summary)")
        report.limits.notEnforced.forEach { out.append("  not enforced here: \($0)") }
        for environment in report.pythonEnvironments {
            out.append("  python of env \(environment.environment): \(pythonSummary(environment))")
            if !environment.installed.isEmpty {
                let names = environment.installed.map { "\($0.name) \($0.version)" }
                out.append(
                    "     installed: \(names.prefix(10).joined(separator: ", "))\(names.count > 10 ? ", and \(names.count - 10) more" : "")"
                )
            }
            environment.notInstalled.forEach {
                out.append("     ! not installed: \($0.name) \($0.version): \($0.reason)")
            }
            environment.notes.forEach { out.append("     · \($0)") }
        }
        for (number, run) in report.runs.enumerated() {
            let time = run.seconds.map { String(format: "%.1f s", $0) } ?? ""
            let exit = run.exitCode.map { "exit \($0)" } ?? run.signal.map { "signal \($0)" } ?? ""
            out.append(
                "  \(number + 1). \(pad(run.status, 10)) \(pad(time, 9)) \(pad(exit, 8)) \(run.name.map { "\"\($0)\" " } ?? "")\(run.id)"
            )
            out.append("     $ \(run.command.joined(separator: " "))")
            run.ignoredVariables.forEach { out.append("     ! ignored variable \($0) from the pack") }
            run.limitsHit.forEach { out.append("     ! \(limit($0))") }
            run.sandboxRefusals.forEach { out.append("     ! \(refusal($0))") }
            if !run.logTail.isEmpty {
                out.append("     log\(run.log.map { " (\($0))" } ?? ""), last lines:")
                run.logTail.filter { !$0.isEmpty }.suffix(8).forEach { out.append("       | \($0)") }
            }
        }
        out.append("outputs (tolerance: \(report.tolerance.summary))")
        for output in report.outputs {
            let numbers = output.comparison.map(ComparisonText.summary) ?? ""
            let marker = output.decisive ? " " : "·"
            out.append(
                "  \(marker)\(pad(output.verdict.rawValue, 17)) \(pad(output.item ?? output.path, 48)) \(numbers)")
            if let note = output.note { out.append("      \(note)") }
            if let comparison = output.comparison, !comparison.verdict.passes || comparison.verdict == .withinTolerance
            {
                out += ComparisonText.details(comparison, indent: "      ")
            }
        }
        if report.outputs.contains(where: { !$0.decisive }) {
            out.append("  (· not in the pack: for information, not part of the verdict)")
        }
        if let drift = report.drift {
            out.append("environment drift (pack → this machine): \(drift.majorCount) major, \(drift.minorCount) minor")
            for entry in drift.entries.filter({ $0.severity == .major }).prefix(12) {
                out.append("  major  \(pad(entry.field, 28)) \(entry.a) → \(entry.b)")
            }
        }
        out.append(
            report.verdict == .reproduced
                ? "result: REPRODUCED — every output identical, equivalent or within tolerance"
                : "result: NOT REPRODUCED")
        if let workdir = report.workdir { out.append("workspaces and logs kept in \(workdir)") }
        return out.map(printable)
    }

    /// "Python 3.11.7 (recorded 3.11.7), built in 1.2 s: 5 packages from index URL".
    static func pythonSummary(_ environment: PythonEnvironmentReport) -> String {
        let versions =
            "Python \(environment.used ?? "none") (recorded \(environment.recorded ?? "none"))"
        guard environment.source == .pack else {
            return versions
                + ", this machine's\(environment.interpreter.map { " \($0)" } ?? "") and its packages (--python-env host)"
        }
        let time = environment.seconds.map { String(format: " in %.1f s", $0) } ?? ""
        let how =
            environment.reused
            ? "reused from the cache\(time)"
            : "built\(time) from \(environment.from ?? "the index")\(environment.fetched.map { ", \($0) fetched" } ?? "")"
        return versions + ", \(environment.installed.count) packages, " + how
    }

    /// A string of the pack inside a Markdown line: one line, no HTML, no code-span break.
    static func inline(_ text: String) -> String {
        printable(text).replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: "`", with: "'").replacingOccurrences(of: "|", with: "\\|")
    }

    /// A code fence longer than any run of backticks in `text`.
    static func fence(for text: String) -> String {
        var longest = 0
        var run = 0
        for character in text {
            run = character == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        return String(repeating: "`", count: max(3, longest + 1))
    }

    /// A line with the control characters a run or record may have put in it (terminal
    /// escapes that could repaint the verdict) shown as `?`.
    static func printable(_ line: String) -> String {
        String(
            String.UnicodeScalarView(
                line.unicodeScalars.map { $0.properties.generalCategory == .control && $0 != "\t" ? "?" : $0 }))
    }

    /// A bound hit, with the flag that sets it.
    static func limit(_ hit: RebuildLimits.LimitHit) -> String {
        let flag: Input =
            switch hit.limit {
            case .time: .timeout
            case .workspaceSize: .maxWorkspaceSize
            case .processes: .maxProcesses
            case .memory: .maxMemory
            }
        return "\(hit.detail); \(Flags.spelling(flag))"
    }

    /// A refusal, with how to allow it where a flag does.
    static func refusal(_ refusal: String) -> String {
        refusal.hasPrefix("network refused") ? refusal + " (\(Flags.spelling(.allowNetwork)) allows it)" : refusal
    }

    /// `--report FILE`: HTML for a `.html` file, JSON for a `.json` file, else Markdown.
    static func write(_ report: RebuildReport, to path: String) throws {
        let bytes: Data
        if Terminal.isHTML(path) {
            bytes = Data(HTMLReport.rebuild(report).utf8)
        } else if path.lowercased().hasSuffix(".json") {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            bytes = try encoder.encode(report)
        } else {
            bytes = Data(markdown(report).utf8)
        }
        try Terminal.write(bytes, to: path, what: "the report")
    }

    static func markdown(_ report: RebuildReport) -> String {
        let verification = report.verification
        var out = "# Rebuild of `\(inline(verification.name))`\(verification.title.map { ": \(inline($0))" } ?? "")\n\n"
        out += "**Result: \(report.verdict == .reproduced ? "reproduced" : "NOT reproduced")**\n\n"
        out += "- Pack: `\(report.pack)`, created \(verification.created), pack id `\(verification.packId)`\n"
        out += "- Signature: \(verification.signature); \(verification.items) items, every SHA-256 checked\n"
        out += "- Sandbox: \(report.sandbox); limits per run: \(report.limits.summary)\n"
        report.limits.notEnforced.forEach { out += "- Not enforced here: \($0)\n" }
        out +=
            "- Tolerance: \(report.tolerance.summary) (the card's, or the reviewer's --atol/--rtol)\n\n"
        if !report.pythonEnvironments.isEmpty {
            out += "## Python environments\n\n| environment | Python used | recorded | source | packages | time |\n"
            out += "|---|---|---|---|---|---|\n"
            for environment in report.pythonEnvironments {
                let source =
                    environment.source == .host
                    ? "this machine's" : environment.reused ? "cache" : inline(environment.from ?? "index")
                let time = environment.seconds.map { String(format: "%.1f s", $0) } ?? ""
                out +=
                    "| `\(inline(environment.environment))` | \(environment.used ?? "none") | \(environment.recorded ?? "none") | \(source) | \(environment.installed.count) | \(time) |\n"
            }
            for environment in report.pythonEnvironments
            where !environment.installed.isEmpty || !environment.notInstalled.isEmpty || !environment.notes.isEmpty {
                out += "\n### Environment `\(inline(environment.environment))`\n\n"
                if !environment.installed.isEmpty {
                    out +=
                        "- Installed: \(environment.installed.map { "`\(inline($0.name))` \(inline($0.version))" }.joined(separator: ", "))\n"
                }
                environment.notInstalled.forEach {
                    out += "- **Not installed:** `\(inline($0.name))` \(inline($0.version)): \(inline($0.reason))\n"
                }
                environment.notes.forEach { out += "- \(inline($0))\n" }
            }
            out += "\n"
        }
        out += "## Runs\n\n| # | run | command | status | time |\n|---|---|---|---|---|\n"
        for (number, run) in report.runs.enumerated() {
            let time = run.seconds.map { String(format: "%.1f s", $0) } ?? ""
            out +=
                "| \(number + 1) | \(inline(run.name ?? "")) `\(inline(run.id))` | `\(inline(run.command.joined(separator: " ")))` | \(run.status) | \(time) |\n"
        }
        for (number, run) in report.runs.enumerated()
        where !run.sandboxRefusals.isEmpty || !run.logTail.isEmpty || !run.ignoredVariables.isEmpty
            || !run.limitsHit.isEmpty
        {
            out +=
                "\n### Run \(number + 1) \(run.status)\(run.exitCode.map { " (exit \($0))" } ?? run.signal.map { " (signal \($0))" } ?? "")\n\n"
            run.ignoredVariables.forEach { out += "- **Ignored variable** `\($0)` from the pack\n" }
            run.limitsHit.forEach { out += "- **Limit:** \(limit($0))\n" }
            run.sandboxRefusals.forEach { out += "- **Sandbox:** \(refusal($0))\n" }
            if !run.logTail.isEmpty {
                let log = run.logTail.joined(separator: "\n")
                let fence = fence(for: log)
                out += "\nLast lines of its log:\n\n\(fence)\n" + log + "\n\(fence)\n"
            }
        }
        out += "\n## Outputs\n\n| verdict | output | max abs | max rel | worst |\n|---|---|---|---|---|\n"
        for output in report.outputs {
            let comparison = output.comparison
            let abs = comparison?.maxAbsoluteDifference.flatMap { $0 > 0 ? ComparisonText.number($0) : nil } ?? ""
            let rel = comparison?.maxRelativeDifference.flatMap { $0 > 0 ? ComparisonText.number($0) : nil } ?? ""
            out +=
                "| \(output.verdict.rawValue)\(output.decisive ? "" : " (info)") | `\(inline(output.item ?? output.path))` | \(abs) | \(rel) | \(inline(comparison?.worst ?? "")) |\n"
        }
        for output in report.outputs
        where output.decisive && output.verdict != .identical && output.verdict != .equivalent {
            var lines = output.note.map { [$0] } ?? []
            if let comparison = output.comparison {
                lines.append("tolerance: \(comparison.tolerance.summary)")
                lines += ComparisonText.details(comparison, indent: "")
            }
            let text = lines.joined(separator: "\n")
            let fence = fence(for: text)
            out +=
                "\n### `\(inline(output.item ?? output.path))`: \(output.verdict.rawValue)\n\n\(fence)\n\(text)\n\(fence)\n"
        }
        if let drift = report.drift {
            out +=
                "\n## Environment drift (pack → this machine)\n\n\(drift.majorCount) major, \(drift.minorCount) minor.\n\n"
            if !drift.entries.isEmpty { out += "| severity | field | pack | here |\n|---|---|---|---|\n" }
            for entry in drift.entries.prefix(40) {
                out +=
                    "| \(entry.severity.rawValue) | \(inline(entry.field)) | \(inline(entry.a)) | \(inline(entry.b)) |\n"
            }
        }
        return out.split(separator: "\n", omittingEmptySubsequences: false).map { printable(String($0)) }.joined(
            separator: "\n")
    }
}
