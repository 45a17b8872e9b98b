/// One entry as the sequential scan found it, after every reader rule passed.
struct ScannedEntry: Equatable {
    /// Path below the top-level directory, e.g. `data/pack.json`.
    var path: String
    var size: UInt64
    var sha256: String
    var mode: UInt32
    /// For a hard link: the path (below the top-level directory) of the file holding the data.
    var hardlinkTarget: String?
    var headerOffset: UInt64
    var dataOffset: UInt64
}

/// Everything a sequential scan learned about a pack.
struct ScannedPack {
    var topDirectory: String
    var entries: [ScannedEntry]
    /// Bytes of the tag files and the card, the files readers parse.
    var metadata: [String: [UInt8]]
    var frames: [SeekIndex.Frame]
    var skippableFrameOffsets: [UInt64]
    var tarSize: UInt64
    /// Where each path lies in `entries`.
    var positions: [String: Int]

    func entry(_ path: String) -> ScannedEntry? { positions[path].map { entries[$0] } }
}

/// Reads a whole pack front to back, the one path that works on pipes and on damaged or
/// missing indexes, applying every reader rule (spec/FORMAT.md §7) before a byte of an entry
/// is used. Data can be handed to a sink (extraction into a staging folder).
struct PackScanner {
    /// Receives an entry's data; returned by the caller's `sinkFor` for entries it wants.
    typealias DataSink = (UnsafeRawBufferPointer) throws -> Void

    let pack: PackFile
    /// Items known ahead (disclosures read through the index): entries are checked against
    /// them as soon as their header is read, before their data is decompressed.
    var expected: [String: Item]? = nil
    var progress: ProgressHandler? = nil
    var phase = "verifying"

    func scan(sinkFor: ((ScannedEntry) throws -> DataSink?)? = nil) throws -> ScannedPack {
        let frames = FrameReader(file: pack.file, limits: pack.limits, recordFrames: true)
        let ring = BufferRing(size: 1 << 20)

        var top: String?
        var entries: [ScannedEntry] = []
        var positions: [String: Int] = [:]
        let dialect = TarDialect()
        // Case-fold keys by their hash (the process's random seed, so a pack cannot aim
        // collisions): a key per entry would cost as much memory again as the names.
        var folded = Set<Int>()
        var nameBytes = 0
        var metadata: [String: [UInt8]] = [:]
        var current: String?
        let counter = ProgressCounter(progress, phase: phase, total: pack.size ?? 0)

        do {
            // Opening already reads: it belongs inside the error translation below.
            let tar = try TarReader { buffer in
                let n = try frames.read(into: buffer)
                try dialect.consume(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
                return n
            }
            while let header = try tar.next() {
                guard entries.count < pack.limits.maxEntries else {
                    throw MLPackError.limitExceeded(
                        limit: "entries",
                        detail: "the pack has more than \(pack.limits.maxEntries) entries"
                    )
                }
                // The dialect reader has seen every header libarchive returns: its reading of
                // the raw bytes is the one the rules are applied to.
                guard let raw = dialect.next() else {
                    throw MLPackError.integrity(entry: PackPath.display(header.rawPath), problem: Self.disagreement)
                }
                let (decoded, problem) = PackPath.decode(raw.path)
                let shown = decoded ?? PackPath.display(raw.path)
                if let problem { throw MLPackError.unsafeEntry(entry: shown, rule: problem) }
                let path = decoded!
                current = path
                try Self.check(header, against: raw, path: path)

                let (entryTop, relative) = try Self.split(path, top: top)
                top = entryTop
                // Names are held for the whole scan: together they are metadata read into memory.
                nameBytes += relative.utf8.count
                guard nameBytes <= pack.limits.maxMetadataBytes else {
                    throw MLPackError.limitExceeded(
                        limit: "metadata-size",
                        detail: "the entries' names total more than \(pack.limits.maxMetadataBytes) bytes")
                }
                let key = PackPath.caseFoldKey(relative)
                if !folded.insert(key.hashValue).inserted,
                    let other = entries.first(where: { PackPath.caseFoldKey($0.path) == key })?.path
                {
                    throw MLPackError.unsafeEntry(
                        entry: path,
                        rule: other == relative ? "duplicate entry" : "name differs only by case from \(other)")
                }
                current = relative

                var entry = ScannedEntry(
                    path: relative, size: UInt64(max(header.size, 0)), sha256: "", mode: header.permissions,
                    headerOffset: header.headerOffset, dataOffset: header.dataOffset)
                if case .hardlink(let rawTarget) = header.kind {
                    let target = try Self.linkTarget(
                        rawTarget, of: path, top: entryTop, in: entries, positions: positions)
                    entry.hardlinkTarget = target.path
                    entry.size = target.size
                    entry.sha256 = target.sha256
                    entry.dataOffset = target.dataOffset
                }
                try checkPlacement(entry)
                let keep = Self.isMetadata(relative)
                if keep && entry.size > UInt64(pack.limits.maxMetadataBytes) {
                    throw MLPackError.limitExceeded(
                        limit: "metadata-size",
                        detail: "\(relative) is \(entry.size) bytes")
                }

                let sink = try sinkFor?(entry)
                if entry.hardlinkTarget == nil {
                    // A large entry is hashed on another core while the next chunks are decompressed.
                    let background = entry.size >= PackWriter.largeEntryThreshold ? BackgroundHasher() : nil
                    var hasher = SHA256Hasher()
                    var count: UInt64 = 0
                    var kept: [UInt8] = []
                    while true {
                        let (buffer, busy) = ring.take()
                        let n = try tar.readData(into: buffer)
                        if n == 0 { break }
                        let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<n])
                        count += UInt64(n)
                        guard count <= entry.size else {
                            throw MLPackError.integrity(entry: relative, problem: "more data than its header declares")
                        }
                        if let background { background.update(chunk, busy: busy) } else { hasher.update(chunk) }
                        if keep { kept += chunk }
                        try sink?(chunk)
                        if frames.compressedOffset > counter.completed {
                            counter.advance(by: Int(frames.compressedOffset - counter.completed))
                        }
                    }
                    guard count == entry.size else {
                        throw MLPackError.integrity(
                            entry: relative, problem: "the pack is truncated (\(count) of \(entry.size) bytes)")
                    }
                    entry.sha256 = Hex.encode(background?.finalize() ?? hasher.finalize())
                    if keep { metadata[relative] = kept }
                } else if keep, let target = metadata[entry.hardlinkTarget!] {
                    metadata[relative] = target
                }
                positions[relative] = entries.count
                entries.append(entry)
            }
            try Self.drain(frames, through: dialect, into: ring.take().buffer, after: entries.last)
        } catch let problem as FrameReader.Problem {
            throw Self.describe(
                problem, path: pack.path, place: entriesInFrame(at: problem.offset) ?? current ?? pack.path)
        } catch let error as TarError {
            guard let current else {
                throw MLPackError.notAPack(path: pack.path, reason: "not a tar archive: \(error.message)")
            }
            throw MLPackError.integrity(entry: current, problem: "damaged tar stream: \(error.message)")
        }
        guard let top else { throw MLPackError.notAPack(path: pack.path, reason: "the archive is empty") }
        return ScannedPack(
            topDirectory: top, entries: entries, metadata: metadata, frames: frames.frameStarts,
            skippableFrameOffsets: frames.skippableFrameOffsets, tarSize: frames.uncompressedOffset,
            positions: positions)
    }

    /// Splits `top/relative`; every entry shares one valid top-level directory.
    private static func split(_ path: String, top: String?) throws -> (String, String) {
        guard let slash = path.firstIndex(of: "/") else {
            throw MLPackError.unsafeEntry(entry: path, rule: "entry outside the pack's top-level directory")
        }
        let entryTop = String(path[..<slash])
        if let top, top != entryTop {
            throw MLPackError.unsafeEntry(entry: path, rule: "second top-level directory (the first is \(top))")
        }
        guard PackPath.isValidTopDirectory(entryTop) else {
            throw MLPackError.unsafeEntry(entry: path, rule: "invalid top-level directory name")
        }
        return (entryTop, String(path[path.index(after: slash)...]))
    }

    private static let disagreement = "tar readers disagree on this entry"

    /// libarchive's reading of an entry must be the dialect reader's; what remains to check
    /// is what only the parsed header shows.
    private static func check(_ header: TarHeader, against raw: TarDialect.Header, path: String) throws {
        let sameKind: Bool
        switch header.kind {
        case .regular: sameKind = raw.linkTarget == nil
        case .hardlink(let target): sameKind = raw.linkTarget == target
        case .other: sameKind = false
        }
        guard sameKind, header.rawPath == raw.path, !header.isSparse, header.size == Int64(raw.size),
            header.headerOffset == raw.headerOffset, header.dataOffset == raw.dataOffset
        else { throw MLPackError.unsafeEntry(entry: path, rule: disagreement) }
        guard Item.allowedModes.contains(header.permissions) else {
            throw MLPackError.unsafeEntry(
                entry: path, rule: "mode \(String(header.permissions, radix: 8)) (only 644 and 755 are allowed)")
        }
    }

    /// A hard link must name an earlier regular file of the same pack.
    private static func linkTarget(
        _ raw: [UInt8], of path: String, top: String, in entries: [ScannedEntry], positions: [String: Int]
    ) throws -> ScannedEntry {
        let (decoded, problem) = PackPath.decode(raw)
        guard problem == nil, let target = decoded, target.hasPrefix(top + "/"),
            let position = positions[String(target.dropFirst(top.count + 1))],
            entries[position].hardlinkTarget == nil
        else {
            throw MLPackError.unsafeEntry(
                entry: path,
                rule: "hard link to \(decoded ?? PackPath.display(raw)), which is not an earlier file of the pack")
        }
        return entries[position]
    }

    /// Outside `data/` only the known tag files may appear; inside it, with disclosures known
    /// ahead, only disclosed items of the disclosed size.
    private func checkPlacement(_ entry: ScannedEntry) throws {
        guard let itemPath = Layout.itemPath(entry.path) else {
            guard Layout.tagFiles.contains(entry.path) else {
                throw MLPackError.integrity(entry: entry.path, problem: "unexpected file outside data/")
            }
            return
        }
        guard let expected, entry.path != Layout.roCrate else { return }
        guard let item = expected[itemPath] else {
            throw MLPackError.integrity(entry: entry.path, problem: "not in the pack's disclosures")
        }
        guard item.size == entry.size else {
            throw MLPackError.integrity(
                entry: entry.path, problem: "size \(entry.size) differs from the disclosed \(item.size)")
        }
    }

    /// Files readers parse: the tag files, and the items the derived views are made from
    /// (by path here, since roles are known only once the disclosures are read).
    static func isMetadata(_ path: String) -> Bool {
        Layout.tagFiles.contains(path) || path == Layout.payloadPath(Layout.card) || path == Layout.roCrate
            || ((path.hasPrefix("data/runs/") || path.hasPrefix("data/refs/")) && path.hasSuffix(".json"))
    }

    /// After the tar's end: only zero padding and skippable frames (the index) may follow.
    private static func drain(
        _ frames: FrameReader, through dialect: TarDialect, into buffer: UnsafeMutableRawBufferPointer,
        after last: ScannedEntry?
    ) throws {
        while true {
            let n = try frames.read(into: buffer)
            if n == 0 { break }
            try dialect.consume(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        }
        guard dialect.isComplete else {
            throw MLPackError.integrity(
                entry: last?.path ?? "pack", problem: "the pack is truncated (no end-of-archive marker)")
        }
    }

    /// The entries whose bytes lie in the frame at `offset`, named through the index when it
    /// is usable: libarchive reads ahead, so the entry being read may not be the damaged one.
    private func entriesInFrame(at offset: UInt64?) -> String? {
        guard let offset, case .success(let loaded) = pack.index,
            let frame = loaded.index.frames.lastIndex(where: { $0.compressedOffset <= offset })
        else { return nil }
        let index = loaded.index
        let start = index.frames[frame].uncompressedOffset
        let end = frame + 1 < index.frames.count ? index.frames[frame + 1].uncompressedOffset : index.tarSize
        let names = index.entries.filter {
            $0.hardlinkTarget == nil && $0.headerOffset < end && $0.dataOffset + $0.size > start
        }
        .map { $0.path.split(separator: "/", maxSplits: 1).last.map(String.init) ?? $0.path }
        guard let first = names.first else { return nil }
        return names.count == 1 ? first : "\(first) (or one of the \(names.count - 1) other entries in its frame)"
    }

    private static func describe(_ problem: FrameReader.Problem, path: String, place: String) -> MLPackError {
        switch problem {
        case .notZstd(let offset) where offset == 0:
            return .notAPack(path: path, reason: "it does not start with a zstd frame")
        case .notZstd(let offset):
            return .integrity(entry: place, problem: "no zstd frame at byte \(offset)")
        case .truncated(let offset):
            return .integrity(
                entry: place, problem: "the pack is truncated (the compressed stream ends at byte \(offset))")
        case .corrupt(let offset, let reason):
            return .integrity(entry: place, problem: "corrupt compressed data near byte \(offset) (\(reason))")
        case .limit(let name, let detail):
            return .limitExceeded(limit: name, detail: detail)
        case .layout(let offset, let rule):
            return .integrity(entry: path, problem: "\(rule) (byte \(offset))")
        case .source(let error):
            return error
        }
    }
}

extension FrameReader.Problem {
    var offset: UInt64? {
        switch self {
        case .notZstd(let offset), .truncated(let offset), .corrupt(let offset, _): offset
        case .limit, .layout, .source: nil
        }
    }
}
