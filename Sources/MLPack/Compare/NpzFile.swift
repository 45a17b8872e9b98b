/// A `.npz` file: a zip of `.npy` members (numpy's `savez`, stored, or `savez_compressed`,
/// deflated). Members are streamed, never extracted: the headers are read in one pass, and
/// each tensor's bytes are read by walking to its member again. Deflate expands at most
/// about 1000:1, and every member must hold exactly what its .npy header says.
final class NpzFile: TensorContainer {
    static let maxMembers = 100_000

    let path: String
    let tensors: [TensorInfo]
    var metadata: [String: String] { [:] }
    private var reader: ZipReader?
    /// The member `reader` is on (-1: before the first).
    private var readerIndex: Int64 = -1

    init(path: String) throws {
        func invalid(_ problem: String) -> MLPackError { .io(path: path, reason: "not a valid .npz file: \(problem)") }
        let reader = try ZipReader(path: path)
        var tensors: [TensorInfo] = []
        var names = Set<String>()
        var index: UInt64 = 0
        while let entry = try reader.next() {
            defer { index += 1 }
            guard index < Self.maxMembers else { throw invalid("more than \(Self.maxMembers) members") }
            if entry.name.hasSuffix("/") && !entry.isRegular { continue }
            guard entry.isRegular else { throw invalid("member \(entry.name) is not a regular file") }
            guard !entry.isEncrypted else { throw invalid("member \(entry.name) is encrypted") }
            guard entry.name.hasSuffix(".npy") else { throw invalid("member \(entry.name) is not an .npy array") }
            let name = String(entry.name.dropLast(4))
            guard names.insert(name).inserted else { throw invalid("two members are named \(entry.name)") }
            let header: NpyHeader
            do {
                header = try NpyHeader.read { count in
                    var bytes = [UInt8](repeating: 0, count: count)
                    let n = try bytes.withUnsafeMutableBytes { try reader.readFully(into: $0) }
                    return Array(bytes.prefix(n))
                }
            } catch let problem as NpyHeader.Problem {
                throw invalid("member \(entry.name): \(problem.message)")
            }
            let (total, overflow) = header.dataOffset.addingReportingOverflow(header.byteCount)
            if let size = entry.size, overflow || UInt64(size) != total {
                throw invalid(
                    "member \(entry.name) is \(size) bytes, its header implies \(overflow ? "more" : "\(total)")")
            }
            tensors.append(
                TensorInfo(
                    name: name, dtype: header.dtype, shape: header.shape, elements: header.elements,
                    byteCount: header.byteCount,
                    fortranOrder: header.fortranOrder, position: index, skip: header.dataOffset))
            try reader.skip()
        }
        self.path = path
        self.tensors = tensors
    }

    func open(_ tensor: TensorInfo) throws -> any TensorByteStream {
        // A zip is read forwards: start again for a member behind the current one.
        if reader == nil || readerIndex >= Int64(tensor.position) {
            reader = try ZipReader(path: path)
            readerIndex = -1
        }
        let reader = reader!
        while readerIndex < Int64(tensor.position) {
            guard try reader.next() != nil else {
                throw MLPackError.io(
                    path: path, reason: "member \(tensor.name).npy vanished (the file changed while it was read)")
            }
            readerIndex += 1
        }
        let stream = ZipMemberStream(reader: reader, member: tensor.name + ".npy")
        var header = [UInt8](repeating: 0, count: Int(tensor.skip))
        try header.withUnsafeMutableBytes { try stream.readExactly(into: $0) }
        return stream
    }
}

/// The rest of one .npz member.
private final class ZipMemberStream: TensorByteStream {
    private let reader: ZipReader
    private let member: String

    init(reader: ZipReader, member: String) {
        self.reader = reader
        self.member = member
    }

    func readExactly(into buffer: UnsafeMutableRawBufferPointer) throws {
        guard try reader.readFully(into: buffer) == buffer.count else {
            throw MLPackError.io(path: reader.path, reason: "member \(member) ends before its array does")
        }
    }

    func finish() throws {
        var byte: UInt8 = 0
        let n = try withUnsafeMutableBytes(of: &byte) { try reader.read(into: $0) }
        guard n == 0 else {
            throw MLPackError.io(path: reader.path, reason: "member \(member) holds bytes after its array")
        }
    }
}
