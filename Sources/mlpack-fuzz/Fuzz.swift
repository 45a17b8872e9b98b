import Foundation
import MLPack

/// The fuzz target (`make fuzz`): every input is a pack from a stranger. It goes
/// through inspect, verify and extract, and, read as a tensor or metrics file, through the
/// comparison's readers. An error is the expected answer; a crash, a hang or a sanitizer
/// report is a bug, and its input joins fixtures/conformance/.
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = data.map { Data(bytes: $0, count: size) } ?? Data()
    let pack = FuzzFiles.folder + "/input.mlpack"
    guard FileManager.default.createFile(atPath: pack, contents: input) else { fatalError("cannot write \(pack)") }

    _ = try? PackInspector.inspect(pack, limits: FuzzFiles.limits)
    var verify = VerifyOptions()
    verify.allowUnsigned = true
    verify.limits = FuzzFiles.limits
    _ = try? PackVerifier.verify(pack, options: verify)
    let target = FuzzFiles.folder + "/extracted"
    var extract = ExtractOptions(destination: target)
    extract.limits = FuzzFiles.limits
    _ = try? PackExtractor.extract(pack, options: extract)
    try? FileManager.default.removeItem(atPath: target)

    for name in ["input.safetensors", "input.npy", "input.npz", "input.json"] {
        let path = FuzzFiles.folder + "/" + name
        guard FileManager.default.createFile(atPath: path, contents: input) else { fatalError("cannot write \(path)") }
        _ = try? OutputComparison.compare(expected: path, actual: path + ".missing")
        _ = try? OutputComparison.compare(
            expected: FuzzFiles.reference(for: name), actual: path, tolerance: ComparisonTolerance(atol: 1e-3))
    }
    return 0
}

enum FuzzFiles {
    /// A private folder for this process's inputs (libFuzzer may run several processes).
    static let folder: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = base + "/mlpack-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// Small limits, so one input cannot spend seconds decompressing a bomb: the limits
    /// themselves are what is under test, not their defaults.
    static let limits: ReaderLimits = {
        var limits = ReaderLimits()
        limits.maxTotalBytes = 64 << 20
        limits.maxExpansionRatio = 1000
        limits.expansionGrace = 1 << 20
        limits.maxMetadataBytes = 4 << 20
        return limits
    }()

    /// A valid file of each kind to compare the input with (written once).
    static func reference(for name: String) -> String {
        let path = folder + "/reference-" + name
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(
                atPath: path, contents: references[(name as NSString).pathExtension] ?? Data())
        }
        return path
    }

    private static let references: [String: Data] = [
        "safetensors": Data([0x40, 0, 0, 0, 0, 0, 0, 0])
            + Data(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}          "#.utf8)
            + Data(repeating: 0x3f, count: 8),
        "npy": Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0, 0x76, 0])
            + Data(
                ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }".padding(
                    toLength: 117, withPad: " ", startingAt: 0) + "\n").utf8)
            + Data(repeating: 0x3f, count: 8),
        "json": Data(#"{"loss": 0.5, "eval": {"accuracy": [0.9, NaN]}}"#.utf8),
    ]
}
