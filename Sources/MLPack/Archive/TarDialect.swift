/// The one tar dialect a pack may use (spec/FORMAT.md §2.3), checked on the raw stream as it
/// flows to libarchive. Tar readers disagree at the edges: libarchive ignores pax global
/// headers that GNU tar applies, GNU and old-style headers mean different things to
/// different tools, a lone zero block ends some archives early. A pack that any of them
/// could read differently from mlpack is rejected, so that what was verified is what GNU tar,
/// bsdtar and Python's tarfile extract. Every header is parsed here independently of
/// libarchive, and the scanner requires both readings of each entry to agree.
final class TarDialect {
    /// One file entry as the raw headers state it.
    struct Header {
        var path: [UInt8]
        /// The target of a hard link (type `1`).
        var linkTarget: [UInt8]?
        var size: UInt64
        var headerOffset: UInt64
        var dataOffset: UInt64
    }

    /// pax records only carry names and sizes ustar cannot hold; a name is at most 4096 bytes.
    static let maxPaxHeaderBytes = 16 * 1024
    private static let blockSize = 512

    private enum State {
        case header
        /// `remaining` counts the padding to the next block too.
        case paxData(size: Int, remaining: Int)
        case data(remaining: UInt64)
        case oneZeroBlock
        case end
    }

    private var state = State.header
    /// Stream offset of the next byte to be consumed.
    private var offset: UInt64 = 0
    private var block: [UInt8] = []
    private var paxBytes: [UInt8] = []
    private var pax: (records: [String: [UInt8]], headerOffset: UInt64)?
    private var parsed: [Header] = []
    private var nextParsed = 0

    init() { block.reserveCapacity(Self.blockSize) }

    /// Checks the next bytes of the uncompressed stream.
    func consume(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes[...]
        while !rest.isEmpty {
            switch state {
            case .data(let remaining):
                let n = Int(min(remaining, UInt64(rest.count)))
                rest = rest.dropFirst(n)
                offset += UInt64(n)
                state = remaining == UInt64(n) ? .header : .data(remaining: remaining - UInt64(n))
            case .paxData(let size, let remaining):
                let n = min(remaining, rest.count)
                paxBytes += rest.prefix(min(n, size - paxBytes.count))
                rest = rest.dropFirst(n)
                offset += UInt64(n)
                if n == remaining {
                    pax!.records = try Self.records(paxBytes, at: pax!.headerOffset)
                    paxBytes = []
                    state = .header
                } else {
                    state = .paxData(size: size, remaining: remaining - n)
                }
            case .end:
                guard rest.allSatisfy({ $0 == 0 }) else {
                    throw MLPackError.integrity(entry: "pack", problem: "data after the end of the tar archive")
                }
                offset += UInt64(rest.count)
                rest = rest.dropFirst(rest.count)
            case .header, .oneZeroBlock:
                let n = min(Self.blockSize - block.count, rest.count)
                block += rest.prefix(n)
                rest = rest.dropFirst(n)
                offset += UInt64(n)
                if block.count == Self.blockSize {
                    try readBlock()
                    block.removeAll(keepingCapacity: true)
                }
            }
        }
    }

    /// The next entry's header, in archive order; libarchive is always behind this reader.
    func next() -> Header? {
        guard nextParsed < parsed.count else { return nil }
        defer {
            nextParsed += 1
            if nextParsed == parsed.count {
                parsed.removeAll(keepingCapacity: true)
                nextParsed = 0
            }
        }
        return parsed[nextParsed]
    }

    /// At the end of the stream: the archive must have ended with its two zero blocks.
    var isComplete: Bool {
        if case .end = state { return true }
        return false
    }

    private func readBlock() throws {
        let start = offset - UInt64(Self.blockSize)
        if block.allSatisfy({ $0 == 0 }) {
            if pax != nil { throw reject(at: start, "pax header (x) not followed by a file header") }
            if case .oneZeroBlock = state { state = .end } else { state = .oneZeroBlock }
            return
        }
        if case .oneZeroBlock = state {
            throw reject(at: start, "a lone zero block inside the archive (tar readers stop there or not)")
        }
        let name = Self.field(block, 0, 100)
        let prefix = Self.field(block, 345, 155)
        let ownName = prefix.isEmpty ? name : prefix + [UInt8(ascii: "/")] + name
        let shown = pax?.records["path"] ?? ownName
        func fail(_ rule: String) -> MLPackError { .unsafeEntry(entry: PackPath.display(shown), rule: rule) }

        guard let checksum = Self.octal(block, 148, 8), Self.checksums(block).contains(checksum) else {
            throw fail("tar header checksum does not match")
        }
        guard block[257..<263].elementsEqual(Array("ustar\0".utf8)), block[263] == 0x30, block[264] == 0x30 else {
            throw fail("not a POSIX ustar header (GNU or pre-POSIX tar format)")
        }
        guard Self.octal(block, 108, 8) == 0, Self.octal(block, 116, 8) == 0,
            Self.field(block, 265, 32).isEmpty, Self.field(block, 297, 32).isEmpty
        else { throw fail("owner other than uid 0, gid 0 and empty names") }
        guard let fieldSize = Self.size(block) else { throw fail("unreadable size field") }

        let type = block[156]
        switch type {
        case UInt8(ascii: "x"):
            guard pax == nil else { throw fail("two pax headers (x) for one file") }
            guard fieldSize <= UInt64(Self.maxPaxHeaderBytes) else {
                throw fail("pax header (x) larger than \(Self.maxPaxHeaderBytes) bytes")
            }
            pax = ([:], start)
            let size = Int(fieldSize)
            let padded = (size + Self.blockSize - 1) / Self.blockSize * Self.blockSize
            state = padded == 0 ? .header : .paxData(size: size, remaining: padded)
        case UInt8(ascii: "0"), UInt8(ascii: "1"):
            let records = pax?.records ?? [:]
            var size = fieldSize
            if let text = records["size"] {
                guard let value = Self.decimal(text) else { throw fail("unreadable pax size") }
                size = value
            }
            var header = Header(
                path: records["path"] ?? ownName, linkTarget: nil, size: size,
                headerOffset: pax?.headerOffset ?? start, dataOffset: offset)
            if type == UInt8(ascii: "1") {
                guard size == 0 else { throw fail("hard link with data") }
                header.linkTarget = records["linkpath"] ?? Self.field(block, 157, 100)
            } else if records["linkpath"] != nil {
                throw fail("pax linkpath on a regular file")
            }
            parsed.append(header)
            pax = nil
            let padded = (size + UInt64(Self.blockSize) - 1) / UInt64(Self.blockSize) * UInt64(Self.blockSize)
            state = padded == 0 ? .header : .data(remaining: padded)
        default:
            throw fail(Self.describe(type))
        }
    }

    private func reject(at offset: UInt64, _ rule: String) -> MLPackError {
        .unsafeEntry(entry: "tar header at byte \(offset)", rule: rule)
    }

    /// Names the entry types a pack must not hold, as the reader rules (§7.2) word them.
    private static func describe(_ type: UInt8) -> String {
        switch type {
        case UInt8(ascii: "2"): "symbolic link"
        case UInt8(ascii: "3"): "character device"
        case UInt8(ascii: "4"): "block device"
        case UInt8(ascii: "5"): "directory entry (packs hold files only)"
        case UInt8(ascii: "6"): "fifo"
        case UInt8(ascii: "7"): "contiguous file (type 7)"
        case UInt8(ascii: "g"): "pax global header (g): tar readers apply it differently"
        case UInt8(ascii: "L"), UInt8(ascii: "K"): "GNU long-name header"
        case UInt8(ascii: "S"): "sparse file"
        case 0: "pre-POSIX regular file header (type NUL)"
        case 0x21...0x7e: "tar entry type '\(Character(Unicode.Scalar(type)))'"
        default: "tar entry type \(type)"
        }
    }

    /// The pax records of one `x` header: `LENGTH KEY=VALUE\n`, only `path`, `linkpath` and
    /// `size`, each at most once.
    private static func records(_ bytes: [UInt8], at offset: UInt64) throws -> [String: [UInt8]] {
        func fail(_ rule: String) -> MLPackError {
            .unsafeEntry(entry: "pax header at byte \(offset)", rule: rule)
        }
        var records: [String: [UInt8]] = [:]
        var index = 0
        while index < bytes.count {
            guard let space = bytes[index...].firstIndex(of: 0x20),
                let length = decimal(Array(bytes[index..<space])), length > 0,
                index + Int(clamping: length) <= bytes.count, bytes[index + Int(length) - 1] == 0x0a
            else { throw fail("malformed pax record") }
            let record = bytes[(space + 1)..<(index + Int(length) - 1)]
            guard let equals = record.firstIndex(of: UInt8(ascii: "=")) else { throw fail("malformed pax record") }
            let key = String(decoding: record[..<equals], as: UTF8.self)
            guard ["path", "linkpath", "size"].contains(key) else {
                throw fail("pax keyword '\(PackPath.display(Array(key.utf8)))' (only path, linkpath and size)")
            }
            guard records.updateValue(Array(record[(equals + 1)...]), forKey: key) == nil else {
                throw fail("pax keyword '\(key)' twice")
            }
            index += Int(length)
        }
        return records
    }

    /// A NUL-terminated header field.
    private static func field(_ block: [UInt8], _ start: Int, _ length: Int) -> [UInt8] {
        let bytes = block[start..<(start + length)]
        return Array(bytes.prefix { $0 != 0 })
    }

    /// An octal field: digits, optionally led by spaces and ended by NUL or space.
    private static func octal(_ block: [UInt8], _ start: Int, _ length: Int) -> UInt64? {
        var digits = block[start..<(start + length)].drop { $0 == 0x20 }
        digits = digits.prefix { $0 != 0 && $0 != 0x20 }
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x37 }) else { return nil }
        return digits.reduce(UInt64(0)) { $0.multipliedReportingOverflow(by: 8).partialValue + UInt64($1 - 0x30) }
    }

    /// The size field: octal, or base-256 (high bit set) for sizes of 8 GiB and more.
    private static func size(_ block: [UInt8]) -> UInt64? {
        guard block[124] & 0x80 != 0 else { return octal(block, 124, 12) }
        guard block[124] == 0x80, block[125..<128].allSatisfy({ $0 == 0 }) else { return nil }
        return block[128..<136].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    private static func decimal(_ bytes: [UInt8]) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 19, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return bytes.reduce(UInt64(0)) { $0 * 10 + UInt64($1 - 0x30) }
    }

    /// The header checksum as unsigned and as signed bytes (both are in use), with the
    /// checksum field counted as spaces.
    private static func checksums(_ block: [UInt8]) -> [UInt64] {
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for (index, byte) in block.enumerated() {
            let value = (148..<156).contains(index) ? 0x20 : byte
            unsigned += Int64(value)
            signed += Int64(Int8(bitPattern: value))
        }
        return [UInt64(unsigned), UInt64(bitPattern: signed)]
    }
}
