/// A `.npy` file: one array, named "array" (so two files compare whatever their names).
final class NpyFile: TensorContainer {
    static let arrayName = "array"

    let path: String
    let tensors: [TensorInfo]
    var metadata: [String: String] { [:] }
    private let file: PosixFile

    init(path: String) throws {
        func invalid(_ problem: String) -> MLPackError { .io(path: path, reason: "not a valid .npy file: \(problem)") }
        let file = try PosixFile(path: path, mode: .read)
        guard let size = file.seekableSize else { throw MLPackError.io(path: path, reason: "not a regular file") }
        var offset: UInt64 = 0
        let header: NpyHeader
        do {
            header = try NpyHeader.read { count in
                defer { offset += UInt64(count) }
                return try file.read(at: offset, count: count)
            }
        } catch let problem as NpyHeader.Problem {
            throw invalid(problem.message)
        }
        let (expected, overflow) = header.dataOffset.addingReportingOverflow(header.byteCount)
        guard !overflow, expected <= size else {
            throw invalid(
                "shape \(header.shape) × \(header.dtype.name) needs \(header.byteCount) data bytes, the file holds \(size - min(size, header.dataOffset))"
            )
        }
        guard expected == size else { throw invalid("\(size - expected) bytes follow the array") }
        self.path = path
        self.file = file
        self.tensors = [
            TensorInfo(
                name: Self.arrayName, dtype: header.dtype, shape: header.shape, elements: header.elements,
                byteCount: header.byteCount,
                fortranOrder: header.fortranOrder, position: header.dataOffset)
        ]
    }

    func open(_ tensor: TensorInfo) throws -> any TensorByteStream {
        FileRangeStream(file: file, offset: tensor.position, count: tensor.byteCount, tensor: tensor.name)
    }
}
