import Foundation
import Testing

/// `mlpack compare` on two files and `mlpack diff` on two packs, through the binary.
@Suite("compare and diff")
struct CompareTests {
    static let weights = Repo.root + "/fixtures/gpu-h100/weights/"

    @Test("compare: verdicts, numbers, exit codes 0 / 4 / 2, --json")
    func compare() async throws {
        let equivalent = try await mlpack([
            "compare", Self.weights + "gpu_det_a.safetensors", Self.weights + "gpu_det_b.safetensors",
        ])
        #expect(equivalent.status == 0, "\(equivalent)")
        #expect(equivalent.out.hasPrefix("equivalent:"))

        let different = try await mlpack([
            "compare", Self.weights + "gpu_nondet_a.safetensors", Self.weights + "gpu_nondet_b.safetensors",
        ])
        #expect(different.status == 4, "\(different)")
        #expect(different.out.hasPrefix("different:"))
        #expect(different.out.contains("max abs 0.00599"))
        #expect(different.out.contains("in emb.weight"))

        let within = try await mlpack([
            "compare", Self.weights + "gpu_nondet_a.safetensors", Self.weights + "gpu_nondet_b.safetensors", "--atol",
            "0.01", "--json",
        ])
        #expect(within.status == 0, "\(within)")
        let report = try #require(try JSONSerialization.jsonObject(with: within.stdout) as? [String: Any])
        #expect(report["verdict"] as? String == "within tolerance")
        #expect(report["worst"] as? String == "emb.weight")
        #expect(abs((report["maxAbsoluteDifference"] as? Double ?? 0) - 0.005994915962219238) < 1e-9)

        let cpu = try await mlpack([
            "compare", Self.weights + "cpu_a.safetensors", Self.weights + "gpu_det_a.safetensors",
        ])
        #expect(cpu.status == 4)
        #expect(cpu.out.contains("max abs 0.0112"))
        #expect(cpu.out.contains("in l1.weight"))

        let metrics = try await mlpack([
            "compare", Self.weights + "gpu_nondet_a.metrics.json", Self.weights + "gpu_nondet_b.metrics.json",
            "--metric-tolerance", "accuracy=0.001",
            "--metric-tolerance", "loss=0.0001",
        ])
        #expect(metrics.status == 0, "\(metrics)")
        #expect(metrics.out.contains("timing: not counted"))

        let missing = try await mlpack(["compare", Self.weights + "cpu_a.safetensors", "/nonexistent.safetensors"])
        #expect(missing.status == 2)
        #expect(missing.err.contains("/nonexistent.safetensors: no such file"))
        let badFlag = try await mlpack(["compare", "a", "b", "--metric-tolerance", "loss"])
        #expect(badFlag.status == 2)
        #expect(badFlag.err.contains("NAME=X"))
    }

    @Test("diff: two packs with the same code and other weights: the code is unchanged, the weights compared by value")
    func diff() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box)
            try box.mkdir("a")
            try box.mkdir("b")
            try FileManager.default.copyItem(
                atPath: Self.weights + "gpu_nondet_a.safetensors", toPath: box.path("a/model.safetensors"))
            try FileManager.default.copyItem(
                atPath: Self.weights + "gpu_nondet_b.safetensors", toPath: box.path("b/model.safetensors"))
            let a = try await makePack(
                in: box, output: "a.mlpack", code: project.directory, weights: [box.path("a/model.safetensors")])
            try box.write("project/extra.py", "print('new')\n")
            let b = try await makePack(
                in: box, output: "b.mlpack", code: project.directory, weights: [box.path("b/model.safetensors")],
                title: "v2")

            let text = try await mlpack(["diff", a, b])
            #expect(text.status == 0, "\(text)")
            #expect(text.out.contains("added    extra.py"))
            #expect(text.out.contains("different"))
            #expect(text.out.contains("in emb.weight"))
            #expect(text.out.contains("environment: 0 major"))

            let json = try await mlpack(["diff", a, b, "--atol", "0.01", "--json"])
            #expect(json.status == 0, "\(json)")
            let report = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
            let code = try #require(report["code"] as? [[String: Any]])
            #expect(code.map { $0["name"] as? String } == ["extra.py"])
            #expect((report["codeFilesUnchanged"] as? Int ?? 0) > 0)
            let outputs = try #require(report["outputs"] as? [[String: Any]])
            let model = try #require(outputs.first { $0["path"] as? String == "artifacts/model.safetensors" })
            #expect((model["comparison"] as? [String: Any])?["verdict"] as? String == "within tolerance")
            let card = try #require(report["card"] as? [[String: Any]])
            #expect(card.contains { $0["name"] as? String == "title" && $0["change"] as? String == "added" })

            let same = try await mlpack(["diff", a, a])
            #expect(same.status == 0)
            #expect(same.out.contains("the same code, data, outputs and card"))

            let notAPack = try await mlpack(["diff", a, Self.weights + "diffs.json"])
            #expect(notAPack.status == 2, "\(notAPack)")
        }
    }
}
