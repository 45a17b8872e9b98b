internal import CCurl
import Foundation

/// One HTTP request through libcurl: the only file that touches it. libcurl signs S3
/// requests itself (AWS Signature V4, `CURLOPT_AWS_SIGV4`), streams bodies both ways without
/// holding them, and follows no redirect (a signed request must not be replayed elsewhere).
enum Curl {
    struct Request: Sendable {
        var method = "GET"
        var url: String
        var headers: [String] = []
        /// AWS Signature V4: provider (`aws:amz:REGION:s3`) and `KEY:SECRET`.
        var signing: Signing?
        /// The request body's size, for a PUT whose bytes `Transfer.source` gives.
        var uploadSize: UInt64?
        var timeout: Double = 300
    }

    /// Credentials to sign with. Never printed: `description` says only that there are some.
    struct Signing: Sendable, CustomStringConvertible {
        var provider: String
        var user: String
        var description: String { "(credentials)" }
    }

    struct Response: Sendable {
        var status: Int
        /// Header names lower-cased; the last value of each.
        var headers: [String: String]
        /// The body of an error response (status outside 200–299), at most 64 KiB.
        var errorBody: [UInt8]
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Where a response's body goes (only a 2xx body; an error body is kept in `Response`),
    /// and where an upload's bytes come from: `source` fills the buffer and returns how many
    /// bytes it wrote, 0 at the end.
    struct Transfer {
        var sink: ((UnsafeRawBufferPointer) throws -> Void)?
        var source: ((UnsafeMutableRawBufferPointer) throws -> Int)?
    }

    private static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    static func perform(_ request: Request, _ transfer: Transfer = Transfer()) throws -> Response {
        guard initialized, let handle = curl_easy_init() else { throw Failure(description: "libcurl did not start") }
        defer { curl_easy_cleanup(handle) }
        let context = Context(transfer)
        let opaque = Unmanaged.passUnretained(context).toOpaque()
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        // No "Expect:" to turn 100-continue off: libcurl's SigV4 would sign the empty header.
        for header in request.headers { list = curl_slist_append(list, header) }

        var code = CURLE_OK
        func set(_ result: CURLcode) { if code == CURLE_OK { code = result } }
        set(mlpack_curl_set_string(handle, CURLOPT_URL, request.url))
        set(mlpack_curl_set_long(handle, CURLOPT_NOSIGNAL, 1))
        set(mlpack_curl_set_long(handle, CURLOPT_FOLLOWLOCATION, 0))
        set(mlpack_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT, 30))
        set(mlpack_curl_set_long(handle, CURLOPT_TIMEOUT, Int(request.timeout)))
        set(mlpack_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
        set(mlpack_curl_set_pointer(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list)))
        set(mlpack_curl_set_callback(handle, CURLOPT_WRITEFUNCTION, writeBody))
        set(mlpack_curl_set_pointer(handle, CURLOPT_WRITEDATA, opaque))
        set(mlpack_curl_set_callback(handle, CURLOPT_HEADERFUNCTION, readHeader))
        set(mlpack_curl_set_pointer(handle, CURLOPT_HEADERDATA, opaque))
        if let signing = request.signing {
            set(mlpack_curl_set_string(handle, CURLOPT_AWS_SIGV4, signing.provider))
            set(mlpack_curl_set_string(handle, CURLOPT_USERPWD, signing.user))
        }
        switch request.method {
        case "GET": break
        case "HEAD": set(mlpack_curl_set_long(handle, CURLOPT_NOBODY, 1))
        case "PUT":
            set(mlpack_curl_set_long(handle, CURLOPT_UPLOAD, 1))
            set(mlpack_curl_set_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.uploadSize ?? 0)))
            set(mlpack_curl_set_callback(handle, CURLOPT_READFUNCTION, readBody))
            set(mlpack_curl_set_pointer(handle, CURLOPT_READDATA, opaque))
        default: set(mlpack_curl_set_string(handle, CURLOPT_CUSTOMREQUEST, request.method))
        }
        guard code == CURLE_OK else {
            throw Failure(description: "libcurl refused an option: \(String(cString: curl_easy_strerror(code)))")
        }
        let result = curl_easy_perform(handle)
        if let error = context.error { throw error }
        guard result == CURLE_OK else { throw Failure(description: String(cString: curl_easy_strerror(result))) }
        var status = 0
        _ = mlpack_curl_response_code(handle, &status)
        return Response(status: status, headers: context.headers, errorBody: context.errorBody)
    }

    /// What the callbacks share with `perform`; one request at a time.
    private final class Context {
        let transfer: Transfer
        var headers: [String: String] = [:]
        var status = 0
        var errorBody: [UInt8] = []
        var error: (any Error)?

        init(_ transfer: Transfer) { self.transfer = transfer }
    }

    private static let writeBody: mlpack_curl_data_callback = { buffer, size, count, opaque in
        let context = Unmanaged<Context>.fromOpaque(opaque!).takeUnretainedValue()
        let bytes = UnsafeRawBufferPointer(start: buffer, count: size * count)
        if !(200..<300).contains(context.status) {
            context.errorBody += bytes.prefix(max(0, 65536 - context.errorBody.count))
            return bytes.count
        }
        do { try context.transfer.sink?(bytes) } catch {
            context.error = error
            return 0  // libcurl stops with CURLE_WRITE_ERROR
        }
        return bytes.count
    }

    private static let readHeader: mlpack_curl_data_callback = { buffer, size, count, opaque in
        let context = Unmanaged<Context>.fromOpaque(opaque!).takeUnretainedValue()
        let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: size * count), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            // A new response (after a 100 Continue): its status, and headers anew.
            context.status = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            context.headers = [:]
        } else if let colon = line.firstIndex(of: ":") {
            context.headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                .trimmingCharacters(in: .whitespaces)
        }
        return size * count
    }

    private static let readBody: mlpack_curl_data_callback = { buffer, size, count, opaque in
        let context = Unmanaged<Context>.fromOpaque(opaque!).takeUnretainedValue()
        guard let source = context.transfer.source else { return 0 }
        do { return try source(UnsafeMutableRawBufferPointer(start: buffer, count: size * count)) } catch {
            context.error = error
            return Int(CURL_READFUNC_ABORT)
        }
    }
}
