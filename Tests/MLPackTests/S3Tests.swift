import Foundation
import TestSupport
import Testing

@testable import MLPack

@Suite("s3:// locations and settings")
struct S3Tests {
    @Test("s3://BUCKET/KEY: the key percent-decoded, bucket names that cannot become another host refused")
    func locations() throws {
        let location = try #require(S3Location("s3://my.bucket-1/data/part%203/na%C3%AFve.txt"))
        #expect(location.bucket == "my.bucket-1")
        #expect(location.key == "data/part 3/naïve.txt")
        #expect(location.uri == "s3://my.bucket-1/data/part%203/na%C3%AFve.txt")
        #expect(S3Location("s3://bucket/cifar/")?.appending("a b/c.txt").key == "cifar/a b/c.txt")
        #expect(S3Location("s3://bucket")?.key == nil)
        for bad in [
            "s3://b/key", "s3://Bucket/key", "s3://bucket@evil.org/key", "s3://bucket:80/key", "s3://bu/cket",
            "https://bucket/key", "s3://bucket/%00", "s3://" + String(repeating: "a", count: 64) + "/k",
        ] {
            #expect(S3Location(bad) == nil, "\(bad)")
        }
        #expect(S3Location.escape("a+b/c=d&e/日本") == "a%2Bb/c%3Dd%26e/%E6%97%A5%E6%9C%AC")
    }

    @Test("an endpoint gives path-style URLs; AWS virtual-hosted ones in the region")
    func urls() throws {
        let custom = try S3Settings(
            host: Host(environment: ["AWS_ENDPOINT_URL": "http://127.0.0.1:9000/"], workingDirectory: "/"))
        let location = try #require(S3Location("s3://bucket/a%20b.txt"))
        #expect(S3.url(location, custom) == "http://127.0.0.1:9000/bucket/a%20b.txt")
        let aws = try S3Settings(host: Host(environment: ["AWS_REGION": "eu-west-1"], workingDirectory: "/"))
        #expect(S3.url(location, aws) == "https://bucket.s3.eu-west-1.amazonaws.com/a%20b.txt")
        #expect(throws: MLPackError.self) {
            try S3Settings(host: Host(environment: [:], workingDirectory: "/"), endpoint: "http://example.org")
        }
        #expect(throws: MLPackError.self) {
            try S3Settings(host: Host(environment: [:], workingDirectory: "/"), endpoint: "ftp://127.0.0.1")
        }
    }

    @Test("credentials: variables first, else the named profile of the credentials file; never in a description")
    func credentials() throws {
        try withTemporaryDirectory { folder in
            try writeBytes(
                folder.path("credentials"),
                Array(
                    "[default]\naws_access_key_id=AKDEFAULT\naws_secret_access_key = s3cr3t-default\n# a comment\n[paper]\n aws_access_key_id = AKPAPER\naws_secret_access_key=s3cr3t-paper\naws_session_token = tok\n"
                        .utf8))
            func settings(_ environment: [String: String]) throws -> S3Settings {
                try S3Settings(
                    host: Host(
                        environment: environment.merging(["AWS_SHARED_CREDENTIALS_FILE": folder.path("credentials")]) {
                            $1
                        }, workingDirectory: "/"))
            }
            let location = try #require(S3Location("s3://bucket/k"))
            func signing(_ settings: S3Settings) -> String? {
                S3.request("GET", location, settings).signing?.user
            }
            #expect(signing(try settings([:])) == "AKDEFAULT:s3cr3t-default")
            #expect(signing(try settings(["AWS_PROFILE": "paper"])) == "AKPAPER:s3cr3t-paper")
            #expect(
                S3.request("GET", location, try settings(["AWS_PROFILE": "paper"])).headers.contains(
                    "x-amz-security-token: tok"))
            #expect(
                signing(try settings(["AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "env"])) == "AKENV:env")
            #expect(throws: MLPackError.self) { try settings(["AWS_PROFILE": "missing"]) }
            let request = S3.request("GET", location, try settings([:]))
            #expect(!"\(request)".contains("s3cr3t"), "a request's description holds no secret")
            // No file, no variables: unsigned.
            let anonymous = try S3Settings(
                host: Host(environment: ["HOME": folder.path("nobody")], workingDirectory: "/"))
            #expect(S3.request("GET", location, anonymous).signing == nil)
        }
    }
}
