/// One tensor as its file's header describes it, already checked: its byte count is
/// `elements × dtype.size` and lies inside the file.
struct TensorInfo: Sendable {
    var name: String
    var dtype: TensorDType
    var shape: [Int]
    var elements: UInt64
    var byteCount: UInt64
    /// Elements laid out column-major (.npy's `fortran_order`).
    var fortranOrder = false
    /// Where the bytes are: a file offset (safetensors, .npy) or a member index (.npz).
    var position: UInt64
    /// Bytes to skip inside the member before the data (.npz: the .npy header).
    var skip: UInt64 = 0

    /// `shape`'s element count and byte count, or nil when they overflow 64 bits.
    static func sizes(shape: [Int], dtype: TensorDType) -> (elements: UInt64, bytes: UInt64)? {
        var elements: UInt64 = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = elements.multipliedReportingOverflow(by: UInt64(dimension))
            if overflow { return nil }
            elements = product
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: UInt64(dtype.size))
        return overflow ? nil : (elements, bytes)
    }
}

/// A file of named tensors whose headers were read and checked, and whose data is read
/// tensor by tensor, chunk by chunk: nothing holds a whole tensor in memory.
protocol TensorContainer: AnyObject {
    var path: String { get }
    /// In the file's order.
    var tensors: [TensorInfo] { get }
    /// Free-form metadata (safetensors' `__metadata__`), compared for information only.
    var metadata: [String: String] { get }
    /// The tensor's bytes, from its first. Read it to the end before opening another.
    func open(_ tensor: TensorInfo) throws -> any TensorByteStream
}

/// The bytes of one tensor, read front to back.
protocol TensorByteStream: AnyObject {
    /// Fills `buffer` completely; throws when the bytes end first (the file was truncated
    /// or changed while it was read).
    func readExactly(into buffer: UnsafeMutableRawBufferPointer) throws
    /// Checks that nothing follows the tensor where nothing may (an .npz member).
    func finish() throws
}

/// A byte range of a file, read with `pread`.
final class FileRangeStream: TensorByteStream {
    private let file: PosixFile
    private var offset: UInt64
    private let end: UInt64
    private let tensor: String

    init(file: PosixFile, offset: UInt64, count: UInt64, tensor: String) {
        self.file = file
        self.offset = offset
        self.end = offset + count
        self.tensor = tensor
    }

    func readExactly(into buffer: UnsafeMutableRawBufferPointer) throws {
        guard UInt64(buffer.count) <= end - offset else {
            throw MLPackError.io(path: file.path, reason: "read past the end of tensor \(tensor)")
        }
        let n = try file.read(at: offset, into: buffer)
        guard n == buffer.count else {
            throw MLPackError.io(
                path: file.path, reason: "ends inside tensor \(tensor) (the file changed while it was read)")
        }
        offset += UInt64(n)
    }

    func finish() throws {}
}
