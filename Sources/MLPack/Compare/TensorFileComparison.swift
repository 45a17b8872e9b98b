import Foundation

/// An error reading the actual (rebuilt) file: it makes the output different, not the
/// comparison impossible.
struct ActualFileFailure: Error {
    let error: MLPackError

    /// Runs `body`, which reads the actual file, marking its errors as the actual file's.
    static func reading<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as MLPackError { throw ActualFileFailure(error: error) }
    }
}

/// Compares two tensor files of one kind: the same tensor names, dtypes and shapes are
/// required; then each pair is read chunk by chunk (two buffers of `chunkBytes`, whatever
/// the files' sizes) and compared bitwise first, element by element where the bytes differ.
enum TensorFileComparison {
    static let defaultChunkBytes = 1 << 20

    static func compare(
        expected: any TensorContainer, actual: any TensorContainer, kind: ComparisonKind,
        tolerance: ComparisonTolerance,
        chunkBytes: Int = defaultChunkBytes
    ) throws -> Comparison {
        var result = Comparison(verdict: .different, kind: kind, tolerance: tolerance)
        let actualByName = Dictionary(actual.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let expectedNames = Set(expected.tensors.map(\.name))
        let buffers = ChunkBuffers(bytes: chunkBytes)
        var maxAbs: Double?, maxRel: Double?

        for tensor in expected.tensors {
            var row = TensorComparison(
                name: tensor.name, dtype: tensor.dtype.name, shape: tensor.shape, verdict: .missing,
                mismatchedElements: 0, changedElements: 0, elements: Int(clamping: tensor.elements))
            guard let other = actualByName[tensor.name] else {
                result.problems.append("tensor \(tensor.name) is missing from the actual file")
                result.tensors.append(row)
                continue
            }
            row.verdict = .different
            if tensor.dtype.name != other.dtype.name { row.actualDtype = other.dtype.name }
            if tensor.shape != other.shape { row.actualShape = other.shape }
            if !tensor.dtype.isComparable(with: other.dtype) {
                result.problems.append("tensor \(tensor.name): dtype \(tensor.dtype.name) became \(other.dtype.name)")
            } else if tensor.shape != other.shape {
                result.problems.append("tensor \(tensor.name): shape \(tensor.shape) became \(other.shape)")
            } else if tensor.fortranOrder != other.fortranOrder {
                result.problems.append("tensor \(tensor.name): element order \(order(tensor)) became \(order(other))")
            } else {
                let stats = try compareData(
                    tensor, in: expected, with: other, in: actual, tolerance: tolerance, buffers: buffers)
                row.changedElements = Int(clamping: stats.changed)
                row.mismatchedElements = Int(clamping: stats.mismatched)
                row.verdict = stats.changed == 0 ? .identical : stats.mismatched == 0 ? .withinTolerance : .different
                if hasMagnitude(tensor.dtype) {
                    row.maxAbs = stats.maxAbs
                    row.maxRel = stats.maxRel
                    if stats.changed > 0 { row.differences = stats.differences.bins }
                    maxAbs = max(maxAbs ?? 0, stats.maxAbs)
                    maxRel = max(maxRel ?? 0, stats.maxRel)
                }
            }
            result.tensors.append(row)
        }
        for tensor in actual.tensors where !expectedNames.contains(tensor.name) {
            result.problems.append("tensor \(tensor.name) is only in the actual file")
            result.tensors.append(
                TensorComparison(
                    name: tensor.name, dtype: tensor.dtype.name, shape: tensor.shape, verdict: .different,
                    mismatchedElements: 0, changedElements: 0, elements: Int(clamping: tensor.elements)))
        }

        result.maxAbsoluteDifference = maxAbs
        result.maxRelativeDifference = maxRel
        result.worst = worst(result.tensors)
        result.notes = notes(expected, actual)
        let verdicts = result.tensors.map(\.verdict)
        result.verdict =
            !result.problems.isEmpty || verdicts.contains(.different)
            ? .different
            : verdicts.allSatisfy { $0 == .identical } ? .equivalent : .withinTolerance
        return result
    }

    /// Reads both tensors to their ends, chunk by chunk.
    private static func compareData(
        _ tensor: TensorInfo, in expected: any TensorContainer, with other: TensorInfo, in actual: any TensorContainer,
        tolerance: ComparisonTolerance, buffers: ChunkBuffers
    ) throws -> ElementStats {
        let a = try expected.open(tensor)
        let b = try ActualFileFailure.reading { try actual.open(other) }
        // Whole elements per chunk, so no element straddles two chunks.
        let chunk = max(tensor.dtype.size, buffers.bytes / tensor.dtype.size * tensor.dtype.size)
        var stats = ElementStats()
        var remaining = tensor.byteCount
        while remaining > 0 {
            let n = Int(min(UInt64(chunk), remaining))
            let bufferA = try buffers.a(n), bufferB = try buffers.b(n)
            try a.readExactly(into: bufferA)
            try ActualFileFailure.reading { try b.readExactly(into: bufferB) }
            ElementComparison.compare(
                expected: UnsafeRawBufferPointer(bufferA), actual: UnsafeRawBufferPointer(bufferB),
                expectedType: tensor.dtype, actualType: other.dtype, tolerance: tolerance, into: &stats)
            remaining -= UInt64(n)
        }
        try a.finish()
        try ActualFileFailure.reading { try b.finish() }
        return stats
    }

    private static func hasMagnitude(_ dtype: TensorDType) -> Bool {
        switch dtype.element {
        case .bool, .opaque: false
        default: true
        }
    }

    private static func order(_ tensor: TensorInfo) -> String {
        tensor.fortranOrder ? "Fortran (column-major)" : "C (row-major)"
    }

    /// The tensor that differs most: the largest max abs difference among changed tensors;
    /// a tensor that only changed where no magnitude applies (NaNs, booleans) when no other.
    private static func worst(_ rows: [TensorComparison]) -> String? {
        let changed = rows.filter { $0.changedElements > 0 }
        if let top = changed.filter({ ($0.maxAbs ?? 0) > 0 }).max(by: { ($0.maxAbs ?? 0) < ($1.maxAbs ?? 0) }) {
            return top.name
        }
        return (changed.first { $0.mismatchedElements > 0 } ?? changed.first)?.name
    }

    /// What differs without counting: metadata and the order of the tensors in the file.
    private static func notes(_ expected: any TensorContainer, _ actual: any TensorContainer) -> [String] {
        var notes: [String] = []
        for key in Set(expected.metadata.keys).union(actual.metadata.keys).sorted()
        where expected.metadata[key] != actual.metadata[key] {
            notes.append("metadata \(key): \(expected.metadata[key] ?? "absent") → \(actual.metadata[key] ?? "absent")")
        }
        let common = Set(expected.tensors.map(\.name)).intersection(actual.tensors.map(\.name))
        if expected.tensors.map(\.name).filter(common.contains) != actual.tensors.map(\.name).filter(common.contains) {
            notes.append("the tensors are stored in a different order")
        }
        return notes
    }
}

/// Two reusable read buffers: all the memory a comparison holds besides the headers.
private final class ChunkBuffers {
    let bytes: Int
    private var first: UnsafeMutableRawBufferPointer?
    private var second: UnsafeMutableRawBufferPointer?

    init(bytes: Int) { self.bytes = max(16, bytes) }

    deinit {
        first?.deallocate()
        second?.deallocate()
    }

    func a(_ count: Int) throws -> UnsafeMutableRawBufferPointer { slice(&first, count) }
    func b(_ count: Int) throws -> UnsafeMutableRawBufferPointer { slice(&second, count) }

    /// A buffer of at least `count` bytes (more than `bytes` only for one huge element).
    private func slice(_ buffer: inout UnsafeMutableRawBufferPointer?, _ count: Int) -> UnsafeMutableRawBufferPointer {
        if buffer == nil || buffer!.count < count {
            buffer?.deallocate()
            buffer = .allocate(byteCount: max(count, bytes), alignment: 64)
        }
        return UnsafeMutableRawBufferPointer(rebasing: buffer![..<count])
    }
}
