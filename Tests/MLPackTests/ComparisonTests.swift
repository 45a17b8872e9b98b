import Foundation
import TestSupport
import Testing

@testable import MLPack

private let weights = EnvironmentFixtures.repository + "/fixtures/gpu-h100/weights/"
private let files = EnvironmentFixtures.repository + "/fixtures/compare/"

private func compare(
    _ a: String, _ b: String, atol: Double = 0, rtol: Double = 0, metrics: [String: Double] = [:]
) throws -> Comparison {
    try OutputComparison.compare(
        expected: a, actual: b, tolerance: ComparisonTolerance(atol: atol, rtol: rtol, metrics: metrics))
}

/// The real training outputs of an H100 (fixtures/gpu-h100/weights/, see diffs.json there).
@Suite("Comparing the GPU host's real weights")
struct GPUWeightsComparisonTests {
    @Test("deterministic runs: different files, bitwise-equal tensors → equivalent")
    func deterministic() throws {
        let result = try compare(weights + "gpu_det_a.safetensors", weights + "gpu_det_b.safetensors")
        #expect(result.expectedSHA256 != result.actualSHA256)
        #expect(result.verdict == .equivalent)
        #expect(result.kind == .safetensors)
        #expect(result.tensors.count == 5)
        #expect(result.tensors.allSatisfy { $0.verdict == .identical && $0.changedElements == 0 })
    }

    @Test("nondeterministic runs: different exactly, within tolerance at atol 0.01, max ≈ 0.006 in emb.weight")
    func nondeterministic() throws {
        let exact = try compare(weights + "gpu_nondet_a.safetensors", weights + "gpu_nondet_b.safetensors")
        #expect(exact.verdict == .different)
        #expect(exact.worst == "emb.weight")
        let maxAbs = try #require(exact.maxAbsoluteDifference)
        // diffs.json (torch on the capturing host): 0.005994915962219238.
        #expect(abs(maxAbs - 0.005994915962219238) < 1e-9)
        let loose = try compare(weights + "gpu_nondet_a.safetensors", weights + "gpu_nondet_b.safetensors", atol: 0.01)
        #expect(loose.verdict == .withinTolerance)
        #expect(loose.maxAbsoluteDifference == exact.maxAbsoluteDifference)
        let tight = try compare(weights + "gpu_nondet_a.safetensors", weights + "gpu_nondet_b.safetensors", atol: 0.005)
        #expect(tight.verdict == .different)
        #expect(tight.tensors.first { $0.name == "emb.weight" }?.verdict == .different)
    }

    @Test("CPU against GPU: different, max ≈ 0.011 in l1.weight, the metadata change noted")
    func cpuAgainstGPU() throws {
        let result = try compare(weights + "cpu_a.safetensors", weights + "gpu_det_a.safetensors")
        #expect(result.verdict == .different)
        #expect(result.worst == "l1.weight")
        #expect(abs(try #require(result.maxAbsoluteDifference) - 0.011152774095535278) < 1e-9)
        #expect(result.notes.contains { $0.contains("device") })
    }

    @Test("every pair agrees with the host's own numbers in diffs.json")
    func allPairs() throws {
        struct Pair: Decodable {
            var a: String, b: String
            var tensors_bitwise_equal: Bool
            var max_abs_diff: Double
            var worst_tensor: String
        }
        let pairs = try JSONDecoder().decode([Pair].self, from: Data(readBytes(weights + "diffs.json")))
        #expect(pairs.count == 10)
        for pair in pairs {
            let result = try compare(weights + pair.a, weights + pair.b)
            #expect(result.verdict == (pair.tensors_bitwise_equal ? .equivalent : .different), "\(pair.a) → \(pair.b)")
            #expect(abs((result.maxAbsoluteDifference ?? 0) - pair.max_abs_diff) < 1e-9, "\(pair.a) → \(pair.b)")
            if !pair.tensors_bitwise_equal { #expect(result.worst == pair.worst_tensor, "\(pair.a) → \(pair.b)") }
        }
    }

    @Test("the same file is identical; its metrics too")
    func identical() throws {
        #expect(try compare(weights + "cpu_a.safetensors", weights + "cpu_a.safetensors").verdict == .identical)
        #expect(try compare(weights + "cpu_a.metrics.json", weights + "cpu_a.metrics.json").verdict == .identical)
    }

    @Test("metrics: timings do not count; loss and accuracy do")
    func metrics() throws {
        let deterministic = try compare(weights + "gpu_det_a.metrics.json", weights + "gpu_det_b.metrics.json")
        #expect(deterministic.verdict == .equivalent)
        let seconds = try #require(deterministic.metrics.first { $0.name == "seconds" })
        #expect(!seconds.counted)
        #expect(seconds.verdict == .different)
        let nondeterministic = try compare(weights + "gpu_nondet_a.metrics.json", weights + "gpu_nondet_b.metrics.json")
        #expect(nondeterministic.verdict == .different)
        #expect(nondeterministic.worst == "accuracy")
        #expect(
            try compare(weights + "gpu_nondet_a.metrics.json", weights + "gpu_nondet_b.metrics.json", atol: 0.001)
                .verdict == .withinTolerance)
        // A timing the tolerance names counts.
        let named = try compare(
            weights + "gpu_det_a.metrics.json", weights + "gpu_det_b.metrics.json", metrics: ["seconds": 0.01])
        #expect(named.verdict == .different)
        #expect(named.metrics.first { $0.name == "seconds" }?.counted == true)
    }
}

@Suite("Comparing .npy, .npz and metrics files")
struct TensorFileComparisonTests {
    @Test(".npy: other bytes, same values → equivalent (byte order, header version)")
    func npyEquivalent() throws {
        #expect(try compare(files + "base.npy", files + "base_bigendian.npy").verdict == .equivalent)
        #expect(try compare(files + "base.npy", files + "base_v2.npy").verdict == .equivalent)
        #expect(try compare(files + "base.npy", files + "base.npy").verdict == .identical)
    }

    @Test(".npy floats: atol + rtol·|expected| decides, per element")
    func npyTolerance() throws {
        let exact = try compare(files + "base.npy", files + "nudged.npy")
        #expect(exact.verdict == .different)
        let maxAbs = try #require(exact.maxAbsoluteDifference)
        #expect(maxAbs > 4.9e-6 && maxAbs < 5.1e-6)
        #expect(exact.tensors[0].changedElements == 64 * 32)
        #expect(try compare(files + "base.npy", files + "nudged.npy", atol: 2e-6).verdict == .different)
        let within = try compare(files + "base.npy", files + "nudged.npy", atol: 6e-6)
        #expect(within.verdict == .withinTolerance)
        #expect(within.tensors[0].mismatchedElements == 0)
        // rtol alone: the nudge is relative to tiny values too, so a large rtol is needed.
        #expect(try compare(files + "base.npy", files + "nudged.npy", rtol: 1e-9).verdict == .different)
    }

    @Test(".npy: integers exact whatever the tolerance; NaN only matches NaN")
    func npyExact() throws {
        let counts = try compare(files + "counts.npy", files + "counts_changed.npy", atol: 10, rtol: 1)
        #expect(counts.verdict == .different)
        #expect(counts.tensors[0].mismatchedElements == 1)
        #expect(counts.maxAbsoluteDifference == 1)
        let nan = try compare(files + "base.npy", files + "with_nan.npy", atol: 1000)
        #expect(nan.verdict == .different)
        #expect(nan.tensors[0].mismatchedElements == 1)
        #expect(try compare(files + "with_nan.npy", files + "with_nan_again.npy").verdict == .identical)
    }

    @Test(".npy structure: dtype, shape and element order must match")
    func npyStructure() throws {
        let dtype = try compare(files + "base.npy", files + "float64.npy", atol: 1)
        #expect(dtype.verdict == .different)
        #expect(dtype.problems.contains { $0.contains("dtype <f4 became <f8") })
        let shape = try compare(files + "base.npy", files + "reshaped.npy", atol: 1)
        #expect(shape.verdict == .different)
        #expect(shape.problems.contains { $0.contains("shape [64, 32] became [32, 64]") })
        let order = try compare(files + "base.npy", files + "fortran.npy", atol: 1)
        #expect(order.verdict == .different)
        #expect(order.problems.contains { $0.contains("element order") })
    }

    @Test(".npz: stored and deflated archives of the same arrays are equivalent; members compared by name")
    func npz() throws {
        let stored = try compare(files + "arrays.npz", files + "arrays_compressed.npz")
        #expect(stored.verdict == .equivalent)
        #expect(Set(stored.tensors.map(\.name)) == ["weights", "counts", "mask"])
        let nudged = try compare(files + "arrays.npz", files + "arrays_nudged.npz", atol: 6e-6)
        #expect(nudged.verdict == .withinTolerance)
        #expect(nudged.worst == "weights")
        #expect(try compare(files + "arrays.npz", files + "arrays_nudged.npz").verdict == .different)
        let missing = try compare(files + "arrays.npz", files + "arrays_missing.npz")
        #expect(missing.verdict == .different)
        #expect(missing.tensors.first { $0.name == "mask" }?.verdict == .missing)
        #expect(missing.problems.contains { $0.contains("tensor mask is missing") })
    }

    @Test("metrics: nested keys, reformatting, NaN and Infinity as Python writes them, missing keys")
    func metrics() throws {
        #expect(try compare(files + "metrics.json", files + "metrics_reformatted.json").verdict == .equivalent)
        let close = try compare(files + "metrics.json", files + "metrics_close.json")
        #expect(close.verdict == .different)
        #expect(close.worst == "loss")
        #expect(
            try compare(files + "metrics.json", files + "metrics_close.json", atol: 0.001).verdict == .withinTolerance)
        #expect(
            try compare(files + "metrics.json", files + "metrics_close.json", metrics: ["loss": 0.001]).verdict
                == .withinTolerance)
        let missing = try compare(files + "metrics.json", files + "metrics_missing.json", atol: 1)
        #expect(missing.verdict == .different)
        #expect(missing.metrics.first { $0.name == "eval.accuracy" }?.verdict == .missing)
        #expect(try compare(files + "metrics_nan.json", files + "metrics_nan_again.json").verdict == .equivalent)
        let number = try compare(files + "metrics_nan.json", files + "metrics_number.json", atol: 100)
        #expect(number.verdict == .different)
        #expect(Set(missing.metrics.map(\.name)).isSuperset(of: ["eval.f1[0]", "eval.f1[1]", "epoch"]))
    }

    @Test(
        "timing names",
        arguments: [
            ("seconds", true), ("train.elapsed_s", true), ("samples_per_sec", true), ("it/s", true),
            ("epoch_time", true),
            ("throughput", true), ("loss", false), ("accuracy", false), ("eval.f1", false), ("timesteps", false),
        ])
    func timing(name: String, timing: Bool) {
        #expect(OutputComparison.isTiming(name) == timing)
    }

    @Test("an actual file that is not what its name says is different, not an error; a bad expected file is an error")
    func unreadable() throws {
        try withTemporaryDirectory { dir in
            let truncated = try dir.write(
                "cut.safetensors", Array(try readBytes(weights + "cpu_a.safetensors").prefix(5000)))
            let result = try compare(weights + "cpu_a.safetensors", truncated)
            #expect(result.verdict == .different)
            #expect(result.actualUnreadable?.contains("past the end") == true)
            #expect(try compare(weights + "cpu_a.safetensors", dir.path("absent.safetensors")).verdict == .missing)
            #expect(throws: MLPackError.self) { try compare(truncated, weights + "cpu_a.safetensors") }
            let other = try dir.write("other.bin", [1, 2, 3])
            let bytes = try compare(other, try dir.write("other2.bin", [1, 2, 4]))
            #expect(bytes.kind == .bytes)
            #expect(bytes.verdict == .different)
        }
    }

    @Test(
        "hostile headers are refused with the reason, never trusted",
        arguments: [
            (#"{"a":1}"#, 0, "not described by an object"),
            (#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,9]}}"#, 8, "past the end"),
            (#"{"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, 8, "too large"),
            (#"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8, "data_offsets span 8"),
            (
                #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"u":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                12, "overlap"
            ),
            (#"{"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, 8, "no shape"),
            (#"{"t":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, 8, "unsupported dtype"),
            (#"["t"]"#, 0, "does not start with '{'"),
            (
                #"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                8, "describes tensor t twice"
            ),
        ])
    func hostileSafetensors(header: String, dataBytes: Int, reason: String) throws {
        try withTemporaryDirectory { dir in
            let json = Array(header.utf8)
            let length = UInt64(json.count)
            let bytes =
                (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + json
                + Array(repeating: 0, count: dataBytes)
            let path = try dir.write("h.safetensors", bytes)
            #expect {
                _ = try SafetensorsFile(path: path)
            } throws: { error in "\(error)".contains(reason) }
        }
    }

    @Test("a header length past the end or over the limit is refused before anything is read")
    func hostileLength() throws {
        try withTemporaryDirectory { dir in
            let huge = try dir.write("huge.safetensors", [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x7b])
            #expect { _ = try SafetensorsFile(path: huge) } throws: { "\($0)".contains("over the") }
            let long = try dir.write("long.safetensors", [0x40, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d])
            #expect { _ = try SafetensorsFile(path: long) } throws: { "\($0)".contains("runs past the end") }
        }
    }

    @Test("comparison memory is two chunks whatever the tensor: a 64-byte chunk gives the same answer")
    func chunked() throws {
        let a = try SafetensorsFile(path: weights + "gpu_nondet_a.safetensors"),
            b = try SafetensorsFile(path: weights + "gpu_nondet_b.safetensors")
        let small = try TensorFileComparison.compare(
            expected: a, actual: b, kind: .safetensors, tolerance: .exact, chunkBytes: 64)
        let large = try TensorFileComparison.compare(expected: a, actual: b, kind: .safetensors, tolerance: .exact)
        #expect(small.tensors == large.tensors)
    }

    @Test("metrics JSON with Python's NaN words parses; the words inside strings stay as they are")
    func pythonJSON() throws {
        let value = try #require(
            MetricsJSON.parse(Data(#"{"a": NaN, "b": -Infinity, "c": "NaN or Infinity", "d": [Infinity]}"#.utf8)))
        #expect(
            value
                == .object([
                    "a": .string("NaN"), "b": .string("-Infinity"), "c": .string("NaN or Infinity"),
                    "d": .array([.string("Infinity")]),
                ]))
        #expect(MetricsJSON.parse(Data("{not json".utf8)) == nil)
    }
}
