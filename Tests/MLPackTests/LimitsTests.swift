import Foundation
import TestSupport
import Testing

@testable import MLPack

@Suite("Reader limits")
struct LimitsTests {
    /// One zstd frame of `count` zero bytes, made with the library's compressor.
    static func zeroFrame(count: Int) throws -> [UInt8] {
        let source = [UInt8](repeating: 0, count: count)
        var out = [UInt8](repeating: 0, count: Zstd.compressBound(count))
        let size = try source.withUnsafeBytes { input in
            try out.withUnsafeMutableBytes { output in
                try ZstdCompressor().compressFrame(input, level: 3, into: output)
            }
        }
        return Array(out.prefix(size))
    }

    /// Reads a whole zstd file through `FrameReader`; returns the bytes that came out.
    static func drain(_ path: String, limits: ReaderLimits) throws(FrameReader.Problem) -> UInt64 {
        let file = try! PosixFile(path: path, mode: .read)
        let reader = FrameReader(file: file, limits: limits)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { buffer.deallocate() }
        var total: UInt64 = 0
        while true {
            let n = try reader.read(into: buffer)
            if n == 0 { return total }
            total += UInt64(n)
        }
    }

    static func limitName(_ body: () throws(FrameReader.Problem) -> UInt64) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            if case .limit(let name, _) = error { return name }
            return "\(error)"
        }
    }

    static var lowRatio: ReaderLimits {
        var limits = ReaderLimits()
        limits.expansionGrace = 1 << 20
        limits.maxExpansionRatio = 100
        return limits
    }

    @Test("the defaults are the documented ones")
    func defaults() {
        let limits = ReaderLimits()
        #expect(limits.maxEntries == 200_000)
        #expect(limits.maxMetadataBytes == 64 << 20)
        #expect(limits.maxTotalBytes == 1 << 40)
        #expect(limits.maxExpansionRatio == 1000)
        #expect(limits.expansionGrace == 256 << 20)
        #expect(limits.zstdWindowLogMax == 24)
    }

    @Test("a zstd stream of zeros: FrameReader stops at the expansion ratio and the total size")
    func frameReaderLimits() throws {
        try withTemporaryDirectory { dir in
            let frame = try Self.zeroFrame(count: 8 << 20)
            #expect(frame.count < 8 << 10, "zeros compress to almost nothing")
            let path = try dir.write("zeros.zst", frame)
            // Within the default limits, everything comes out.
            #expect(try Self.drain(path, limits: ReaderLimits()) == 8 << 20)
            #expect(
                Self.limitName { () throws(FrameReader.Problem) in try Self.drain(path, limits: Self.lowRatio) }
                    == "expansion-ratio")
            var total = ReaderLimits()
            total.maxTotalBytes = 1 << 20
            #expect(
                Self.limitName { () throws(FrameReader.Problem) in try Self.drain(path, limits: total) } == "total-size"
            )
            // Under the grace, the ratio is not checked.
            var graceful = Self.lowRatio
            graceful.expansionGrace = 16 << 20
            #expect(try Self.drain(path, limits: graceful) == 8 << 20)
        }
    }

    @Test("FrameReader reports data that is not zstd, and truncation")
    func frameReaderDamage() throws {
        try withTemporaryDirectory { dir in
            let frame = try Self.zeroFrame(count: 1 << 16)
            let notZstd = try dir.write("plain.bin", Array("plain text, not zstd".utf8))
            do {
                _ = try Self.drain(notZstd, limits: .init())
                Issue.record("no error")
            } catch let error as FrameReader.Problem {
                guard case .notZstd(let offset) = error else { Issue.record("got \(error)"); return }
                #expect(offset == 0)
            }
            let truncated = try dir.write("cut.zst", Array(frame.dropLast(3)))
            do {
                _ = try Self.drain(truncated, limits: .init())
                Issue.record("no error")
            } catch let error as FrameReader.Problem {
                guard case .truncated = error else { Issue.record("got \(error)"); return }
            }
            // A skippable frame is allowed only last (the seek index, spec §2.1).
            var skippable = [UInt8]()
            skippable.appendLittleEndian(0x184D_2A50)
            skippable.appendLittleEndian(5)
            skippable += [1, 2, 3, 4, 5]
            #expect(try Self.drain(try dir.write("last.zst", frame + skippable), limits: .init()) == 1 << 16)
            do {
                _ = try Self.drain(try dir.write("joined.zst", frame + skippable + frame), limits: .init())
                Issue.record("no error")
            } catch let error as FrameReader.Problem {
                guard case .layout(let offset, _) = error else { Issue.record("got \(error)"); return }
                #expect(offset == UInt64(frame.count))
            }
        }
    }

    /// A pack whose only weights are 4 MiB of zeros (a miniature decompression bomb).
    static func zeroPack(in dir: TempDir) throws -> String {
        try dir.write("zeros.bin", [UInt8](repeating: 0, count: 4 << 20))
        _ = try PackCreator.create(createOptions(dir, code: nil, weights: ["zeros.bin"]))
        return dir.path("demo.mlpack")
    }

    @Test("verifying a pack of zeros fails on the expansion ratio or the total size")
    func packLimits() throws {
        try withTemporaryDirectory { dir in
            let pack = try Self.zeroPack(in: dir)
            #expect(try PackVerifier.verify(pack, options: allowUnsigned()).verdict == .verified)

            let ratio = expectMLPackError { _ = try PackVerifier.verify(pack, options: allowUnsigned(Self.lowRatio)) }
            guard case .limitExceeded(let name, let detail)? = ratio else {
                Issue.record("got \(String(describing: ratio))"); return
            }
            #expect(name == "expansion-ratio")
            #expect(detail.contains("100x"))
            #expect(ratio?.category == .invalid)

            var total = ReaderLimits()
            total.maxTotalBytes = 1 << 20
            let size = expectMLPackError { _ = try PackVerifier.verify(pack, options: allowUnsigned(total)) }
            guard case .limitExceeded(let sizeName, _)? = size else {
                Issue.record("got \(String(describing: size))"); return
            }
            #expect(sizeName == "total-size")

            var extract = ExtractOptions(destination: dir.path("out"))
            extract.limits = Self.lowRatio
            let extractError = expectMLPackError { _ = try PackExtractor.extract(pack, options: extract) }
            if case .limitExceeded(let name, _)? = extractError {
                #expect(name == "expansion-ratio")
            } else {
                Issue.record("got \(String(describing: extractError))")
            }
            #expect(!dir.exists("out"), "a failed extraction leaves nothing behind")
        }
    }

    @Test("PackScanner rejects more entries than maxEntries")
    func entries() throws {
        try withTemporaryDirectory { dir in
            try makeProject(in: dir)
            _ = try PackCreator.create(createOptions(dir, weights: []))
            let path = dir.path("demo.mlpack")
            let count = try PackFile(path: path, limits: .init()).index.get().index.entries.count
            var limits = ReaderLimits()
            limits.maxEntries = count
            #expect(try PackScanner(pack: PackFile(path: path, limits: limits)).scan().entries.count == count)
            limits.maxEntries = count - 1
            let error = expectMLPackError { _ = try PackScanner(pack: PackFile(path: path, limits: limits)).scan() }
            guard case .limitExceeded(let name, let detail)? = error else {
                Issue.record("got \(String(describing: error))"); return
            }
            #expect(name == "entries")
            #expect(detail.contains("more than \(count - 1) entries"))
            limits.maxEntries = 2
            let verifyError = expectMLPackError { _ = try PackVerifier.verify(path, options: allowUnsigned(limits)) }
            if case .limitExceeded(let name, _)? = verifyError {
                #expect(name == "entries")
            } else {
                Issue.record("got \(String(describing: verifyError))")
            }
        }
    }

    @Test("metadata larger than maxMetadataBytes is refused")
    func metadataSize() throws {
        try withTemporaryDirectory { dir in
            try makeProject(in: dir)
            _ = try PackCreator.create(createOptions(dir, weights: []))
            var limits = ReaderLimits()
            limits.maxMetadataBytes = 100
            let error = expectMLPackError {
                _ = try PackVerifier.verify(dir.path("demo.mlpack"), options: allowUnsigned(limits))
            }
            if case .limitExceeded(let name, _)? = error {
                #expect(name == "metadata-size")
            } else {
                Issue.record("got \(String(describing: error))")
            }
        }
    }

    /// The scan holds every entry's name until the end, when the disclosures say which are
    /// items: a pack of many long names is metadata read into memory, and capped as such.
    @Test("the entries' names together count against maxMetadataBytes")
    func nameBytes() throws {
        try withTemporaryDirectory { dir in
            let path = dir.path("names.mlpack")
            let names = (0..<40).map { "notes/" + String(repeating: "n", count: 200) + "/\($0).txt" }
            try craftPack(at: path, name: "names", items: names.map { ($0, .note, [0x0a], 0o644) })
            // Every file read into memory is smaller than this; the names together are not.
            var limits = ReaderLimits()
            limits.maxMetadataBytes = 8000
            let error = expectMLPackError { _ = try PackScanner(pack: PackFile(path: path, limits: limits)).scan() }
            guard case .limitExceeded(let name, let detail)? = error else {
                Issue.record("got \(String(describing: error))"); return
            }
            #expect(name == "metadata-size")
            #expect(detail == "the entries' names total more than 8000 bytes")
            limits.maxMetadataBytes = 64 << 10
            #expect(try PackScanner(pack: PackFile(path: path, limits: limits)).scan().entries.count > 40)
        }
    }

    /// Regression test. In commit 1eca6be `FrameReader.checkLimits` divided the absolute
    /// `uncompressedOffset` (which starts at the frame's offset in the tar stream when reading
    /// through the seek index) by the compressed bytes read since `startOffset`. Reading a small
    /// entry that lies after `expansionGrace` bytes of tar therefore "exceeded" the ratio even
    /// in a pack that does not compress at all: the index became unusable and inspect fell back
    /// to a full scan (with the defaults: every pack with more than 256 MiB of tar before its
    /// metadata). Fixed in 9b05101. Here the grace is lowered to 1 MiB and the ratio to 100.
    @Test("reading through the index near the end of an incompressible pack does not trip the expansion ratio")
    func ratioThroughIndex() throws {
        try withTemporaryDirectory { dir in
            try makeProject(in: dir)
            try dir.write("big.bin", randomBytes(5 << 20))
            _ = try PackCreator.create(createOptions(dir, weights: ["big.bin"]))
            let path = dir.path("demo.mlpack")
            // The whole pack expands by about 1x: a sequential check passes these limits.
            let report = try PackVerifier.verify(path, options: allowUnsigned(Self.lowRatio))
            #expect(report.verdict == .verified)
            #expect(report.warnings.isEmpty, "verify could not read the disclosures ahead: \(report.warnings)")

            let pack = try PackFile(path: path, limits: Self.lowRatio)
            let manifest = try #require(pack.indexEntry("demo/mlpack/manifest.json"))
            #expect(throws: Never.self) { _ = try pack.read(manifest) }

            let inspected = try PackInspector.inspect(path, limits: Self.lowRatio)
            #expect(inspected.readThrough == "seek index")
            #expect(inspected.warnings.isEmpty)
        }
    }
}
