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
    private let etag: String?
    private let request: (_ range: ClosedRange<UInt64>) -> Curl.Request
    /// The last range fetched; small reads are served from it.
    private var block: (start: UInt64, bytes: [UInt8]) = (0, [])
    private var nextBlockSize = RemotePack.smallestBlock
    private var streamPosition: UInt64 = 0

    static let smallestBlock = 64 << 10
    static let largestBlock = 16 << 20

    static func isRemote(_ path: String) -> Bool {
        let lowered = path.lowercased()
        return lowered.hasPrefix("https://") || lowered.hasPrefix("http://") || lowered.hasPrefix("s3://")
    }

    /// The pack at `uri`: random access when the server honours Range, else a stream (a pipe
    /// a thread fills from one GET), which readers treat as they treat standard input.
    static func open(_ uri: String) throws -> any PackSource {
        let request = try requestMaker(uri)
        var first: [UInt8] = []
        let wanted = UInt64(smallestBlock)
        let response: Curl.Response
        do {
            var probe = request(0...(wanted - 1))
            probe.timeout = 60
            response = try Curl.perform(
                probe,
                Curl.Transfer(sink: { bytes in
                    first += bytes
                    if first.count > Int(wanted) { throw RangeIgnored() }
                }))
        } catch is RangeIgnored {
            return try stream(uri, request: request)
        } catch let failure as Curl.Failure {
            throw MLPackError.io(path: uri, reason: failure.description)
        }
        try check(response, uri: uri)
        if response.status == 200 {
            // The whole pack fitted in the first answer.
            return RemotePack(
                uri: uri, size: UInt64(first.count), etag: response.headers["etag"], request: request, first: first)
        }
        // "Content-Range: bytes 0-65535/2147483648"
        guard let range = response.headers["content-range"], let slash = range.lastIndex(of: "/"),
            let total = UInt64(range[range.index(after: slash)...])
        else { throw MLPackError.io(path: uri, reason: "the server's answer to a range request has no size") }
        return RemotePack(uri: uri, size: total, etag: response.headers["etag"], request: request, first: first)
    }

    private init(
        uri: String, size: UInt64, etag: String?, request: @escaping (ClosedRange<UInt64>) -> Curl.Request,
        first: [UInt8]
    ) {
        self.uri = uri
        self.size = size
        self.etag = etag
        self.request = request
        self.block = (0, first)
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

    func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { try read(at: offset, into: $0) }
        return Array(bytes.prefix(n))
    }

    private func fetch(from start: UInt64, count: Int) throws {
        let end = min(size, start + UInt64(count)) - 1
        var ranged = request(start...end)
        if let etag { ranged.headers.append("If-Match: " + etag) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(end - start + 1))
        let response: Curl.Response
        do {
            response = try Curl.perform(ranged, Curl.Transfer(sink: { bytes += $0 }))
        } catch let failure as Curl.Failure {
            throw MLPackError.io(path: uri, reason: failure.description)
        }
        if response.status == 412 || (etag != nil && response.headers["etag"] != etag) {
            throw MLPackError.io(path: uri, reason: "changed on the server while it was being read (its ETag differs)")
        }
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
