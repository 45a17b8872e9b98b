internal import CZstd

/// The one place that touches libzstd: a compressor that turns one buffer into one complete
/// frame, and a streaming decompressor that reports where frames end.
enum Zstd {
    /// Magic number of a zstd frame, as the first four bytes of the frame (little endian).
    static let frameMagic: UInt32 = 0xFD2F_B528
    /// Skippable frames use magics 0x184D2A50...0x184D2A5F.
    static func isSkippableMagic(_ magic: UInt32) -> Bool { magic & 0xFFFF_FFF0 == 0x184D_2A50 }

    static func compressBound(_ size: Int) -> Int { ZSTD_compressBound(size) }

    fileprivate static func check(_ code: Int, _ context: String) throws(ZstdError) -> Int {
        if ZSTD_isError(code) != 0 {
            throw ZstdError(message: "\(context): \(String(cString: ZSTD_getErrorName(code)).lowercased())")
        }
        return code
    }
}

struct ZstdError: Error { let message: String }

final class ZstdCompressor {
    private let context: OpaquePointer

    init() {
        guard let context = ZSTD_createCCtx() else { fatalError("zstd: out of memory") }
        self.context = context
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `source` into one complete frame with a content size and a checksum. Single
    /// threaded on purpose: parallelism comes from compressing several frames at once, which
    /// keeps the output independent of the machine's core count.
    func compressFrame(
        _ source: UnsafeRawBufferPointer, level: Int32, into destination: UnsafeMutableRawBufferPointer
    ) throws(ZstdError) -> Int {
        _ = try Zstd.check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level), "zstd level")
        _ = try Zstd.check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1), "zstd checksum")
        _ = try Zstd.check(ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, 0), "zstd workers")
        return try Zstd.check(
            ZSTD_compress2(context, destination.baseAddress, destination.count, source.baseAddress, source.count),
            "zstd compress")
    }
}

final class ZstdDecompressor {
    private let context: OpaquePointer

    /// `windowLogMax` bounds the memory a hostile frame can make us allocate.
    init(windowLogMax: Int32) {
        guard let context = ZSTD_createDCtx() else { fatalError("zstd: out of memory") }
        self.context = context
        ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, windowLogMax)
    }

    deinit { ZSTD_freeDCtx(context) }

    func reset() { ZSTD_DCtx_reset(context, ZSTD_reset_session_only) }

    struct Step {
        var consumed: Int
        var produced: Int
        /// True when the current frame is complete and fully flushed.
        var frameEnded: Bool
    }

    func decompress(
        _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws(ZstdError) -> Step {
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        let hint = try Zstd.check(ZSTD_decompressStream(context, &outBuffer, &inBuffer), "zstd")
        return Step(consumed: inBuffer.pos, produced: outBuffer.pos, frameEnded: hint == 0)
    }
}
