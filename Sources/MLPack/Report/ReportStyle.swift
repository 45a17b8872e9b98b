/// The report's style sheet: inline, system fonts only (no request of any kind), readable
/// on screen and on paper.
enum ReportStyle {
    static let graph = """
        .node rect{fill:#f6f7f9;stroke:#5b6270;stroke-width:1.2}
        .node.file rect{fill:#ffffff}
        .node.data rect{fill:#eef4ff;stroke-dasharray:4 3}
        .node.good rect{fill:#e3f4e6;stroke:#2e7d32}
        .node.fair rect{fill:#fff4d6;stroke:#b7791f}
        .node.bad rect{fill:#fde4e4;stroke:#c62828}
        .node.skipped rect{fill:#eeeeee;stroke:#9e9e9e;stroke-dasharray:2 2}
        .node.highlighted rect{stroke-width:3.2}
        .node text{font:11px ui-monospace,Menlo,Consolas,monospace;text-anchor:middle;fill:#1d232e}
        .node.run text{font-size:12px}
        .node text.first{font-weight:bold}
        .edge{fill:none;stroke:#7a8291;stroke-width:1.3}
        .arrowhead{fill:#7a8291}
        """

    static let page =
        graph + """
            body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232e;margin:24px auto;max-width:1100px;padding:0 16px}
            h1{font-size:22px;margin:0 0 6px}
            h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d9dde3;padding-bottom:3px}
            h3{font-size:15px;margin:18px 0 6px}
            code,pre{font:12.5px ui-monospace,Menlo,Consolas,monospace}
            pre{background:#f6f7f9;border:1px solid #d9dde3;padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
            table{border-collapse:collapse;margin:6px 0}
            th,td{border:1px solid #d9dde3;padding:3px 8px;text-align:left;vertical-align:top}
            th{background:#f6f7f9}
            table.facts th{width:150px}
            .verdict{display:inline-block;font-weight:bold;font-size:16px;padding:4px 12px;border-radius:4px}
            .verdict.good{background:#e3f4e6;color:#1b5e20}
            .verdict.bad{background:#fde4e4;color:#b71c1c}
            td.good{color:#1b5e20}
            td.fair{color:#8a5a00}
            td.bad{color:#b71c1c;font-weight:bold}
            .note,.legend{color:#5b6270;font-size:12.5px}
            .scroll{overflow-x:auto}
            svg.chart text{font:11px ui-monospace,Menlo,Consolas,monospace;fill:#1d232e}
            svg.chart .label{text-anchor:end}
            svg.chart .tick{text-anchor:middle;fill:#5b6270}
            svg.chart .tick.end{text-anchor:end}
            svg.chart .muted{fill:#9e9e9e}
            svg.chart .caption{fill:#5b6270}
            svg.chart .grid{stroke:#eceef1}
            svg.chart .axis{stroke:#9aa1ad}
            svg.chart .bar.good{fill:#66bb6a}
            svg.chart .bar.fair{fill:#f0b429}
            svg.chart .bar.bad{fill:#e57373}
            svg.chart .tolerance{stroke:#c62828;stroke-width:1.5;stroke-dasharray:5 3}
            svg.chart .tolerance-label{fill:#c62828;text-anchor:middle}
            svg.chart .band{fill:#e3f4e6;stroke:#66bb6a}
            svg.chart .expected{fill:#ffffff;stroke:#1d232e;stroke-width:1.5}
            svg.chart .actual.good{fill:#2e7d32}
            svg.chart .actual.fair{fill:#b7791f}
            svg.chart .actual.bad{fill:#c62828}
            footer{margin-top:32px;color:#5b6270;font-size:12px}
            @media print{body{margin:0;max-width:none}.scroll{overflow:visible}h2{break-after:avoid}svg{break-inside:avoid}}
            """
}
