import Foundation
import Testing

@testable import MLPack

@Suite("SeekIndex")
struct SeekIndexTests {
    /// A plausible index for a file whose data frames take the first `dataBytes` bytes.
    static func sample() -> SeekIndex {
        SeekIndex(
            tarSize: 12_800,
            frames: [
                .init(compressedOffset: 0, uncompressedOffset: 0),
                .init(compressedOffset: 300, uncompressedOffset: 1536),
                .init(compressedOffset: 700, uncompressedOffset: 9216),
            ],
            entries: [
                .init(path: "demo/data/a.bin", headerOffset: 0, dataOffset: 1536, size: 7000),
                .init(path: "demo/data/b.bin", headerOffset: 8704, dataOffset: 9216, size: 100),
                .init(
                    path: "demo/data/c.bin", headerOffset: 9728, dataOffset: 9216, size: 100,
                    hardlinkTarget: "demo/data/b.bin"),
                .init(path: "demo/data/é 日本.txt", headerOffset: 10240, dataOffset: 11264, size: 0),
            ])
    }

    static let dataBytes = 1000

    /// Writes `prefix` bytes of data frames (any bytes: load does not decompress) and then `tail`.
    static func writeFile(in dir: TempDir, prefix: Int = dataBytes, tail: [UInt8]) throws -> String {
        try dir.write("pack.bin", [UInt8](repeating: 0xAB, count: prefix) + tail)
    }

    static func load(
        _ path: String, limits: ReaderLimits = .init()
    ) throws -> Result<(index: SeekIndex, offset: UInt64), SeekIndex.LoadProblem> {
        let file = try PosixFile(path: path, mode: .read)
        let size = try #require(file.seekableSize)
        return Result { () throws(SeekIndex.LoadProblem) in
            try SeekIndex.load(from: file, fileSize: size, limits: limits)
        }
    }

    /// A trailer built by hand, so each field can be wrong on its own.
    static func trailer(
        json: [UInt8], magic: UInt32 = 0x184D_2A5E, frameSize: UInt32? = nil, footerLength: UInt32? = nil,
        version: UInt32 = 1, footerMagic: String = "MLPKINDX"
    ) -> [UInt8] {
        var out = [UInt8]()
        out.appendLittleEndian(magic)
        out.appendLittleEndian(frameSize ?? UInt32(json.count + 16))
        out += json
        out.appendLittleEndian(footerLength ?? UInt32(json.count))
        out.appendLittleEndian(version)
        out += Array(footerMagic.utf8)
        return out
    }

    static func json(_ index: SeekIndex) throws -> [UInt8] { Array(try JSONEncoder().encode(index)) }

    static func damagedReason(_ result: Result<(index: SeekIndex, offset: UInt64), SeekIndex.LoadProblem>) -> String? {
        switch result {
        case .failure(.damaged(let reason)): return reason
        case .failure(.absent): return "absent"
        case .success: return nil
        }
    }

    @Test("encodedTrailer has the documented layout")
    func trailerLayout() throws {
        let trailer = try Self.sample().encodedTrailer()
        #expect(Array(trailer.prefix(4)) == [0x5E, 0x2A, 0x4D, 0x18])
        let json = Array(trailer[8..<(trailer.count - 16)])
        #expect(trailer.littleEndianUInt32(at: 4) == UInt32(json.count + 16))
        #expect(trailer.littleEndianUInt32(at: trailer.count - 16) == UInt32(json.count))
        #expect(trailer.littleEndianUInt32(at: trailer.count - 12) == 1)
        #expect(Array(trailer.suffix(8)) == Array("MLPKINDX".utf8))
        #expect(try JSONDecoder().decode(SeekIndex.self, from: Data(json)) == Self.sample())
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.hasPrefix("{\"entries\":["), "keys are sorted")
        #expect(text.contains("\"demo/data/a.bin\""), "slashes are not escaped")
        #expect(try Self.sample().encodedTrailer() == trailer, "deterministic")
    }

    @Test("load returns the same index and the trailer's offset", arguments: [701, 1000, 70_000])
    func roundTrip(prefix: Int) throws {
        try withTemporaryDirectory { dir in
            let path = try Self.writeFile(in: dir, prefix: prefix, tail: try Self.sample().encodedTrailer())
            let (index, offset) = try Self.load(path).get()
            #expect(index == Self.sample())
            #expect(offset == UInt64(prefix))
        }
    }

    @Test(
        "a file without the footer has no index",
        arguments: [
            [UInt8](),
            [UInt8](repeating: 0, count: 10),
            [UInt8](repeating: 0, count: 4096),
            Array("MLPKINDX".utf8),
            [UInt8](repeating: 0, count: 8) + Array("MLPKINDX".utf8),  // 16 bytes: too short for a frame header
            [UInt8](repeating: 0, count: 100) + Array("MLPKINDY".utf8),
        ])
    func absent(tail: [UInt8]) throws {
        try withTemporaryDirectory { dir in
            let path = try Self.writeFile(in: dir, prefix: 0, tail: tail)
            #expect(Self.damagedReason(try Self.load(path)) == "absent")
        }
    }

    @Test("a pack whose trailer was cut off has no index")
    func truncatedTrailer() throws {
        try withTemporaryDirectory { dir in
            let path = try Self.writeFile(in: dir, tail: Array(try Self.sample().encodedTrailer().dropLast(1)))
            #expect(Self.damagedReason(try Self.load(path)) == "absent")
        }
    }

    @Test("damaged trailers")
    func damagedTrailers() throws {
        let json = try Self.json(Self.sample())
        let cases: [(String, [UInt8], String)] = [
            ("wrong trailer version", Self.trailer(json: json, version: 2), "unknown trailer version"),
            (
                "length pointing before the file", Self.trailer(json: json, footerLength: 1_000_000),
                "index length points before the file"
            ),
            (
                "length past the metadata limit", Self.trailer(json: json, footerLength: UInt32.max),
                "index larger than the metadata limit"
            ),
            (
                "frame header with another magic", Self.trailer(json: json, magic: 0xFD2F_B528),
                "skippable frame header does not match the footer"
            ),
            (
                "frame header with another size", Self.trailer(json: json, frameSize: UInt32(json.count + 15)),
                "skippable frame header does not match the footer"
            ),
            (
                "footer length disagreeing with the frame",
                Self.trailer(json: json, footerLength: UInt32(json.count - 1)),
                "skippable frame header does not match the footer"
            ),
            ("invalid JSON", Self.trailer(json: Array("{\"version\":1,".utf8)), "index is not valid JSON"),
            ("JSON of another shape", Self.trailer(json: Array("[1,2,3]".utf8)), "index is not valid JSON"),
        ]
        try withTemporaryDirectory { dir in
            for (label, tail, reason) in cases {
                let path = dir.path(label)
                try dir.write(label, [UInt8](repeating: 0xAB, count: Self.dataBytes) + tail)
                #expect(Self.damagedReason(try Self.load(path)) == reason, "\(label)")
            }
        }
    }

    static func withFrames(_ frames: [SeekIndex.Frame]) -> SeekIndex {
        var index = sample()
        index.frames = frames
        return index
    }

    static func withEntries(_ entries: [SeekIndex.Entry]) -> SeekIndex {
        var index = sample()
        index.entries = entries
        return index
    }

    static let structuralCases: [(String, SeekIndex, String)] = [
        (
            "index version 2",
            {
                var i = sample(); i.version = 2; return i
            }(), "unknown index version 2"
        ),
        ("no frames", withFrames([]), "frames must start at offset 0"),
        (
            "first frame not at 0", withFrames([.init(compressedOffset: 4, uncompressedOffset: 0)]),
            "frames must start at offset 0"
        ),
        (
            "first frame not at 0 in the tar", withFrames([.init(compressedOffset: 0, uncompressedOffset: 512)]),
            "frames must start at offset 0"
        ),
        (
            "repeated compressed offset",
            withFrames([
                .init(compressedOffset: 0, uncompressedOffset: 0), .init(compressedOffset: 0, uncompressedOffset: 512),
            ]), "frame offsets are not increasing"
        ),
        (
            "repeated uncompressed offset",
            withFrames([
                .init(compressedOffset: 0, uncompressedOffset: 0), .init(compressedOffset: 10, uncompressedOffset: 0),
            ]), "frame offsets are not increasing"
        ),
        (
            "decreasing frames",
            withFrames([
                .init(compressedOffset: 0, uncompressedOffset: 0),
                .init(compressedOffset: 500, uncompressedOffset: 4096),
                .init(compressedOffset: 400, uncompressedOffset: 8192),
            ]), "frame offsets are not increasing"
        ),
        (
            "frame inside the index",
            withFrames([
                .init(compressedOffset: 0, uncompressedOffset: 0),
                .init(compressedOffset: UInt64(dataBytes), uncompressedOffset: 4096),
            ]), "frame offsets lie past the data"
        ),
        (
            "frame past the tar stream",
            withFrames([
                .init(compressedOffset: 0, uncompressedOffset: 0),
                .init(compressedOffset: 10, uncompressedOffset: 12_800),
            ]), "frame offsets lie past the data"
        ),
        (
            "entry past the tar stream",
            withEntries([.init(path: "demo/data/a.bin", headerOffset: 0, dataOffset: 512, size: 12_289)]),
            "entry demo/data/a.bin lies outside the tar stream"
        ),
        (
            "entry starting past the tar stream",
            withEntries([.init(path: "demo/data/a.bin", headerOffset: 0, dataOffset: 12_801, size: 0)]),
            "entry demo/data/a.bin lies outside the tar stream"
        ),
        (
            "data before its header",
            withEntries([.init(path: "demo/data/a.bin", headerOffset: 1024, dataOffset: 512, size: 1)]),
            "entry demo/data/a.bin lies outside the tar stream"
        ),
        (
            "size overflowing",
            withEntries([.init(path: "demo/data/a.bin", headerOffset: 0, dataOffset: 512, size: UInt64.max)]),
            "entry demo/data/a.bin lies outside the tar stream"
        ),
        (
            "hard link to a later entry",
            withEntries([
                .init(
                    path: "demo/data/c.bin", headerOffset: 0, dataOffset: 1024, size: 10,
                    hardlinkTarget: "demo/data/b.bin"),
                .init(path: "demo/data/b.bin", headerOffset: 512, dataOffset: 1024, size: 10),
            ]), "hard link demo/data/c.bin does not point to an earlier file"
        ),
        (
            "hard link to nothing",
            withEntries([
                .init(
                    path: "demo/data/c.bin", headerOffset: 0, dataOffset: 1024, size: 10,
                    hardlinkTarget: "demo/data/zz.bin")
            ]), "hard link demo/data/c.bin does not point to an earlier file"
        ),
        (
            "hard link to a hard link",
            withEntries([
                .init(path: "demo/data/a.bin", headerOffset: 0, dataOffset: 512, size: 10),
                .init(
                    path: "demo/data/b.bin", headerOffset: 1024, dataOffset: 512, size: 10,
                    hardlinkTarget: "demo/data/a.bin"),
                .init(
                    path: "demo/data/c.bin", headerOffset: 1536, dataOffset: 512, size: 10,
                    hardlinkTarget: "demo/data/b.bin"),
            ]), "hard link demo/data/c.bin does not point to an earlier file"
        ),
        (
            "hard link with another size",
            withEntries([
                .init(path: "demo/data/a.bin", headerOffset: 0, dataOffset: 512, size: 10),
                .init(
                    path: "demo/data/b.bin", headerOffset: 1024, dataOffset: 512, size: 11,
                    hardlinkTarget: "demo/data/a.bin"),
            ]), "hard link demo/data/b.bin does not point to an earlier file"
        ),
        (
            "hard link with another data offset",
            withEntries([
                .init(path: "demo/data/a.bin", headerOffset: 0, dataOffset: 512, size: 10),
                .init(
                    path: "demo/data/b.bin", headerOffset: 1024, dataOffset: 1536, size: 10,
                    hardlinkTarget: "demo/data/a.bin"),
            ]), "hard link demo/data/b.bin does not point to an earlier file"
        ),
    ]

    @Test("structurally damaged indexes", arguments: structuralCases)
    func structural(label: String, index: SeekIndex, reason: String) throws {
        try withTemporaryDirectory { dir in
            let path = try Self.writeFile(in: dir, tail: try index.encodedTrailer())
            #expect(Self.damagedReason(try Self.load(path)) == reason, "\(label)")
        }
    }

    @Test("the metadata limit bounds the index size")
    func metadataLimit() throws {
        try withTemporaryDirectory { dir in
            let path = try Self.writeFile(in: dir, tail: try Self.sample().encodedTrailer())
            var limits = ReaderLimits()
            limits.maxMetadataBytes = 64
            #expect(Self.damagedReason(try Self.load(path, limits: limits)) == "index larger than the metadata limit")
        }
    }

    @Test(
        "frame(containing:) picks the last frame at or before the offset",
        arguments: [
            (0, 0),
            (1, 0),
            (1535, 0),
            (1536, 1536),
            (1537, 1536),
            (9215, 1536),
            (9216, 9216),
            (12_799, 9216),
            (UInt64.max, 9216),
        ] as [(UInt64, UInt64)])
    func frameContaining(offset: UInt64, frameStart: UInt64) {
        let frame = Self.sample().frame(containing: offset)
        #expect(frame.uncompressedOffset == frameStart)
        let expectedCompressed: [UInt64: UInt64] = [0: 0, 1536: 300, 9216: 700]
        #expect(frame.compressedOffset == expectedCompressed[frameStart])
    }

    @Test("frame(containing:) with one frame and with many", arguments: [1, 2, 3, 7, 64])
    func frameContainingMany(count: Int) {
        let frames = (0..<count).map {
            SeekIndex.Frame(compressedOffset: UInt64($0 * 10), uncompressedOffset: UInt64($0 * 100))
        }
        let index = SeekIndex(tarSize: UInt64(count * 100), frames: frames, entries: [])
        for offset in stride(from: 0, to: count * 100, by: 25) {
            #expect(index.frame(containing: UInt64(offset)) == frames[offset / 100], "offset \(offset)")
        }
    }

    @Test("load-problem descriptions")
    func descriptions() {
        #expect(SeekIndex.LoadProblem.absent.description == "no seek index")
        #expect(SeekIndex.LoadProblem.damaged("x").description == "damaged seek index: x")
    }
}

@Suite("Reading entries in the tar's order")
struct EntriesInOrderTests {
    @Test("one stream through the index gives every entry's bytes, in order, out of order and across frames")
    func sameBytes() throws {
        try withTemporaryDirectory { dir in
            try makeProject(in: dir)
            // Larger than a frame: the entries after it lie in later frames.
            try dir.write("big.bin", randomBytes(9 << 20))
            _ = try PackCreator.create(createOptions(dir, weights: ["big.bin"]))
            let pack = try PackFile(path: dir.path("demo.mlpack"), limits: .init())
            let entries = try pack.index.get().index.entries.filter { $0.hardlinkTarget == nil }
            #expect(entries.count > 10)
            func collect(_ reader: EntryReader) throws -> [UInt8] {
                var bytes: [UInt8] = []
                try reader.stream { bytes += $0 }
                return bytes
            }
            let alone = try entries.map { try collect(EntryReader(pack: pack, entry: $0)) }
            let inOrder = EntriesInOrder(pack: pack)
            #expect(try entries.map { try collect(inOrder.open($0)) } == alone)
            // Going back, or skipping ahead, reopens or skips: the bytes stay the same.
            let shuffled = EntriesInOrder(pack: pack)
            let order = Array(entries.indices.reversed()) + Array(stride(from: 0, to: entries.count, by: 3))
            for position in order { #expect(try collect(shuffled.open(entries[position])) == alone[position]) }
        }
    }
}
