import Foundation

/// The reports a reviewer opens in a browser: one self-contained HTML file each (inline CSS
/// and SVG, no script, nothing fetched), readable offline and printable. Every string that
/// comes from a pack or a file is escaped (`Markup.escape`).
public enum HTMLReport {
    /// Worst tensors of an output that get a histogram of their element differences.
    static let histograms = 3

    /// `verify --rebuild --report FILE.html`.
    public static func rebuild(_ report: RebuildReport, layout engine: GraphLayout.Engine? = nil) -> String {
        let verification = report.verification
        let reproduced = report.verdict == .reproduced
        var body = "<header><h1>Rebuild of <code>\(Markup.escape(verification.name))</code></h1>\n"
        if let title = verification.title { body += "<p>\(Markup.escape(title))</p>\n" }
        body +=
            "<p class=\"verdict \(reproduced ? "good" : "bad")\">\(reproduced ? "REPRODUCED" : "NOT REPRODUCED")</p>\n"
        body +=
            "<p class=\"note\">\(reproduced ? "Every output the verdict rests on is identical, equivalent or within tolerance." : "An output differs beyond the tolerance, is missing, or a run failed: see below.")</p></header>\n"

        body += "<section><h2>Pack</h2>\n<table class=\"facts\">\n"
        var facts: [(String, String)] = [
            ("pack", code(report.pack)), ("name", code(verification.name)),
            ("pack id", code(verification.packId)), ("created", Markup.escape(verification.created)),
            ("signer", verification.signer.map(code) ?? "unsigned"),
            ("signature", Markup.escape(verification.signature)),
            (
                "items",
                "\(verification.items) (\(Markup.escape(ByteCount.text(verification.payloadBytes)))), every SHA-256 checked"
            ),
            ("withheld", verification.withheld == 0 ? "none" : "\(verification.withheld) items withheld"),
        ]
        if let provenance = verification.provenance {
            facts.append(
                ("derived from", "\(code(provenance.derivedFrom)), redacted by \(code(provenance.redactor))"))
        }
        facts += [
            ("sandbox", Markup.escape(report.sandbox)),
            ("limits per run", Markup.escape(report.limits.summary)),
            ("tolerance", Markup.escape(report.tolerance.summary)),
        ]
        facts += report.limits.notEnforced.map { ("not enforced", Markup.escape($0)) }
        body += facts.map { "<tr><th>\($0.0)</th><td>\($0.1)</td></tr>\n" }.joined() + "</table></section>\n"

        if !report.lineage.isEmpty {
            let graph = LineageGraph(steps: report.lineage, rebuild: report)
            let layout = GraphLayout.make(graph, engine: engine)
            body += "<section><h2>Lineage</h2>\n<div class=\"scroll\">\n"
            body += GraphDrawing.svg(graph, layout: layout) + "</div>\n"
            body +=
                "<p class=\"legend\">Runs are square boxes, files rounded, data references dashed; an arrow goes from what a run read to the run, and from the run to what it wrote. Green: ran, or reproduced; amber: within tolerance, or taken from the pack; red: failed, different or missing; a heavy border marks the card's outputs. Laid out by \(layout.engine == .graphviz ? "Graphviz (dot)" : "mlpack's layered layout").</p></section>\n"
        }

        body += "<section><h2>Outputs</h2>\n"
        body += "<table><tr><th>verdict</th><th>output</th><th>max abs</th><th>max rel</th><th>worst</th></tr>\n"
        for output in report.outputs {
            let comparison = output.comparison
            body +=
                "<tr><td class=\"\(Charts.tone(output.verdict))\">\(Markup.escape(output.verdict.rawValue))\(output.decisive ? "" : " (for information)")</td><td>\(code(output.item ?? output.path))</td><td>\(difference(comparison?.maxAbsoluteDifference))</td><td>\(difference(comparison?.maxRelativeDifference))</td><td>\(comparison?.worst.map(code) ?? "")</td></tr>\n"
        }
        body += "</table>\n"
        for output in report.outputs {
            guard let comparison = output.comparison, comparison.verdict != .identical || output.note != nil else {
                continue
            }
            body += "<h3>\(code(output.item ?? output.path)): \(Markup.escape(output.verdict.rawValue))</h3>\n"
            if let note = output.note { body += "<p>\(Markup.escape(note))</p>\n" }
            body += details(comparison)
        }
        body += "</section>\n"

        if !report.pythonEnvironments.isEmpty {
            body += "<section><h2>Python environments</h2>\n"
            body +=
                "<table><tr><th>environment</th><th>Python used</th><th>recorded</th><th>source</th><th>packages</th><th>notes</th></tr>\n"
            for environment in report.pythonEnvironments {
                let source =
                    environment.source == .host
                    ? "this machine's" : environment.reused ? "mlpack's cache" : environment.from ?? "the index"
                let notes =
                    environment.notInstalled.map { "not installed: \($0.name) \($0.version): \($0.reason)" }
                    + environment.notes
                body +=
                    "<tr><td>\(code(environment.environment))</td><td>\(Markup.escape(environment.used ?? "none"))</td><td>\(Markup.escape(environment.recorded ?? "none"))</td><td>\(Markup.escape(source))</td><td>\(environment.installed.count)</td><td>\(notes.map(Markup.escape).joined(separator: "<br>"))</td></tr>\n"
            }
            body += "</table></section>\n"
        }

        if let drift = report.drift {
            body +=
                "<section><h2>Environment drift</h2>\n<p>From the pack's machine to this one: <b>\(drift.majorCount) major</b>, \(drift.minorCount) minor.</p>\n"
            let entries =
                drift.entries.filter { $0.severity == .major } + drift.entries.filter { $0.severity != .major }
            if !entries.isEmpty {
                body += "<table><tr><th>severity</th><th>field</th><th>pack</th><th>here</th></tr>\n"
                for entry in entries.prefix(60) {
                    body +=
                        "<tr><td class=\"\(entry.severity == .major ? "bad" : "fair")\">\(entry.severity.rawValue)</td><td>\(code(entry.field))</td><td>\(Markup.escape(entry.a))</td><td>\(Markup.escape(entry.b))</td></tr>\n"
                }
                body += "</table>\n"
                if entries.count > 60 { body += "<p class=\"note\">… and \(entries.count - 60) more.</p>\n" }
            }
            body += "</section>\n"
        }

        body +=
            "<section><h2>Runs</h2>\n<table><tr><th>#</th><th>run</th><th>command</th><th>status</th><th>time</th></tr>\n"
        for (number, run) in report.runs.enumerated() {
            let time = run.seconds.map { String(format: "%.1f s", $0) } ?? ""
            let exit = run.exitCode.map { " (exit \($0))" } ?? run.signal.map { " (signal \($0))" } ?? ""
            let tone = run.status == "ok" ? "good" : run.status == "from the pack" ? "fair" : "bad"
            body +=
                "<tr><td>\(number + 1)</td><td>\(Markup.escape(run.name ?? "")) \(code(run.id))</td><td>\(code(run.command.joined(separator: " ")))</td><td class=\"\(tone)\">\(Markup.escape(run.status))\(exit)</td><td>\(time)</td></tr>\n"
        }
        body += "</table>\n"
        for (number, run) in report.runs.enumerated()
        where !run.logTail.isEmpty || !run.sandboxRefusals.isEmpty || !run.limitsHit.isEmpty
            || !run.ignoredVariables.isEmpty
        {
            body += "<h3>Run \(number + 1), \(Markup.escape(run.name ?? run.id)): \(Markup.escape(run.status))</h3>\n"
            let remarks =
                run.ignoredVariables.map { "ignored variable \($0) from the pack" }
                + run.limitsHit.map(\.detail) + run.sandboxRefusals
            if !remarks.isEmpty {
                body += "<ul>" + remarks.map { "<li>\(Markup.escape($0))</li>" }.joined() + "</ul>\n"
            }
            if !run.logTail.isEmpty {
                body +=
                    "<p>The last lines of its log:</p>\n<pre>\(Markup.escape(run.logTail.joined(separator: "\n")))</pre>\n"
            }
        }
        body += "</section>\n"
        if let workdir = report.workdir {
            body += "<p class=\"note\">Workspaces and logs kept in \(code(workdir)).</p>\n"
        }
        return page(
            title: "Rebuild of \(verification.name): \(reproduced ? "reproduced" : "not reproduced")", body: body)
    }

    /// `compare A B --report FILE.html`.
    public static func comparison(_ comparison: Comparison, expected: String, actual: String) -> String {
        let passes = comparison.verdict.passes
        var body =
            "<header><h1>Comparison</h1>\n<p class=\"verdict \(passes ? "good" : "bad")\">\(Markup.escape(comparison.verdict.rawValue.uppercased()))</p></header>\n"
        body += "<section><h2>Files</h2>\n<table class=\"facts\">\n"
        body +=
            "<tr><th>expected</th><td>\(code(expected))\(comparison.expectedSHA256.map { "<br>sha256 \(code($0))" } ?? "")</td></tr>\n"
        body +=
            "<tr><th>actual</th><td>\(code(actual))\(comparison.actualSHA256.map { "<br>sha256 \(code($0))" } ?? "")</td></tr>\n"
        body += "<tr><th>kind</th><td>\(comparison.kind.rawValue)</td></tr>\n"
        body += "<tr><th>tolerance</th><td>\(Markup.escape(comparison.tolerance.summary))</td></tr>\n"
        body += "<tr><th>max abs</th><td>\(difference(comparison.maxAbsoluteDifference))</td></tr>\n"
        body += "<tr><th>max rel</th><td>\(difference(comparison.maxRelativeDifference))</td></tr>\n"
        body += "<tr><th>worst</th><td>\(comparison.worst.map(code) ?? "")</td></tr>\n"
        body += "</table></section>\n<section><h2>Differences</h2>\n" + details(comparison)
        if !comparison.tensors.isEmpty {
            body +=
                "<h3>Every tensor</h3>\n<table><tr><th>tensor</th><th>dtype</th><th>shape</th><th>verdict</th><th>max abs</th><th>max rel</th><th>changed</th></tr>\n"
            for row in comparison.tensors {
                body +=
                    "<tr><td>\(code(row.name))</td><td>\(Markup.escape(row.dtype))</td><td>[\(row.shape.map(String.init).joined(separator: ", "))]</td><td class=\"\(Charts.tone(row.verdict))\">\(row.verdict.rawValue)</td><td>\(difference(row.maxAbs))</td><td>\(difference(row.maxRel))</td><td>\(row.changedElements) of \(row.elements)</td></tr>\n"
            }
            body += "</table>\n"
        }
        body += "</section>\n"
        return page(title: "Comparison: \(comparison.verdict.rawValue)", body: body)
    }

    /// An output's comparison: problems, the tensor chart, histograms of the worst tensors,
    /// the metrics chart, notes.
    static func details(_ comparison: Comparison) -> String {
        var out = ""
        if !comparison.problems.isEmpty {
            out += "<ul>" + comparison.problems.prefix(40).map { "<li>\(Markup.escape($0))</li>" }.joined() + "</ul>\n"
        }
        if let chart = Charts.tensors(comparison) {
            out +=
                "<p>Largest difference per tensor (log scale), worst first:</p>\n<div class=\"scroll\">\(chart)</div>\n"
        }
        let worst = comparison.tensors.filter { $0.differences != nil && ($0.maxAbs ?? 0) > 0 }
            .sorted { ($0.maxAbs ?? 0, $1.name) > ($1.maxAbs ?? 0, $0.name) }.prefix(histograms)
        for row in worst {
            if let chart = Charts.histogram(row, tolerance: comparison.tolerance) {
                out += "<p>Element differences of \(code(row.name)):</p>\n<div class=\"scroll\">\(chart)</div>\n"
            }
        }
        if let chart = Charts.metrics(comparison) {
            out +=
                "<p>Metrics: expected (hollow), rebuilt (filled), the band the tolerance allows:</p>\n<div class=\"scroll\">\(chart)</div>\n"
        }
        let otherMetrics = comparison.metrics.filter { metric in
            guard case .number? = metric.expected, case .number? = metric.actual else { return true }
            return false
        }
        for metric in otherMetrics where metric.verdict != .identical {
            out +=
                "<p>metric \(code(metric.name)): \(Markup.escape(describe(metric.expected))) → \(Markup.escape(describe(metric.actual))) (\(metric.verdict.rawValue))</p>\n"
        }
        if !comparison.notes.isEmpty {
            out += "<ul class=\"note\">" + comparison.notes.map { "<li>\(Markup.escape($0))</li>" }.joined() + "</ul>\n"
        }
        return out
    }

    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="generator" content="mlpack \(MLPackInfo.version)">
        <title>\(Markup.escape(title))</title>
        <style>
        \(ReportStyle.page)
        </style>
        </head>
        <body>
        \(body)<footer>Written by mlpack \(MLPackInfo.version). This page loads nothing: no script, font or image from anywhere.</footer>
        </body>
        </html>

        """
    }

    private static func code(_ text: String) -> String { "<code>\(Markup.escape(text))</code>" }

    private static func difference(_ value: Double?) -> String {
        value.flatMap { $0 > 0 ? Markup.amount($0) : nil } ?? ""
    }

    private static func describe(_ value: JSONValue?) -> String {
        guard let value else { return "absent" }
        switch value {
        case .number(let number): return Markup.amount(number)
        case .string(let text): return text
        case .bool(let flag): return "\(flag)"
        case .null: return "null"
        case .array, .object: return "…"
        }
    }
}
