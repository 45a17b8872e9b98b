import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Copies one URI (`file://`, `https://`, `s3://`, or `http://` on loopback) into a local
/// file, hashing the bytes on the way and stopping as soon as more arrive than expected.
enum Downloader {
    struct Result {
        var size: UInt64
        var sha256: String
    }

    enum Failure: Error, CustomStringConvertible {
        case refused(String)
        case failed(String)
        case tooLarge(UInt64)

        var description: String {
            switch self {
            case .refused(let why): why
            case .failed(let why): why
            case .tooLarge(let limit): "more than the \(limit) bytes expected"
            }
        }
    }

    static func fetch(
        _ uri: String, to destination: String, maxBytes: UInt64, progress: ProgressCounter?, s3: S3Settings? = nil
    ) throws -> Result {
        guard let url = URL(string: uri), let scheme = url.scheme?.lowercased() else {
            throw Failure.refused("not a URI")
        }
        switch scheme {
        case "file":
            return try copy(url.path, to: destination, maxBytes: maxBytes, progress: progress)
        case "https":
            return try download(url, to: destination, maxBytes: maxBytes, progress: progress)
        case "http":
            guard isLoopback(url.host) else {
                throw Failure.refused("plain http is only allowed on loopback (use https)")
            }
            return try download(url, to: destination, maxBytes: maxBytes, progress: progress)
        case "s3":
            guard let location = S3Location(uri), !location.key.isEmpty else {
                throw Failure.refused("not an s3://BUCKET/KEY URI")
            }
            let settings = try s3 ?? S3Settings()
            let sink = try HashingFile(destination, maxBytes: maxBytes, progress: progress)
            _ = try S3.get(location, settings, into: sink.write)
            return sink.finish()
        default:
            throw Failure.refused("unsupported scheme \(scheme)")
        }
    }

    static func isLoopback(_ host: String?) -> Bool {
        guard let host = host?.lowercased() else { return false }
        return host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    private static func copy(
        _ path: String, to destination: String, maxBytes: UInt64, progress: ProgressCounter?
    ) throws -> Result {
        guard FileSystem.status(path, followLinks: true)?.isRegular == true else {
            throw Failure.failed("no such file")
        }
        let input = try PosixFile(path: path, mode: .read)
        let sink = try HashingFile(destination, maxBytes: maxBytes, progress: progress)
        try input.stream(into: sink.write)
        return sink.finish()
    }

    private static func download(
        _ url: URL, to destination: String, maxBytes: UInt64, progress: ProgressCounter?
    ) throws -> Result {
        let sink = try HashingFile(destination, maxBytes: maxBytes, progress: progress)
        let delegate = StreamingDelegate(sink: sink)
        let session = URLSession(configuration: .ephemeral, delegate: delegate, delegateQueue: nil)
        defer { session.invalidateAndCancel() }
        var request = URLRequest(url: url)
        request.timeoutInterval = 60
        session.dataTask(with: request).resume()
        delegate.done.wait()
        if let failure = delegate.failure { throw failure }
        return sink.finish()
    }

    /// Receives the body chunk by chunk; refuses redirects that leave https (or loopback).
    private final class StreamingDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        let sink: HashingFile
        let done = DispatchSemaphore(value: 0)
        var failure: (any Error)?

        init(sink: HashingFile) { self.sink = sink }

        func urlSession(
            _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
            completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
        ) {
            if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
                failure = Failure.failed("HTTP \(http.statusCode)")
                completionHandler(.cancel)
                return
            }
            completionHandler(.allow)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            guard failure == nil else { return }
            do { try data.withUnsafeBytes { try sink.write($0) } } catch {
                failure = error
                dataTask.cancel()
            }
        }

        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
            newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
        ) {
            let scheme = request.url?.scheme?.lowercased()
            let allowed = scheme == "https" || (scheme == "http" && Downloader.isLoopback(request.url?.host))
            if !allowed { failure = Failure.refused("redirect to \(request.url?.absoluteString ?? "?") refused") }
            completionHandler(allowed ? request : nil)
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
            if failure == nil, let error { failure = Failure.failed(error.localizedDescription) }
            done.signal()
        }
    }
}

/// A new file written and hashed at once, capped at the size the reference declares.
final class HashingFile: @unchecked Sendable {
    private let file: PosixFile
    private var hasher = SHA256Hasher()
    private var size: UInt64 = 0
    private let maxBytes: UInt64
    private let progress: ProgressCounter?

    init(_ path: String, maxBytes: UInt64, progress: ProgressCounter?) throws {
        file = try PosixFile(path: path, mode: .createExclusive, permissions: 0o600)
        self.maxBytes = maxBytes
        self.progress = progress
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        size += UInt64(bytes.count)
        guard size <= maxBytes else { throw Downloader.Failure.tooLarge(maxBytes) }
        hasher.update(bytes)
        try file.write(bytes)
        progress?.advance(by: bytes.count)
    }

    func finish() -> Downloader.Result {
        Downloader.Result(size: size, sha256: Hex.encode(hasher.finalize()))
    }
}
