import Foundation

/// How `s3://` URIs are reached: the endpoint (AWS's, or an S3-compatible store's), the
/// region, and the credentials to sign with, read from where the AWS tools read them. The
/// credentials never leave this type except into libcurl's signing: not into a pack, a log,
/// an error or `--json`.
public struct S3Settings: Sendable {
    /// `--s3-endpoint`, else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`; nil: AWS.
    public var endpoint: String?
    public var region: String
    fileprivate var credentials: Credentials?

    fileprivate struct Credentials: Sendable {
        var accessKey: String
        var secretKey: String
        var sessionToken: String?
    }

    /// From `host`'s environment: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
    /// (`AWS_SESSION_TOKEN`), else the profile `AWS_PROFILE` (default `default`) of
    /// `AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`; none: unsigned requests (public
    /// buckets). Region: `AWS_REGION`, `AWS_DEFAULT_REGION`, else us-east-1.
    public init(host: Host = .current, endpoint: String? = nil) throws {
        let environment = host.environment
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        self.endpoint = endpoint ?? value("AWS_ENDPOINT_URL_S3") ?? value("AWS_ENDPOINT_URL")
        region = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? "us-east-1"
        if let key = value("AWS_ACCESS_KEY_ID"), let secret = value("AWS_SECRET_ACCESS_KEY") {
            credentials = Credentials(accessKey: key, secretKey: secret, sessionToken: value("AWS_SESSION_TOKEN"))
        } else {
            let file = value("AWS_SHARED_CREDENTIALS_FILE") ?? host.home + "/.aws/credentials"
            credentials = try Self.profile(
                value("AWS_PROFILE") ?? "default", in: file, named: value("AWS_PROFILE") != nil)
        }
        if let endpoint = self.endpoint {
            guard let url = URL(string: endpoint), let scheme = url.scheme?.lowercased(), url.host != nil,
                scheme == "https" || (scheme == "http" && Downloader.isLoopback(url.host))
            else {
                throw MLPackError.usage(
                    "S3 endpoint \(endpoint): give an https:// URL (http:// only on loopback)")
            }
        }
    }

    /// One profile of an AWS credentials file (INI: `[name]`, then `key = value` lines).
    private static func profile(_ name: String, in path: String, named: Bool) throws -> Credentials? {
        guard let bytes = FileManager.default.contents(atPath: path) else {
            if named { throw MLPackError.io(path: path, reason: "cannot read it for AWS_PROFILE \(name)") }
            return nil
        }
        var section: String?
        var values: [String: String] = [:]
        for raw in String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
            } else if section == name, let equals = line.firstIndex(of: "="), !line.hasPrefix("#") {
                values[line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()] =
                    line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            }
        }
        guard let key = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
            if named { throw MLPackError.usage("\(path): no credentials for AWS_PROFILE \(name)") }
            return nil
        }
        return Credentials(accessKey: key, secretKey: secret, sessionToken: values["aws_session_token"])
    }
}

/// An object (or, ending in `/`, a prefix) of `s3://BUCKET/KEY`; the key percent-decoded.
struct S3Location: Sendable, Equatable {
    var bucket: String
    var key: String

    init?(_ uri: String) {
        guard uri.lowercased().hasPrefix("s3://") else { return nil }
        let rest = uri.dropFirst(5)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let bucket = String(rest[..<slash])
        // Bucket names: 3–63 of lower-case letters, digits, dots and hyphens (no host injection).
        guard (3...63).contains(bucket.count),
            bucket.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "." || $0 == "-") }),
            let key = String(rest[rest.index(after: slash)...]).removingPercentEncoding, !key.contains("\u{0}")
        else { return nil }
        self.bucket = bucket
        self.key = key
    }

    var uri: String { "s3://\(bucket)/" + S3Location.escape(key) }

    /// A key as a URL path: each component percent-encoded, as SigV4 canonicalizes it.
    static func escape(_ key: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(
            .init(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        allowed.insert(charactersIn: "-._~")
        return key.split(separator: "/", omittingEmptySubsequences: false).map {
            $0.addingPercentEncoding(withAllowedCharacters: allowed) ?? String($0)
        }.joined(separator: "/")
    }

    func appending(_ relative: String) -> S3Location {
        var location = self
        location.key = (key.isEmpty || key.hasSuffix("/") ? key : key + "/") + relative
        return location
    }
}

/// The S3 requests mlpack makes: GET an object into a sink, PUT one from a source.
/// Path-style URLs on a custom endpoint, virtual-hosted ones on AWS.
enum S3 {
    struct Object {
        var size: UInt64?
        var etag: String?
    }

    static func url(_ location: S3Location, _ settings: S3Settings) -> String {
        let path = S3Location.escape(location.key)
        if let endpoint = settings.endpoint {
            return (endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint) + "/\(location.bucket)/" + path
        }
        return "https://\(location.bucket).s3.\(settings.region).amazonaws.com/" + path
    }

    static func request(
        _ method: String, _ location: S3Location, _ settings: S3Settings, headers: [String] = []
    ) -> Curl.Request {
        var request = Curl.Request(method: method, url: url(location, settings))
        // S3 wants the payload's hash signed; the bytes are checked against the pack's SHA-256 anyway.
        request.headers = headers + ["x-amz-content-sha256: UNSIGNED-PAYLOAD"]
        if let credentials = settings.credentials {
            request.signing = Curl.Signing(
                provider: "aws:amz:\(settings.region):s3", user: credentials.accessKey + ":" + credentials.secretKey)
            if let token = credentials.sessionToken { request.headers.append("x-amz-security-token: " + token) }
        }
        return request
    }

    /// The object's bytes into `sink`.
    static func get(
        _ location: S3Location, _ settings: S3Settings, into sink: @escaping (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Object {
        let response = try perform(request("GET", location, settings), Curl.Transfer(sink: sink))
        return Object(size: response.headers["content-length"].flatMap { UInt64($0) }, etag: response.headers["etag"])
    }

    /// Uploads `size` bytes that `source` gives; `sha256` (hex), when known, is sent for the
    /// store to check as well (`x-amz-checksum-sha256`).
    static func put(
        _ location: S3Location, _ settings: S3Settings, size: UInt64, sha256: String?,
        from source: @escaping (UnsafeMutableRawBufferPointer) throws -> Int
    ) throws {
        var headers = ["Content-Type: application/octet-stream"]
        if let sha256, let digest = Hex.decode(sha256) {
            headers.append("x-amz-checksum-sha256: " + Data(digest).base64EncodedString())
        }
        var put = request("PUT", location, settings, headers: headers)
        put.uploadSize = size
        _ = try perform(put, Curl.Transfer(source: source))
    }

    private static func perform(
        _ request: Curl.Request, _ transfer: Curl.Transfer
    ) throws
        -> Curl.Response
    {
        let response: Curl.Response
        do { response = try Curl.perform(request, transfer) } catch let failure as Curl.Failure {
            throw Downloader.Failure.failed(failure.description)
        }
        try check(response)
        return response
    }

    private static func check(_ response: Curl.Response) throws {
        guard !(200..<300).contains(response.status) else { return }
        throw Downloader.Failure.failed(explain(response))
    }

    /// A response outside 2xx as one line: the store's error code, and what it means here
    /// (the caller names the object).
    static func explain(_ response: Curl.Response) -> String {
        let body = String(decoding: response.errorBody, as: UTF8.self)
        func element(_ name: String) -> String? {
            guard let start = body.range(of: "<\(name)>"),
                let end = body.range(of: "</\(name)>", range: start.upperBound..<body.endIndex)
            else { return nil }
            return String(body[start.upperBound..<end.lowerBound].prefix(200))
        }
        let code = element("Code") ?? "HTTP \(response.status)"
        let meaning =
            switch code {
            case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "AccessDenied",
                "AuthorizationHeaderMalformed":
                "the store refused the credentials (\(code)): check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws/credentials"
            case "NoSuchKey": "no such object"
            case "NoSuchBucket": "no such bucket"
            default: "\(code)\(element("Message").map { ": " + $0 } ?? "")"
            }
        // The store's words are a stranger's: no control characters reach the terminal.
        return String(meaning.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : Character($0) })
    }
}
