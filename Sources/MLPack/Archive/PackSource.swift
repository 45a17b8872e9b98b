/// The bytes a pack is read from: a local file or a pipe (`PosixFile`), or a pack on a web
/// server or an object store (`RemotePack`). Readers ask for ranges when the source can
/// seek, and read it front to back when it cannot.
protocol PackSource: AnyObject {
    /// The size when the source can be read at any offset; nil for a stream.
    var seekableSize: UInt64? { get }
    /// The next bytes of a stream; 0 only at its end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Bytes at `offset`, as many as fit or are left.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension PackSource {
    /// Up to `count` bytes at `offset` (fewer at the end).
    func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { try read(at: offset, into: $0) }
        return Array(bytes.prefix(n))
    }
}

extension PosixFile: PackSource {}
