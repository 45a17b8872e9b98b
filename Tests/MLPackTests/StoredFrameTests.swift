import Foundation
import TestSupport
import Testing

@testable import MLPack

@Suite("Stored frames (raw zstd blocks written without libzstd)")
struct StoredFrameTests {
    /// The frame exactly as the pack writer puts it in the file.
    static func storedFrame(_ content: [UInt8]) -> [UInt8] {
        content.withUnsafeBytes { content in
            let framing = UnsafeMutableRawBufferPointer.allocate(
                byteCount: StoredFrame.framingSize(content.count), alignment: 1)
            defer { framing.deallocate() }
            let size = StoredFrame.writeFraming(of: content, into: framing)
            #expect(size == StoredFrame.framingSize(content.count))
            return StoredFrame.pieces(framing: UnsafeRawBufferPointer(rebasing: framing[..<size]), content: content)
                .flatMap { Array($0) }
        }
    }

    /// Decodes one frame with libzstd; the checksum is checked on the way.
    static func decode(_ frame: [UInt8], capacity: Int) throws -> [UInt8] {
        let decompressor = ZstdDecompressor(windowLogMax: 24)
        var out = [UInt8](repeating: 0, count: capacity + 1)
        var consumed = 0, produced = 0
        while true {
            let step = try frame.withUnsafeBytes { input in
                try out.withUnsafeMutableBytes { output in
                    try decompressor.decompress(
                        UnsafeRawBufferPointer(rebasing: input[consumed...]),
                        into: UnsafeMutableRawBufferPointer(rebasing: output[produced...]))
                }
            }
            consumed += step.consumed
            produced += step.produced
            if step.frameEnded { break }
            if step.consumed == 0 && step.produced == 0 { throw TestError("the frame stalls at \(consumed)") }
        }
        #expect(consumed == frame.count, "the frame ends where its bytes end")
        return Array(out.prefix(produced))
    }

    static let xxh64Vectors: [(input: [UInt8], hash: UInt64)] = [
        ([], 0xEF46_DB37_51D8_E999),
        (Array("a".utf8), 0xD24E_C4F1_A98C_6E5B),
        (Array("abc".utf8), 0x44BC_2CF5_AD77_0999),
        ((0..<768).map { UInt8($0 % 256) }, 0x8E03_C838_C596_036F),
    ]

    @Test("XXH64 matches the reference implementation (python-xxhash)", arguments: 0..<4)
    func xxh64(vector: Int) {
        let (input, expected) = Self.xxh64Vectors[vector]
        #expect(input.withUnsafeBytes { XXH64.hash($0) } == expected)
    }

    @Test(
        "libzstd decodes stored frames of every block layout",
        arguments: [0, 1, 31, 32, 131_071, 131_072, 131_073, 4 << 20])
    func decodes(size: Int) throws {
        let content = randomBytes(size)
        let frame = Self.storedFrame(content)
        #expect(frame.count == content.count + StoredFrame.framingSize(size))
        #expect(try Self.decode(frame, capacity: size) == content)
    }

    @Test("a damaged byte in a stored frame fails its checksum")
    func checksum() {
        var frame = Self.storedFrame(randomBytes(300_000))
        frame[200_000] ^= 1
        #expect(throws: ZstdError.self) { try Self.decode(frame, capacity: 300_000) }
    }

    @Test("random weights are stored: the pack is barely larger than its payload")
    func randomWeightsAreStored() throws {
        try withTemporaryDirectory { dir in
            let weights = randomBytes(9 << 20)
            try dir.write("w.bin", weights)
            let created = try PackCreator.create(createOptions(dir, code: nil, weights: ["w.bin"]))
            #expect(created.packBytes > UInt64(weights.count))
            #expect(
                created.packBytes < UInt64(weights.count) + 200_000,
                "9 MiB of raw blocks plus metadata, got \(created.packBytes)")
            #expect(try PackVerifier.verify(dir.path("demo.mlpack"), options: allowUnsigned()).verdict == .verified)
        }
    }
}
