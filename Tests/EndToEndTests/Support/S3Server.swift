import Foundation
import TestSupport
import Testing

/// A real S3 protocol server on loopback: PyPI's moto (`moto_server`), started for one test
/// and stopped by its pid. It checks credentials: the first three requests (IAM: a user, its
/// access key, a policy allowing S3) pass unauthenticated, every later one must be signed
/// (AWS Signature V4) with that key.
final class S3Server: Sendable {
    let endpoint: String
    let accessKey: String
    let secretKey: String
    private let pid: Int32

    /// The variables an AWS tool (and mlpack) reads, pointing at this server.
    var environment: [String: String] {
        [
            "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": accessKey, "AWS_SECRET_ACCESS_KEY": secretKey,
            "AWS_REGION": "us-east-1",
        ]
    }

    private init(endpoint: String, accessKey: String, secretKey: String, pid: Int32) {
        self.endpoint = endpoint
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.pid = pid
    }

    static func start(in box: Sandbox, bucket: String) async throws -> S3Server {
        let port = try await must(
            "python3",
            ["-c", #"import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])"#]
        ).out.trimmingCharacters(in: .whitespacesAndNewlines)
        // Started directly, not from a shell: a daemon a shell leaves behind would keep the
        // harness's end of that shell open, and `run` would wait for it.
        let log = box.path("moto.log")
        try writeBytes(log, [])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["moto_server", "-H", "127.0.0.1", "-p", port]
        process.environment = ProcessInfo.processInfo.environment.merging(["INITIAL_NO_AUTH_ACTION_COUNT": "3"]) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardError = process.standardOutput
        do { try process.run() } catch {
            throw TestError("moto_server did not start (scripts/setup.sh installs moto[server]): \(error)")
        }
        let pid = process.processIdentifier
        let endpoint = "http://127.0.0.1:\(port)"
        var ready = false
        for _ in 0..<150 where !ready {
            ready = try await run("curl", ["-fs", "-o", "/dev/null", endpoint + "/moto-api/"]).status == 0
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard ready else {
            kill(pid, SIGKILL)
            throw TestError(
                "moto_server did not answer: \(String(decoding: (try? readBytes(log)) ?? [], as: UTF8.self))")
        }
        // moto routes a signed request by its credential scope: the IAM calls are signed (any key) as iam.
        func iam(_ arguments: [String]) async throws -> String {
            try await must(
                "curl",
                ["-fsS", "--aws-sigv4", "aws:amz:us-east-1:iam", "--user", "setup:setup", endpoint + "/"] + arguments
            ).out
        }
        _ = try await iam(["-d", "Action=CreateUser&UserName=tester&Version=2010-05-08"])
        let key = try await iam(["-d", "Action=CreateAccessKey&UserName=tester&Version=2010-05-08"])
        _ = try await iam([
            "--data-urlencode", "Action=PutUserPolicy", "--data-urlencode", "UserName=tester", "--data-urlencode",
            "PolicyName=s3", "--data-urlencode", "Version=2010-05-08", "--data-urlencode",
            #"PolicyDocument={"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        ])
        func element(_ name: String) throws -> String {
            guard let start = key.range(of: "<\(name)>"), let end = key.range(of: "</\(name)>") else {
                throw TestError("moto's CreateAccessKey answer has no \(name): \(key)")
            }
            return String(key[start.upperBound..<end.lowerBound])
        }
        let server = S3Server(
            endpoint: endpoint, accessKey: try element("AccessKeyId"), secretKey: try element("SecretAccessKey"),
            pid: pid)
        try await server.curl(["-X", "PUT", endpoint + "/" + bucket])
        return server
    }

    /// curl signed with the server's key; fails unless the answer is 2xx.
    @discardableResult
    func curl(_ arguments: [String]) async throws -> ProcessResult {
        try await must(
            "curl",
            [
                "-fsS", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", accessKey + ":" + secretKey, "-H",
                "x-amz-content-sha256: UNSIGNED-PAYLOAD",
            ] + arguments)
    }

    /// No waitUntilExit: on Linux it spins the run loop of a cooperative thread.
    func stop() { kill(pid, SIGKILL) }

    /// Runs `body` with a server holding `bucket`, stopped afterwards whatever happens.
    static func with<T>(in box: Sandbox, bucket: String, _ body: (S3Server) async throws -> T) async throws -> T {
        let server = try await start(in: box, bucket: bucket)
        defer { server.stop() }
        return try await body(server)
    }
}
