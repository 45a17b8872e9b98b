import Dispatch

/// Streams files through SHA-256 with a fixed buffer; many files are hashed on all cores.
enum FileHashing {
    struct Result: Sendable {
        var size: UInt64
        var sha256: String
    }

    static func hash(file path: String) throws -> Result {
        let file = try PosixFile(path: path, mode: .read)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var hasher = SHA256Hasher()
        var size: UInt64 = 0
        while true {
            let n = try file.read(into: buffer)
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            size += UInt64(n)
        }
        return Result(size: size, sha256: Hex.encode(hasher.finalize()))
    }

    /// Hashes `paths` in parallel; results are in the order of `paths`.
    static func hash(files paths: [String], progress: ProgressCounter? = nil) throws -> [Result] {
        let results = ResultSlots(count: paths.count)
        DispatchQueue.concurrentPerform(iterations: paths.count) { i in
            results.set(i, Swift.Result { try hash(file: paths[i]) })
        }
        return try (0..<paths.count).map { i in
            let result = try results.get(i).get()
            progress?.advance(by: Int(result.size))
            return result
        }
    }

    /// Hashes `paths` in parallel, each result on its own: one file failing (it vanished, it
    /// cannot be read) does not lose the others.
    static func hashEach(files paths: [String]) -> [Swift.Result<Result, any Error>] {
        let results = ResultSlots(count: paths.count)
        DispatchQueue.concurrentPerform(iterations: paths.count) { i in
            results.set(i, Swift.Result { try hash(file: paths[i]) })
        }
        return (0..<paths.count).map { results.get($0) }
    }

    /// One slot per file, each written by exactly one iteration.
    private final class ResultSlots: @unchecked Sendable {
        private let slots: UnsafeMutableBufferPointer<Swift.Result<Result, any Error>?>
        init(count: Int) { slots = .allocate(capacity: count); slots.initialize(repeating: nil) }
        deinit { slots.deinitialize().deallocate() }
        func set(_ i: Int, _ value: Swift.Result<Result, any Error>) { slots[i] = value }
        func get(_ i: Int) -> Swift.Result<Result, any Error> { slots[i]! }
    }
}
