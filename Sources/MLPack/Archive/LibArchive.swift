internal import CArchive
#if canImport(Glibc)
    import Glibc
#endif

/// The one place that touches libarchive: a tar writer that hands every byte to a sink (we
/// compress it ourselves) and a tar reader that pulls bytes from a source (we decompress).
enum LibArchive {
    /// libarchive 3.6 crashes in `archive_write_header` on non-ASCII UTF-8 paths under the "C"
    /// locale (upstream #2233), and converts names through the locale when reading: each call
    /// that handles names runs in a C.UTF-8 locale for the calling thread only (`uselocale`),
    /// never changing the process's.
    static func inUTF8Locale<T>(_ body: () throws -> T) rethrows -> T {
        guard let utf8Locale else { return try body() }
        let previous = uselocale(utf8Locale)
        defer { uselocale(previous) }
        return try body()
    }

    // Made once, never freed or changed: safe to share between threads.
    nonisolated(unsafe) private static let utf8Locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", nil)

    fileprivate static func message(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0).lowercased() } ?? "unknown libarchive error"
    }
}

struct TarError: Error { let message: String }

/// libarchive's AE_IFREG; the C macro is a cast, which Swift does not import.
private enum FileType {
    static let regular: UInt32 = 0o100000
}

final class TarWriter {
    typealias Sink = (UnsafeRawBufferPointer) throws -> Void

    private let archive: OpaquePointer
    private let entry: OpaquePointer
    private let sink: Sink
    private var sinkError: (any Error)?
    private var closed = false

    init(sink: @escaping Sink) throws {
        guard let archive = archive_write_new(), let entry = archive_entry_new() else {
            throw TarError(message: "libarchive: out of memory")
        }
        self.archive = archive
        self.entry = entry
        self.sink = sink
        try check(archive_write_set_format_pax_restricted(archive))
        // No blocking: every byte reaches the sink as soon as it is written, so the pack
        // writer knows exactly where each entry's data starts.
        try check(archive_write_set_bytes_per_block(archive, 0))
        try check(archive_write_set_bytes_in_last_block(archive, 1))
        let context = Unmanaged.passUnretained(self).toOpaque()
        try check(
            archive_write_open(
                archive, context, nil,
                { _, context, buffer, length in
                    let writer = Unmanaged<TarWriter>.fromOpaque(context!).takeUnretainedValue()
                    do {
                        try writer.sink(UnsafeRawBufferPointer(start: buffer, count: length))
                        return length
                    } catch {
                        writer.sinkError = error
                        return -1
                    }
                }, nil))
    }

    deinit {
        archive_entry_free(entry)
        archive_write_free(archive)
    }

    /// Writes a regular file's header (or a hard link's, with size 0). Owner, group and times
    /// are fixed so the output depends only on the content.
    func writeHeader(path: String, size: UInt64, mode: UInt32, mtime: Int64, hardlinkTarget: String? = nil) throws {
        try LibArchive.inUTF8Locale {
            try writeHeaderInLocale(path: path, size: size, mode: mode, mtime: mtime, hardlinkTarget: hardlinkTarget)
        }
    }

    private func writeHeaderInLocale(
        path: String, size: UInt64, mode: UInt32, mtime: Int64, hardlinkTarget: String?
    ) throws {
        archive_entry_clear(entry)
        archive_entry_set_pathname_utf8(entry, path)
        archive_entry_set_filetype(entry, FileType.regular)
        archive_entry_set_perm(entry, mode_t(mode))
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        archive_entry_set_uname(entry, "")
        archive_entry_set_gname(entry, "")
        archive_entry_set_mtime(entry, time_t(mtime), 0)
        if let hardlinkTarget {
            archive_entry_set_hardlink_utf8(entry, hardlinkTarget)
            archive_entry_set_size(entry, 0)
        } else {
            archive_entry_set_size(entry, la_int64_t(size))
        }
        try check(archive_write_header(archive, entry))
    }

    func writeData(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        let written = archive_write_data(archive, bytes.baseAddress, bytes.count)
        if let sinkError { throw sinkError }
        // libarchive silently truncates past the declared size: every count is checked.
        guard written == bytes.count else {
            throw TarError(
                message: "libarchive wrote \(written) of \(bytes.count) bytes: \(LibArchive.message(archive))")
        }
    }

    func finishEntry() throws { try check(archive_write_finish_entry(archive)) }

    /// Writes the end-of-archive blocks.
    func close() throws {
        guard !closed else { return }
        closed = true
        try check(archive_write_close(archive))
    }

    private func check(_ code: Int32) throws {
        if let sinkError { throw sinkError }
        guard code == ARCHIVE_OK else { throw TarError(message: "libarchive: \(LibArchive.message(archive))") }
    }
}

/// One tar header as read, before any rule has been applied to it. Which entry types are
/// allowed is the dialect reader's rule (TarDialect); libarchive's view must only agree.
struct TarHeader {
    enum Kind: Equatable {
        case regular
        case hardlink(target: [UInt8])
        case other
    }

    var rawPath: [UInt8]
    var kind: Kind
    var size: Int64
    var permissions: UInt32
    var isSparse: Bool
    /// Offset of the entry's first header block in the uncompressed stream.
    var headerOffset: UInt64
    /// Offset of the entry's data in the uncompressed stream.
    var dataOffset: UInt64
}

final class TarReader {
    typealias Source = (UnsafeMutableRawBufferPointer) throws -> Int

    private let archive: OpaquePointer
    private let source: Source
    private var sourceError: (any Error)?
    private let buffer: UnsafeMutableRawBufferPointer

    init(source: @escaping Source) throws {
        guard let archive = archive_read_new() else { throw TarError(message: "libarchive: out of memory") }
        self.archive = archive
        self.source = source
        self.buffer = .allocate(byteCount: 256 * 1024, alignment: 16)
        // Tar only, no filters: decompression is ours, so limits apply to every byte.
        try check(archive_read_support_format_tar(archive))
        let context = Unmanaged.passUnretained(self).toOpaque()
        try check(
            archive_read_open(
                archive, context, nil,
                { _, context, pointer in
                    let reader = Unmanaged<TarReader>.fromOpaque(context!).takeUnretainedValue()
                    do {
                        let n = try reader.source(reader.buffer)
                        pointer?.pointee = UnsafeRawPointer(reader.buffer.baseAddress)
                        return n
                    } catch {
                        reader.sourceError = error
                        return -1
                    }
                }, nil))
    }

    deinit {
        archive_read_free(archive)
        buffer.deallocate()
    }

    /// The next header, or nil at the end of the archive.
    func next() throws -> TarHeader? { try LibArchive.inUTF8Locale { try nextInLocale() } }

    private func nextInLocale() throws -> TarHeader? {
        var entryPointer: OpaquePointer?
        let code = archive_read_next_header(archive, &entryPointer)
        if code == ARCHIVE_EOF { return nil }
        try check(code, allowWarnings: true)
        guard let entry = entryPointer else { throw TarError(message: "libarchive returned no entry") }
        let rawPath =
            archive_entry_pathname(entry).map {
                Array(UnsafeBufferPointer(start: $0, count: strlen($0))).map(UInt8.init(bitPattern:))
            } ?? []
        let kind: TarHeader.Kind
        if let target = archive_entry_hardlink(entry) {
            kind = .hardlink(
                target: Array(UnsafeBufferPointer(start: target, count: strlen(target))).map(UInt8.init(bitPattern:)))
        } else {
            kind = UInt32(archive_entry_filetype(entry)) == FileType.regular ? .regular : .other
        }
        return TarHeader(
            rawPath: rawPath, kind: kind,
            size: archive_entry_size_is_set(entry) != 0 ? archive_entry_size(entry) : -1,
            permissions: UInt32(archive_entry_perm(entry)),
            isSparse: archive_entry_sparse_count(entry) > 0,
            headerOffset: UInt64(archive_read_header_position(archive)),
            dataOffset: UInt64(archive_filter_bytes(archive, 0)))
    }

    /// Reads the current entry's data; returns 0 at its end.
    func readData(into output: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = archive_read_data(archive, output.baseAddress, output.count)
        if n < 0 {
            if let sourceError { throw sourceError }
            throw TarError(message: LibArchive.message(archive))
        }
        return n
    }

    private func check(_ code: Int32, allowWarnings: Bool = false) throws {
        if code == ARCHIVE_OK || (allowWarnings && code == ARCHIVE_WARN) { return }
        if let sourceError { throw sourceError }
        throw TarError(message: LibArchive.message(archive))
    }
}

/// One member of a zip archive, as its headers state it.
struct ZipEntry {
    var name: String
    var isRegular: Bool
    var isEncrypted: Bool
    /// The uncompressed size when the headers give it (a streamed entry may not).
    var size: Int64?
}

/// Reads a zip archive on disk (an `.npz`) entry by entry. Zip is read only here, for
/// comparing outputs: every entry's bytes are counted against its stated size, so a member
/// that is longer or shorter than its headers say is an error, not a silent truncation.
final class ZipReader {
    let path: String
    private let archive: OpaquePointer
    private var current: ZipEntry?
    private var consumed: Int64 = 0

    init(path: String) throws {
        self.path = path
        guard let archive = archive_read_new() else {
            throw MLPackError.io(path: path, reason: "libarchive: out of memory")
        }
        self.archive = archive
        // Zip only (stored or deflated members); libarchive picks its seekable reader, which
        // trusts the central directory, for a file on disk.
        try check(archive_read_support_format_zip(archive))
        try check(archive_read_open_filename(archive, path, 64 * 1024))
    }

    deinit { archive_read_free(archive) }

    /// The next member, or nil at the end of the archive.
    func next() throws -> ZipEntry? { try LibArchive.inUTF8Locale { try nextInLocale() } }

    private func nextInLocale() throws -> ZipEntry? {
        var entryPointer: OpaquePointer?
        let code = archive_read_next_header(archive, &entryPointer)
        if code == ARCHIVE_EOF {
            current = nil
            return nil
        }
        try check(code, allowWarnings: true)
        guard let entry = entryPointer else {
            throw MLPackError.io(path: path, reason: "libarchive returned no zip entry")
        }
        let raw =
            archive_entry_pathname(entry).map {
                Array(UnsafeBufferPointer(start: $0, count: strlen($0))).map(UInt8.init(bitPattern:))
            } ?? []
        let size = archive_entry_size_is_set(entry) != 0 ? archive_entry_size(entry) : nil
        if let size, size < 0 {
            throw MLPackError.io(path: path, reason: "zip member \(PackPath.display(raw)) has a negative size")
        }
        let zipEntry = ZipEntry(
            name: String(decoding: raw, as: UTF8.self),
            isRegular: UInt32(archive_entry_filetype(entry)) == FileType.regular,
            isEncrypted: archive_entry_is_encrypted(entry) != 0,
            size: size)
        current = zipEntry
        consumed = 0
        return zipEntry
    }

    /// Reads the current member's bytes; returns 0 at its end, which must be where its
    /// headers said it ends.
    func read(into output: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let entry = current else { return 0 }
        guard output.count > 0 else { return 0 }
        let n = archive_read_data(archive, output.baseAddress, output.count)
        if n < 0 {
            throw MLPackError.io(path: path, reason: "zip member \(entry.name): \(LibArchive.message(archive))")
        }
        consumed += Int64(n)
        if let size = entry.size {
            if consumed > size {
                throw MLPackError.io(
                    path: path, reason: "zip member \(entry.name) holds more than its stated \(size) bytes")
            }
            if n == 0 && consumed != size {
                throw MLPackError.io(
                    path: path, reason: "zip member \(entry.name) ends after \(consumed) of its stated \(size) bytes")
            }
        }
        return n
    }

    /// Fills `output` unless the member ends first; returns the bytes read.
    func readFully(into output: UnsafeMutableRawBufferPointer) throws -> Int {
        var total = 0
        while total < output.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: output[total...]))
            if n == 0 { break }
            total += n
        }
        return total
    }

    /// Skips the rest of the current member.
    func skip() throws {
        guard current != nil else { return }
        try check(archive_read_data_skip(archive))
    }

    private func check(_ code: Int32, allowWarnings: Bool = false) throws {
        if code == ARCHIVE_OK || (allowWarnings && code == ARCHIVE_WARN) { return }
        throw MLPackError.io(path: path, reason: "not a readable zip archive (\(LibArchive.message(archive)))")
    }
}
