import Foundation
import TestSupport
import Testing

@testable import MLPack

/// A lineage of `count` runs as `inspect` reads it: each run fine-tunes the previous one's
/// checkpoint, every seventh also reads the run three back (a branch merged), every fifth
/// reads a data reference, and the first reads a folder of plain files.
private func lineage(runs count: Int, name: (Int) -> String = { "stage-\($0)" }) -> [LineageView.Step] {
    func digest(_ run: Int) -> String { String(repeating: String(format: "%02x", run % 256), count: 32) }
    return (0..<count).map { index in
        var inputs: [LineageView.File] = []
        if index == 0 {
            inputs = (0..<12).map { LineageView.File(path: "/datasets/cifar/part-\($0).bin", sha256: digest(200 + $0)) }
        }
        if index > 0 {
            inputs.append(
                LineageView.File(
                    path: "checkpoints/\(index - 1).npy", sha256: digest(index - 1), producedBy: "run\(index - 1)"))
        }
        if index >= 3 && index % 7 == 0 {
            inputs.append(
                LineageView.File(
                    path: "checkpoints/\(index - 3).npy", sha256: digest(index - 3), producedBy: "run\(index - 3)"))
        }
        if index % 5 == 0 {
            inputs.append(LineageView.File(path: "/data/corpus", sha256: digest(250), reference: "corpus"))
        }
        let last = index == count - 1
        let output = LineageView.File(
            path: last ? "out/final.safetensors" : "checkpoints/\(index).npy", sha256: digest(index),
            item: last ? "artifacts/weights/final.safetensors" : index == 3 ? "artifacts/checkpoints/run3/3.npy" : nil)
        return LineageView.Step(
            run: "run\(index)", name: name(index), command: ["python3", "train.py", "--stage", "\(index)"],
            workingDirectory: ".", status: .succeeded, exitCode: 0,
            started: String(format: "2026-12-08T01:%02d:00Z", index),
            ended: String(format: "2026-12-08T01:%02d:30Z", index), codeSnapshot: "code/\(index)", environment: "env",
            inputs: inputs, outputs: [output])
    }
}

/// The boxes an SVG draws: each `<rect x= y= width= height=>`, as the browser would place them.
private func drawnBoxes(_ svg: String) throws -> [GraphLayout.Box] {
    let pattern = try Regex(#"<rect x="([-0-9.]+)" y="([-0-9.]+)" width="([0-9.]+)" height="([0-9.]+)""#)
    return svg.matches(of: pattern).map { match in
        let numbers = (1...4).map { Double(match.output[$0].substring!)! }
        return GraphLayout.Box(x: numbers[0], y: numbers[1], width: numbers[2], height: numbers[3])
    }
}

private func overlapping(_ boxes: [GraphLayout.Box]) -> [(Int, Int)] {
    boxes.indices.flatMap { a in (boxes.indices.filter { $0 > a && boxes[a].overlaps(boxes[$0]) }).map { (a, $0) } }
}

/// A rebuild's findings, as the rebuilder gives them, without running one.
private enum RebuildReportSample {
    static var reproduced: RebuildReport { report(failed: false) }
    static var notReproduced: RebuildReport { report(failed: true) }

    private static func report(failed: Bool) -> RebuildReport {
        let verification = VerifyReport(
            pack: "paper.mlpack", name: "paper", packId: "0123456789abcdef", created: "2026-12-08T01:00:00Z",
            title: "A paper", items: 12, withheld: 0, payloadBytes: 123_456, signature: "valid",
            signer: "author", signerPublicKey: nil, seekIndex: "valid", provenance: nil, data: [], warnings: [],
            verdict: .verified)
        let run = RebuildReport.Run(
            id: "run0", name: "stage-0", command: ["python3", "train.py"], status: failed ? "failed" : "ok",
            exitCode: failed ? 1 : 0, signal: nil, seconds: 1.5, log: nil, logTail: failed ? ["Traceback"] : [],
            sandboxRefusals: [], ignoredVariables: [], limitsHit: [])
        let output = RebuildReport.Output(
            run: "run0", path: "out/final.safetensors", item: "artifacts/weights/final.safetensors",
            verdict: failed ? .missing : .identical, decisive: true, comparison: nil, note: nil)
        return RebuildReport(
            pack: "paper.mlpack", verification: verification, sandbox: "bubblewrap", limits: RebuildLimits(),
            runs: [run],
            tolerance: ComparisonTolerance(atol: 1e-6), outputs: [output], pythonEnvironments: [], drift: nil,
            verdict: failed ? .notReproduced : .reproduced, workdir: nil, lineage: [], cardOutputs: [])
    }
}

@Suite("The HTML report's lineage graph and charts")
struct ReportTests {
    @Test(
        "1 to 50 runs lay out without two boxes overlapping, inside the picture, with Graphviz and without",
        arguments: [GraphLayout.Engine.graphviz, .layered], [1, 2, 8, 50])
    func noOverlaps(engine: GraphLayout.Engine, runs: Int) throws {
        if engine == .graphviz {
            try #require(
                ChildProcess.locate("dot") != nil, "Graphviz's dot is not installed (scripts/setup.sh installs it)")
        }
        let graph = LineageGraph(steps: lineage(runs: runs))
        let layout = GraphLayout.make(graph, engine: engine)
        #expect(layout.engine == engine)
        let svg = GraphDrawing.svg(graph, layout: layout, standalone: true)
        let boxes = try drawnBoxes(svg)
        #expect(boxes.count == graph.nodes.count)
        #expect(overlapping(boxes).isEmpty, "overlapping boxes: \(overlapping(boxes).prefix(5))")
        for box in boxes {
            #expect(
                box.x >= 0 && box.y >= 0 && box.x + box.width <= layout.width && box.y + box.height <= layout.height)
        }
        #expect(layout.routes.count == graph.edges.count)
        // A reader reads top to bottom: every edge goes down the page.
        for route in layout.routes {
            #expect(boxes[route.edge.from].y < boxes[route.edge.to].y)
        }
    }

    @Test(
        "the graph: a run per step, a checkpoint between runs, one node for a dozen plain reads, the card's output marked"
    )
    func graphShape() {
        var report = RebuildReportSample.reproduced
        report.cardOutputs = ["artifacts/weights/final.safetensors"]
        let graph = LineageGraph(steps: lineage(runs: 8), rebuild: report)
        #expect(graph.nodes.filter { $0.kind == .run }.count == 8)
        #expect(graph.nodes.filter { $0.kind == .data }.count == 1)  // one corpus node, read twice
        #expect(graph.nodes.contains { $0.lines == ["12 files read", "/datasets/cifar/"] })
        let highlighted = graph.nodes.filter(\.highlighted)
        #expect(highlighted.map(\.lines.first) == ["out/final.safetensors"])
        #expect(
            graph.nodes.contains { $0.lines == ["checkpoints/3.npy", "checkpoint"] }, "a shipped checkpoint is marked")
        // run0 → checkpoints/0.npy → run1
        let run0 = graph.nodes.firstIndex { $0.lines.dropFirst().first == "run0" }!
        let run1 = graph.nodes.firstIndex { $0.lines.dropFirst().first == "run1" }!
        let checkpoint = graph.edges.first { $0.from == run0 }!.to
        #expect(graph.edges.contains(LineageGraph.Edge(from: checkpoint, to: run1)))
    }

    @Test("a pack's text is text: <script> in a run's name or command is escaped in the SVG, the DOT and the page")
    func hostileText() throws {
        let steps = lineage(runs: 3, name: { "<script>alert(\($0))</script>\"&'" })
        let graph = LineageGraph(steps: steps)
        let svg = GraphDrawing.svg(graph, layout: GraphLayout.make(graph, engine: .layered))
        #expect(!svg.contains("<script"))
        #expect(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;&#39;"))

        // dot reads the labels back unchanged: quotes and backslashes escaped.
        var tricky = lineage(runs: 2, name: { _ in "a\"b\\c\u{7}" })
        tricky[0].command = ["sh", "-c", "echo \"}\" ; x [label=\"y\"]"]
        let dot = GraphLayout.dot(LineageGraph(steps: tricky), labels: true)
        #expect(dot.contains(#"label="a\"b\\c?\nrun0"#))
        let executable = try #require(ChildProcess.locate("dot"), "Graphviz's dot is not installed")
        let plain = try withTemporaryDirectory { folder in
            try Data(dot.utf8).write(to: URL(fileURLWithPath: folder.path("g.dot")))
            return try #require(ChildProcess.run([executable, "-Tplain", folder.path("g.dot")], timeout: 30))
        }
        // 2 runs, "12 files read", the corpus, 2 outputs: nothing injected.
        #expect(plain.split(separator: "\n").filter { $0.hasPrefix("node ") }.count == 6)
        #expect(!plain.contains("node x "))

        var report = RebuildReportSample.notReproduced
        report.lineage = steps
        report.verification.name = "<script>alert('pack')</script>"
        report.runs[0].command = ["python3", "-c", "print('<script>x</script>')"]
        report.runs[0].logTail = ["</pre><script>alert(2)</script>"]
        let page = HTMLReport.rebuild(report, layout: .layered)
        #expect(!page.contains("<script"))
        #expect(page.contains("&lt;script&gt;alert(&#39;pack&#39;)&lt;/script&gt;"))
        #expect(page.contains("&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;"))
    }

    @Test("the page fetches nothing: no http, no protocol-relative reference, no src, no url() but the arrow's")
    func selfContained() throws {
        var report = RebuildReportSample.notReproduced
        report.lineage = lineage(runs: 4)
        for engine in [GraphLayout.Engine.graphviz, .layered] {
            let page = HTMLReport.rebuild(report, layout: engine)
            for reference in ["http:", "https:", "//", "src=", "href=", "@import", "<link", "<script", "<img"] {
                #expect(!page.contains(reference), "the report holds \(reference)")
            }
            #expect(page.replacingOccurrences(of: "url(#arrow)", with: "").contains("url(") == false)
        }
    }

    @Test("differences are counted by power of two in one pass, 0 and NaN left out, the far ends clamped")
    func histogram() {
        var histogram = DifferenceHistogram()
        for value in [0.75, 0.5, 0.001, 0.0015, 3.0, 0, .nan, .infinity, 1e-300, 1e300] { histogram.add(value) }
        #expect(
            histogram.bins == [
                DifferenceBin(exponent: -96, count: 1),  // 1e-300, below the lowest bin
                DifferenceBin(exponent: -10, count: 2),  // 0.001, 0.0015 in [2^-10, 2^-9)
                DifferenceBin(exponent: -1, count: 2),  // 0.5, 0.75
                DifferenceBin(exponent: 1, count: 1),  // 3
                DifferenceBin(exponent: 31, count: 1),  // 1e300, above the highest
            ])
    }

    @Test(
        "comparing the GPU's nondeterministic runs: per-tensor bars, emb.weight worst at ~0.006, histograms for the worst"
    )
    func gpuComparison() throws {
        let weights = EnvironmentFixtures.repository + "/fixtures/gpu-h100/weights/"
        let comparison = try OutputComparison.compare(
            expected: weights + "gpu_nondet_a.safetensors", actual: weights + "gpu_nondet_b.safetensors",
            tolerance: ComparisonTolerance(atol: 1e-6, rtol: 0))
        let worst = try #require(comparison.tensors.first)
        #expect(worst.name == "emb.weight")
        #expect(abs((worst.maxAbs ?? 0) - 0.006) < 0.001)
        let bins = try #require(worst.differences)
        #expect(bins.map(\.count).reduce(0, +) <= worst.changedElements)
        #expect(bins.last!.exponent == Int((worst.maxAbs ?? 0).exponent))
        let page = HTMLReport.comparison(comparison, expected: "a", actual: "b")
        #expect(page.contains("tolerance: atol 1e-06") || page.contains("atol 1e-06"))
        #expect(page.components(separatedBy: "Element differences of").count - 1 == HTMLReport.histograms)
        #expect(page.contains("<title>emb.weight: max abs"))
    }
}
