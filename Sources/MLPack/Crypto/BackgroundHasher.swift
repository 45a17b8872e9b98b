import Dispatch

/// SHA-256 of a stream computed on its own thread while the caller reads, compresses or
/// writes the next bytes: hashing one large file is the one job that cannot be split across
/// cores, so everything else runs beside it.
final class BackgroundHasher: @unchecked Sendable {
    private let queue = DispatchQueue(label: "mlpack.hash")
    private var hasher = SHA256Hasher()  // touched only on `queue`

    /// Hashes `chunk` after every chunk given before it. `busy` is entered now and left once
    /// the chunk is hashed: the chunk's memory must stay valid and unchanged until then.
    func update(_ chunk: UnsafeRawBufferPointer, busy: DispatchGroup) {
        busy.enter()
        nonisolated(unsafe) let chunk = chunk  // read-only, and alive until `busy` is left
        queue.async { [self] in
            hasher.update(chunk)
            busy.leave()
        }
    }

    /// Waits for every chunk and returns the digest.
    func finalize() -> [UInt8] {
        queue.sync { hasher.finalize() }
    }
}

/// Buffers taken in turn by a reader whose chunks a `BackgroundHasher` hashes: a buffer is
/// handed out again only once its previous chunk is hashed, so reading runs ahead by up to
/// `count` chunks.
final class BufferRing {
    private let buffers: [UnsafeMutableRawBufferPointer]
    private let busy: [DispatchGroup]
    private var next = 0

    init(count: Int = 4, size: Int) {
        buffers = (0..<count).map { _ in .allocate(byteCount: size, alignment: 64) }
        busy = (0..<count).map { _ in DispatchGroup() }
    }

    deinit {
        busy.forEach { $0.wait() }
        buffers.forEach { $0.deallocate() }
    }

    /// The next buffer, once nothing uses it any more, and the group to enter while its bytes are in use.
    func take() -> (buffer: UnsafeMutableRawBufferPointer, busy: DispatchGroup) {
        let index = next
        next = (next + 1) % buffers.count
        busy[index].wait()
        return (buffers[index], busy[index])
    }
}
