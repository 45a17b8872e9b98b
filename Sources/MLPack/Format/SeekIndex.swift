import Foundation

/// The seek index: where every frame and every entry of the tar stream lies, so a reader can
/// open a pack in O(1) and decompress only the frames it needs. It is a hint, never trusted:
/// everything read through it is checked against the disclosures (spec/FORMAT.md §3).
struct SeekIndex: Codable, Equatable {
    struct Frame: Codable, Equatable {
        /// Offset of the frame's first byte in the pack file.
        var compressedOffset: UInt64
        /// Offset of the frame's first decompressed byte in the tar stream.
        var uncompressedOffset: UInt64
    }

    struct Entry: Codable, Equatable {
        /// Archive path, including the top-level directory.
        var path: String
        var headerOffset: UInt64
        var dataOffset: UInt64
        var size: UInt64
        /// For a hard link: the archive path of the earlier entry holding the data.
        var hardlinkTarget: String?
    }

    var version: Int = 1
    /// Length of the whole tar stream, end-of-archive blocks included.
    var tarSize: UInt64
    var frames: [Frame]
    var entries: [Entry]

    /// The footer that ends every pack: JSON length (u32 LE), trailer version (u32 LE), magic.
    static let footerMagic = Array("MLPKINDX".utf8)
    static let footerSize = 16
    static let skippableMagic: UInt32 = 0x184D_2A5E
    static let trailerVersion: UInt32 = 1

    /// The skippable zstd frame that carries the index: frame header, JSON, footer.
    func encodedTrailer() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = Array(try encoder.encode(self))
        var out = [UInt8]()
        out.reserveCapacity(json.count + 8 + Self.footerSize)
        out.appendLittleEndian(Self.skippableMagic)
        out.appendLittleEndian(UInt32(json.count + Self.footerSize))
        out += json
        out.appendLittleEndian(UInt32(json.count))
        out.appendLittleEndian(Self.trailerVersion)
        out += Self.footerMagic
        return out
    }

    enum LoadProblem: Error, CustomStringConvertible {
        case absent
        case damaged(String)

        var description: String {
            switch self {
            case .absent: "no seek index"
            case .damaged(let reason): "damaged seek index: \(reason)"
            }
        }
    }

    /// Reads and sanity-checks the trailer at the end of a seekable pack.
    static func load(
        from file: any PackSource, fileSize: UInt64, limits: ReaderLimits
    ) throws(LoadProblem) -> (index: SeekIndex, offset: UInt64) {
        let footerLength = UInt64(footerSize)
        guard fileSize >= footerLength + 8,
            let footer = try? file.read(at: fileSize - footerLength, count: footerSize),
            footer.count == footerSize, Array(footer[8...]) == footerMagic
        else { throw .absent }
        guard footer.littleEndianUInt32(at: 4) == trailerVersion else { throw .damaged("unknown trailer version") }
        let jsonLength = UInt64(footer.littleEndianUInt32(at: 0))
        guard jsonLength <= UInt64(limits.maxMetadataBytes) else {
            throw .damaged("index larger than the metadata limit")
        }
        guard jsonLength + footerLength + 8 <= fileSize else { throw .damaged("index length points before the file") }
        let frameOffset = fileSize - footerLength - jsonLength - 8
        guard let header = try? file.read(at: frameOffset, count: 8), header.count == 8,
            header.littleEndianUInt32(at: 0) == skippableMagic,
            UInt64(header.littleEndianUInt32(at: 4)) == jsonLength + footerLength,
            let json = try? file.read(at: frameOffset + 8, count: Int(jsonLength)), json.count == Int(jsonLength)
        else { throw .damaged("skippable frame header does not match the footer") }
        let index: SeekIndex
        do { index = try SeekIndex(json: json) } catch {
            throw .damaged("index is not valid JSON")
        }
        try index.validate(indexFrameOffset: frameOffset)
        return (index, frameOffset)
    }

    /// Structural checks only; content is checked against the disclosures when read.
    private func validate(indexFrameOffset: UInt64) throws(LoadProblem) {
        guard version == 1 else { throw .damaged("unknown index version \(version)") }
        guard let first = frames.first, first.compressedOffset == 0, first.uncompressedOffset == 0 else {
            throw .damaged("frames must start at offset 0")
        }
        for (a, b) in zip(frames, frames.dropFirst()) {
            guard a.compressedOffset < b.compressedOffset, a.uncompressedOffset < b.uncompressedOffset else {
                throw .damaged("frame offsets are not increasing")
            }
        }
        guard frames.last!.compressedOffset < indexFrameOffset, frames.last!.uncompressedOffset < tarSize else {
            throw .damaged("frame offsets lie past the data")
        }
        var seen: [String: Entry] = [:]
        for entry in entries {
            if let target = entry.hardlinkTarget {
                guard let data = seen[target], data.hardlinkTarget == nil, data.dataOffset == entry.dataOffset,
                    data.size == entry.size
                else {
                    throw .damaged("hard link \(entry.path) does not point to an earlier file")
                }
            } else {
                guard entry.dataOffset >= entry.headerOffset, entry.dataOffset <= tarSize,
                    entry.size <= tarSize - entry.dataOffset
                else {
                    throw .damaged("entry \(entry.path) lies outside the tar stream")
                }
            }
            seen[entry.path] = entry
        }
    }

    /// The last frame starting at or before `uncompressedOffset`.
    /// The frame holding `uncompressedOffset` and where its tar bytes end.
    func frameBounds(containing uncompressedOffset: UInt64) -> (frame: Frame, end: UInt64) {
        let index = frameIndex(containing: uncompressedOffset)
        return (frames[index], index + 1 < frames.count ? frames[index + 1].uncompressedOffset : tarSize)
    }

    func frame(containing uncompressedOffset: UInt64) -> Frame { frames[frameIndex(containing: uncompressedOffset)] }

    private func frameIndex(containing uncompressedOffset: UInt64) -> Int {
        var low = 0
        var high = frames.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if frames[mid].uncompressedOffset <= uncompressedOffset { low = mid } else { high = mid - 1 }
        }
        return low
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { append(UInt8((value >> UInt32(shift)) & 0xff)) }
    }

    func littleEndianUInt32(at index: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(self[index + $1]) << (8 * UInt32($1)) }
    }
}

extension SeekIndex.Frame {
    fileprivate init(scanner: inout JSONScanner) throws(JSONScanner.Malformed) {
        var compressed: UInt64?, uncompressed: UInt64?
        try scanner.object { (scanner, key) throws(JSONScanner.Malformed) in
            switch key {
            case "compressedOffset": compressed = try scanner.unsigned()
            case "uncompressedOffset": uncompressed = try scanner.unsigned()
            default: try scanner.skipValue()
            }
        }
        guard let compressed, let uncompressed else { throw JSONScanner.Malformed(offset: 0) }
        self.init(compressedOffset: compressed, uncompressedOffset: uncompressed)
    }
}

extension SeekIndex.Entry {
    fileprivate init(scanner: inout JSONScanner) throws(JSONScanner.Malformed) {
        var path: String?, header: UInt64?, data: UInt64?, size: UInt64?, target: String?
        try scanner.object { (scanner, key) throws(JSONScanner.Malformed) in
            switch key {
            case "path": path = try scanner.string()
            case "headerOffset": header = try scanner.unsigned()
            case "dataOffset": data = try scanner.unsigned()
            case "size": size = try scanner.unsigned()
            case "hardlinkTarget": target = scanner.null() ? nil : try scanner.string()
            default: try scanner.skipValue()
            }
        }
        guard let path, let header, let data, let size else { throw JSONScanner.Malformed(offset: 0) }
        self.init(path: path, headerOffset: header, dataOffset: data, size: size, hardlinkTarget: target)
    }
}

extension SeekIndex {
    /// Reads the index's JSON: every field required except `hardlinkTarget`, unknown keys
    /// ignored (as Codable would, but without its cost per entry).
    init(json: [UInt8]) throws(JSONScanner.Malformed) {
        var scanner = JSONScanner(json)
        var version: UInt64?, tarSize: UInt64?, frames: [Frame]?, entries: [Entry]?
        try scanner.object { (scanner, key) throws(JSONScanner.Malformed) in
            switch key {
            case "version": version = try scanner.unsigned()
            case "tarSize": tarSize = try scanner.unsigned()
            case "frames":
                var list: [Frame] = []
                try scanner.array { (scanner) throws(JSONScanner.Malformed) in list.append(try Frame(scanner: &scanner))
                }
                frames = list
            case "entries":
                var list: [Entry] = []
                try scanner.array { (scanner) throws(JSONScanner.Malformed) in list.append(try Entry(scanner: &scanner))
                }
                entries = list
            default: try scanner.skipValue()
            }
        }
        try scanner.end()
        guard let version, version <= UInt64(Int.max), let tarSize, let frames, let entries else {
            throw JSONScanner.Malformed(offset: 0)
        }
        self.init(version: Int(version), tarSize: tarSize, frames: frames, entries: entries)
    }
}
