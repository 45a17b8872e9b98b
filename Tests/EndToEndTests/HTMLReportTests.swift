import Foundation
import TestSupport
import Testing

/// The HTML reports (`verify --rebuild --report X.html`, `compare --report X.html`) and the
/// lineage graph (`inspect --graph`), opened in a real headless browser cut off from the
/// network. With MLPACK_SCREENSHOTS=FOLDER the screenshots are kept there (docs/ holds them).
@Suite("HTML reports in a browser")
struct HTMLReportTests: RebuildSuite {
    /// Keeps a screenshot for the README when asked to.
    private func keep(_ png: String, as name: String) throws {
        guard let folder = ProcessInfo.processInfo.environment["MLPACK_SCREENSHOTS"] else { return }
        try? FileManager.default.removeItem(atPath: folder + "/" + name)
        try FileManager.default.copyItem(atPath: png, toPath: folder + "/" + name)
    }

    /// What a page must not hold: anything that would make the browser fetch, or run.
    private func expectSelfContained(_ html: String, _ what: String) {
        for reference in ["http:", "https:", "//", "src=", "href=", "@import", "<link", "<script", "<img", "<iframe"] {
            #expect(!html.contains(reference), "\(what) holds \(reference)")
        }
        #expect(!html.replacingOccurrences(of: "url(#arrow)", with: "").contains("url("), "\(what) refers to a url()")
    }

    @Test(
        "the demo's reproduced rebuild: verdict, pack, lineage graph by Graphviz, outputs; inspect --graph writes SVG and DOT"
    )
    func demoReproduced() async throws {
        try await withSandbox { box in
            let (pack, _) = try await demoPack(in: box)
            let html = box.path("review.html")
            let result = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--cache", box.path("cache"),
                "--report", html, "--report", box.path("review.md"),
            ])
            #expect(result.status == 0, "\(result)")
            #expect(exists(box.path("review.md")), "both reports are written")
            let page = String(decoding: try readBytes(html), as: UTF8.self)
            expectSelfContained(page, "the rebuild report")

            let dom = try await Browser.dom(of: html, in: box)
            for text in [
                "Rebuild of <code>spirals</code>", ">REPRODUCED<", "every SHA-256 checked", "bubblewrap",
                "atol 1e-06", "test_accuracy", "Laid out by Graphviz (dot)", ">pretrain<", ">finetune<",
                "data: dataset", "checkpoints/pretrain.safetensors", "checkpoint, identical", "finetuned.safetensors",
                "<td class=\"good\">identical</td><td><code>artifacts/finetuned.safetensors</code>",
            ] {
                #expect(dom.contains(text), "the page shows \(text)")
            }
            #expect(dom.contains("class=\"node run good\""), "ran runs are green")
            #expect(dom.contains("highlighted"), "the card's output is marked")
            let png = box.path("demo.png")
            try await Browser.screenshot(of: html, to: png, height: 1900, in: box)
            try keep(png, as: "report-reproduced.png")

            let svg = box.path("lineage.svg")
            let written = try await mlpack(["inspect", pack, "--graph", svg])
            #expect(written.status == 0, "\(written)")
            #expect(written.out == "wrote the lineage graph of \(pack) (2 runs) to \(svg)\n")
            let drawing = String(decoding: try readBytes(svg), as: UTF8.self)
            #expect(drawing.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
            #expect(drawing.contains(">pretrain</text>") && drawing.contains(">finetune</text>"))
            let dot = box.path("lineage.dot")
            #expect(try await mlpack(["inspect", pack, "--graph", dot, "-q"]).status == 0)
            let rendered = try await must("dot", ["-Tsvg", dot])
            #expect(rendered.out.contains(">pretrain</text>"), "Graphviz renders the DOT file itself")

            let wrong = try await mlpack(["inspect", pack, "--graph", box.path("lineage.png")])
            #expect(wrong.status == 2 && wrong.err.contains("name a .svg or a .dot file"), "\(wrong)")
            #expect(!exists(box.path("lineage.png")))
        }
    }

    @Test(
        "a not-reproduced rebuild: the verdict, the differing tensor and metric, charts; <script> in the pack is text")
    func clockSeededNotReproduced() async throws {
        try await withSandbox { box in
            let hostile = "<script>alert('pack')</script>"
            let pack = try await clockSeededPack(
                in: box, name: hostile, argument: "</code><script>x()</script>", title: "A <b>bold</b> & " + hostile)
            let html = box.path("review.html")
            let result = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--report", html,
            ])
            #expect(result.status == 4, "\(result)")
            let page = String(decoding: try readBytes(html), as: UTF8.self)
            expectSelfContained(page, "the rebuild report")
            let dom = try await Browser.dom(of: html, in: box)
            for text in [
                ">NOT REPRODUCED<", "<td class=\"bad\">different</td><td><code>artifacts/model.safetensors</code>",
                "Largest difference per tensor", "Element differences of <code>w</code>", "Metrics: expected",
                "loss", "class=\"node run good\"", "class=\"node file bad\"",
            ] {
                #expect(dom.contains(text), "the page shows \(text)")
            }
            // The browser parsed no element out of the pack's text: it is there as text.
            #expect(!dom.contains("<script"), "no script element")
            #expect(!dom.contains("<b>bold"), "no markup from the title")
            #expect(dom.contains("A &lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert('pack')&lt;/script&gt;"))
            #expect(dom.contains("&lt;/code&gt;&lt;script&gt;x()&lt;/script&gt;"), "the command as text")
            let png = box.path("clock.png")
            try await Browser.screenshot(of: html, to: png, height: 2300, in: box)
            try keep(png, as: "report-not-reproduced.png")
        }
    }

    @Test("compare of the GPU's nondeterministic weights: emb.weight worst at ~0.006, its bar past the 1e-6 line")
    func gpuCompare() async throws {
        try await withSandbox { box in
            let weights = Repo.root + "/fixtures/gpu-h100/weights/"
            let html = box.path("compare.html")
            let result = try await mlpack([
                "compare", weights + "gpu_nondet_a.safetensors", weights + "gpu_nondet_b.safetensors", "--atol", "1e-6",
                "--report", html,
            ])
            #expect(result.status != 0, "beyond 1e-6: different (\(result))")
            let page = String(decoding: try readBytes(html), as: UTF8.self)
            expectSelfContained(page, "the comparison report")
            let dom = try await Browser.dom(of: html, in: box)
            #expect(dom.contains(">DIFFERENT<"))
            #expect(dom.contains("tolerance: atol 1e-06"))
            #expect(dom.contains("Element differences of <code>emb.weight</code>"))

            // The chart's first bar is emb.weight's, at about 0.006, and reaches past the tolerance line.
            let bar = try #require(
                dom.firstMatch(
                    of: try Regex(
                        #"<rect class="bar [a-z]+" x="([0-9.]+)" y="[0-9.]+" width="([0-9.]+)"[^>]*><title>([^<]+): max abs ([0-9.e-]+)</title>"#
                    )))
            #expect(bar.output[3].substring == "emb.weight")
            let value = try #require(Double(String(bar.output[4].substring!)))
            #expect(abs(value - 0.006) < 0.0005, "emb.weight's max abs is \(value)")
            let line = try #require(dom.firstMatch(of: try Regex(#"<line class="tolerance" x1="([0-9.]+)""#)))
            let barEnd = Double(String(bar.output[1].substring!))! + Double(String(bar.output[2].substring!))!
            #expect(barEnd > Double(String(line.output[1].substring!))!, "the worst bar ends past the tolerance line")

            let png = box.path("compare.png")
            try await Browser.screenshot(of: html, to: png, height: 1500, in: box)
            try keep(png, as: "report-compare.png")

            let notHTML = try await mlpack([
                "compare", weights + "gpu_nondet_a.safetensors", weights + "gpu_nondet_b.safetensors", "--report",
                box.path("c.md"),
            ])
            #expect(notHTML.status == 2 && notHTML.err.contains("name a .html file"), "\(notHTML)")
        }
    }
}
