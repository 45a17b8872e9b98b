/// A zstd frame of raw blocks (RFC 8878 §3.1.1.2, Block_Type 0), built without libzstd: the
/// bytes go to the file as they are, between 3-byte block headers, so storing incompressible
/// weights costs a checksum instead of a compression attempt, and reading them back costs a
/// copy. The frame carries its content size and checksum like every other frame (§2.1).
enum StoredFrame {
    /// Raw blocks may not exceed min(window, 128 KiB); the window is the content size.
    static let blockSize = 128 << 10

    /// Writes the frame's own bytes for `content` into `framing`: the frame header (9 bytes),
    /// one 3-byte header per block, the 4-byte checksum. Returns how many bytes that is.
    static func writeFraming(of content: UnsafeRawBufferPointer, into framing: UnsafeMutableRawBufferPointer) -> Int {
        precondition(content.count <= Int(UInt32.max))  // a 4-byte content size; frames are 4 MiB
        var at = 0
        func put(_ value: UInt64, bytes: Int) {
            for i in 0..<bytes { framing[at + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
            at += bytes
        }
        put(UInt64(Zstd.frameMagic), bytes: 4)
        put(0b1010_0100, bytes: 1)  // Frame_Header_Descriptor: 4-byte content size, single segment, checksum
        put(UInt64(content.count), bytes: 4)
        let count = blockCount(content.count)
        for index in 0..<count {
            let size = min(blockSize, content.count - index * blockSize)
            put(UInt64(size) << 3 | (index == count - 1 ? 1 : 0), bytes: 3)  // Block_Type 0 (raw) in bits 1–2
        }
        put(XXH64.hash(content), bytes: 4)  // the checksum is the low 32 bits
        return at
    }

    /// The most framing bytes a frame of `contentSize` bytes needs.
    static func framingSize(_ contentSize: Int) -> Int { 9 + 3 * blockCount(contentSize) + 4 }

    /// The frame as the pieces to write in order, pointing into `framing` and `content` (no copy).
    static func pieces(framing: UnsafeRawBufferPointer, content: UnsafeRawBufferPointer) -> [UnsafeRawBufferPointer] {
        var pieces = [UnsafeRawBufferPointer(rebasing: framing[0..<9])]
        for index in 0..<blockCount(content.count) {
            let start = index * blockSize
            pieces.append(UnsafeRawBufferPointer(rebasing: framing[9 + 3 * index..<12 + 3 * index]))
            pieces.append(UnsafeRawBufferPointer(rebasing: content[start..<min(start + blockSize, content.count)]))
        }
        pieces.append(UnsafeRawBufferPointer(rebasing: framing[(framing.count - 4)...]))
        return pieces
    }

    /// An empty frame still has one (empty, last) block.
    private static func blockCount(_ contentSize: Int) -> Int { max(1, (contentSize + blockSize - 1) / blockSize) }
}

/// XXH64 with seed 0 (the xxHash specification), whose low 32 bits end every zstd frame.
enum XXH64 {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    static func hash(_ data: UnsafeRawBufferPointer) -> UInt64 {
        let count = data.count
        var offset = 0
        var h: UInt64
        func load64(_ at: Int) -> UInt64 {
            UInt64(littleEndian: data.loadUnaligned(fromByteOffset: at, as: UInt64.self))
        }
        if count >= 32 {
            var v1 = prime1 &+ prime2, v2 = prime2, v3: UInt64 = 0, v4 = 0 &- prime1
            while offset <= count - 32 {
                v1 = round(v1, load64(offset))
                v2 = round(v2, load64(offset + 8))
                v3 = round(v3, load64(offset + 16))
                v4 = round(v4, load64(offset + 24))
                offset += 32
            }
            h = v1.rotated(1) &+ v2.rotated(7) &+ v3.rotated(12) &+ v4.rotated(18)
            for v in [v1, v2, v3, v4] { h = (h ^ round(0, v)) &* prime1 &+ prime4 }
        } else {
            h = prime5
        }
        h &+= UInt64(count)
        while offset + 8 <= count {
            h = (h ^ round(0, load64(offset))).rotated(27) &* prime1 &+ prime4
            offset += 8
        }
        if offset + 4 <= count {
            let word = UInt64(UInt32(littleEndian: data.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            h = (h ^ (word &* prime1)).rotated(23) &* prime2 &+ prime3
            offset += 4
        }
        while offset < count {
            h = (h ^ (UInt64(data[offset]) &* prime5)).rotated(11) &* prime1
            offset += 1
        }
        h ^= h >> 33
        h &*= prime2
        h ^= h >> 29
        h &*= prime3
        return h ^ (h >> 32)
    }

    @inline(__always)
    private static func round(_ accumulator: UInt64, _ input: UInt64) -> UInt64 {
        (accumulator &+ input &* prime2).rotated(31) &* prime1
    }
}

extension UInt64 {
    @inline(__always)
    fileprivate func rotated(_ bits: UInt64) -> UInt64 { self << bits | self >> (64 - bits) }
}
