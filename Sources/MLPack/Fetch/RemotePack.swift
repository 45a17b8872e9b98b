import Foundation

/// A pack at an `https://` (`http://` on loopback) or `s3://` URI, read with HTTP Range
/// requests: `inspect` and `extract --only` fetch the footer, the seek index and the frames
/// they need; a front-to-back scan (`verify`) asks for ever larger ranges, so each byte
/// crosses the network once and nothing is written to disk. Every response must carry the
/// first one's ETag (and the request says `If-Match`): an object that changes mid-read is an
/// error, not a mix of two packs. A server that ignores Range is read as a stream instead.
final class RemotePack: PackSource {
    let uri: String
    let size: UInt64
    private let version: Version
    private let request: (_ range: ClosedRange<UInt64>) -> Curl.Request
    /// The pack's first and last bytes, fetched when it was opened: kept.
    private let pinned: [(start: UInt64, bytes: [UInt8])]
    /// The last range fetched since; small reads are served from it.
    private var block: (start: UInt64, bytes: [UInt8]) = (0, [])
    private var nextBlockSize = RemotePack.smallestBlock
    private var streamPosition: UInt64 = 0

    static let smallestBlock = 64 << 10
    static let largestBlock = 16 << 20

    static func isRemote(_ path: String) -> Bool {
        let lowered = path.lowercased()
        return lowered.hasPrefix("https://") || lowered.hasPrefix("http://") || lowered.hasPrefix("s3://")
    }

    /// How much of the pack's end the first requests ask for: the footer, the seek index and,
    /// in most packs, the metadata frames that `inspect` reads.
    static let tailBlock: UInt64 = 256 << 10

    /// The pack at `uri`: random access when the server honours Range, else a stream (a pipe
    /// a thread fills from one GET), which readers treat as they treat standard input. Its
    /// first 64 KiB and its last 256 KiB are asked for at once.
    static func open(_ uri: String) throws -> any PackSource {
        let request = try requestMaker(uri)
        let ranges = ["Range: bytes=0-\(smallestBlock - 1)", "Range: bytes=-\(tailBlock)"]
        let probes = ranges.map { range in
            var probe = request(0...0)
            probe.headers.removeAll { $0.hasPrefix("Range:") }
            probe.headers.append(range)
            probe.timeout = 60
            return probe
        }
        let answers = concurrentMap(count: 2, threads: 2) { index -> Result<([UInt8], Curl.Response), any Error> in
            let probe = probes[index]
            let limit = index == 0 ? smallestBlock : Int(tailBlock)
            var bytes: [UInt8] = []
            return Result {
                let response = try Curl.perform(
                    probe,
                    Curl.Transfer(sink: { chunk in
                        bytes += chunk
                        if bytes.count > limit { throw RangeIgnored() }
                    }))
                return (bytes, response)
            }
        }
        var parts: [(bytes: [UInt8], response: Curl.Response)] = []
        for answer in answers {
            do { parts.append(try answer.get()) } catch is RangeIgnored {
                return try stream(uri, request: request)
            } catch let failure as Curl.Failure {
                throw MLPackError.io(path: uri, reason: failure.description)
            }
        }
        for part in parts { try check(part.response, uri: uri) }
        let (head, tail) = (parts[0], parts[1])
        let version = Version(tail.response)
        if head.response.status == 200 || tail.response.status == 200 {
            // A pack smaller than the first answer: it came whole.
            let whole = head.response.status == 200 ? head : tail
            return RemotePack(
                uri: uri, size: UInt64(whole.bytes.count), version: Version(whole.response), request: request,
                blocks: [(0, whole.bytes)])
        }
        // "Content-Range: bytes 2147221504-2147483647/2147483648"
        guard let range = tail.response.headers["content-range"], let slash = range.lastIndex(of: "/"),
            let total = UInt64(range[range.index(after: slash)...]), total >= UInt64(tail.bytes.count)
        else { throw MLPackError.io(path: uri, reason: "the server's answer to a range request has no size") }
        guard Version(head.response) == version else { throw changed(uri) }
        return RemotePack(
            uri: uri, size: total, version: version, request: request,
            blocks: [(0, head.bytes), (total - UInt64(tail.bytes.count), tail.bytes)])
    }

    /// What identifies one version of the object: its ETag, else its Last-Modified.
    private struct Version: Equatable {
        var etag: String?
        var lastModified: String?

        init(_ response: Curl.Response) {
            etag = response.headers["etag"]
            lastModified = response.headers["last-modified"]
        }
    }

    private static func changed(_ uri: String) -> MLPackError {
        MLPackError.io(path: uri, reason: "changed on the server while it was being read (its ETag differs)")
    }

    private init(
        uri: String, size: UInt64, version: Version, request: @escaping (ClosedRange<UInt64>) -> Curl.Request,
        blocks: [(start: UInt64, bytes: [UInt8])]
    ) {
        self.uri = uri
        self.size = size
        self.version = version
        self.request = request
        self.pinned = blocks
    }

    var seekableSize: UInt64? { size }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = try read(at: streamPosition, into: buffer)
        streamPosition += UInt64(count)
        return count
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count && offset + UInt64(done) < size {
            let position = offset + UInt64(done)
            if let kept = pinned.first(where: { position >= $0.start && position < $0.start + UInt64($0.bytes.count) }),
                kept.start != block.start || kept.bytes.count != block.bytes.count
            {
                block = kept
            }
            let blockEnd = block.start + UInt64(block.bytes.count)
            if position < block.start || position >= blockEnd {
                // Reading on from where the last range ended: a scan; ask for more next time.
                nextBlockSize =
                    position == blockEnd ? min(nextBlockSize * 2, Self.largestBlock) : Self.smallestBlock
                try fetch(from: position, count: max(nextBlockSize, buffer.count - done))
                continue
            }
            let start = Int(position - block.start)
            let count = min(buffer.count - done, block.bytes.count - start)
            block.bytes.withUnsafeBytes { bytes in
                UnsafeMutableRawBufferPointer(rebasing: buffer[done..<done + count]).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: bytes[start..<start + count]))
            }
            done += count
        }
        return done
    }

    private func fetch(from start: UInt64, count: Int) throws {
        let end = min(size, start + UInt64(count)) - 1
        var ranged = request(start...end)
        if let etag = version.etag { ranged.headers.append("If-Match: " + etag) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(end - start + 1))
        let response: Curl.Response
        do {
            response = try Curl.perform(ranged, Curl.Transfer(sink: { bytes += $0 }))
        } catch let failure as Curl.Failure {
            throw MLPackError.io(path: uri, reason: failure.description)
        }
        if response.status == 412 || Version(response) != version { throw Self.changed(uri) }
        try Self.check(response, uri: uri)
        guard response.status == 206, bytes.count == Int(end - start + 1) else {
            throw MLPackError.io(
                path: uri,
                reason: "the server answered bytes \(start)-\(end) with \(bytes.count) bytes (HTTP \(response.status))")
        }
        block = (start, bytes)
    }

    /// A server that ignores Range: one GET, streamed through a pipe by a thread of its own.
    private static func stream(_ uri: String, request: (ClosedRange<UInt64>) -> Curl.Request) throws -> PosixFile {
        var whole = request(0...0)
        whole.headers.removeAll { $0.hasPrefix("Range:") }
        whole.timeout = 24 * 3600
        let (reader, writer) = try PosixFile.pipe(path: uri)
        let get = whole
        Thread.detachNewThread {
            // The reader closing its end (EPIPE) ends the transfer; a failure ends the stream
            // early, which the reader sees as a truncated pack.
            _ = try? Curl.perform(get, Curl.Transfer(sink: { try writer.write($0) }))
            _ = writer
        }
        return reader
    }

    /// How to ask for a range of `uri`: plain for https, signed for s3.
    private static func requestMaker(_ uri: String) throws -> (ClosedRange<UInt64>) -> Curl.Request {
        let range: (ClosedRange<UInt64>) -> String = { "Range: bytes=\($0.lowerBound)-\($0.upperBound)" }
        if let location = S3Location(uri), !location.key.isEmpty {
            let settings = try S3Settings()
            return { bytes in
                var request = S3.request("GET", location, settings)
                request.headers.append(range(bytes))
                return request
            }
        }
        guard let url = URL(string: uri), let scheme = url.scheme?.lowercased(),
            scheme == "https" || (scheme == "http" && Downloader.isLoopback(url.host))
        else {
            throw MLPackError.usage(
                "\(uri): a pack is read from https:// (http:// only on loopback) or s3://BUCKET/KEY")
        }
        return { bytes in Curl.Request(url: uri, headers: [range(bytes)]) }
    }

    private static func check(_ response: Curl.Response, uri: String) throws {
        guard !(200..<300).contains(response.status) else { return }
        throw MLPackError.io(path: uri, reason: S3.explain(response))
    }

    private struct RangeIgnored: Error {}
}
