import Foundation
import TestSupport
import Testing

/// `s3://` data references against a real S3 protocol server on loopback (moto, with
/// credentials checked): `data push` publishes a dataset, `fetch` brings it into an empty
/// cache, and wrong credentials, changed objects and leaks are caught.
@Suite("Data on an object store (s3://)")
struct ObjectStoreTests {
    /// A 1,000-file dataset outside any project, some names with spaces and non-ASCII letters.
    private func dataset(in box: Sandbox) throws -> String {
        for index in 0..<1000 {
            let name = index % 100 == 7 ? "part \(index / 100)/naïve \(index).txt" : "part \(index / 100)/\(index).txt"
            try box.write("dataset/" + name, "sample \(index)\n" + String(repeating: "x", count: index % 97))
        }
        return box.path("dataset")
    }

    /// A pack naming the dataset by hash, with `s3://bucket/cifar/` as where reviewers get it.
    private func pack(in box: Sandbox, data: String, environment: [String: String]) async throws -> String {
        let code = try box.mkdir("code")
        try box.write("code/train.py", "print('train')\n")
        let pack = box.path("paper.mlpack")
        let created = try await mlpack(
            [
                "create", "-o", pack, "--code", code, "--data", "cifar=" + data, "--data-uri",
                "cifar=s3://bucket/cifar/", "--unsigned", "-q",
            ], environment: environment)
        guard created.status == 0 else { throw TestError("create: \(created)") }
        return pack
    }

    /// The dataset packed and pushed to `s3://bucket/cifar/`, then moved away from where the
    /// pack says it lay (to `elsewhere`): a fetch must go to the store.
    private func published(in box: Sandbox, on server: S3Server) async throws -> (pack: String, data: String) {
        let data = try dataset(in: box)
        let pack = try await pack(in: box, data: data, environment: server.environment)
        let pushed = try await mlpack(
            ["data", "push", pack, "cifar", "s3://bucket/cifar/"], environment: server.environment)
        guard pushed.status == 0 else { throw TestError("data push: \(pushed)") }
        try FileManager.default.moveItem(atPath: data, toPath: box.path("elsewhere"))
        return (pack, data)
    }

    private func blobs(_ cache: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: cache + "/blobs/sha256")) ?? []
    }

    @Test("a 1,000-file dataset pushed with data push, fetched into an empty cache from s3:// and verified")
    func pushAndFetch() async throws {
        try await withSandbox { box in
            try await S3Server.with(in: box, bucket: "bucket") { server in
                let data = try dataset(in: box)
                let pack = try await pack(in: box, data: data, environment: server.environment)

                let pushed = try await mlpack(
                    ["data", "push", pack, "cifar", "s3://bucket/cifar/"], environment: server.environment)
                #expect(pushed.status == 0, "\(pushed)")
                #expect(pushed.out.contains("pushed cifar: 1000 files"), "\(pushed)")
                #expect(!pushed.err.contains("does not name"), "the pack names that URI: no warning")
                let listed = try await server.curl([
                    server.endpoint + "/bucket?list-type=2&max-keys=1000&prefix=cifar%2F"
                ])
                #expect(listed.out.components(separatedBy: "<Key>").count - 1 == 1000)
                let one = try await server.curl([server.endpoint + "/bucket/cifar/part%203/naïve%20307.txt"])
                #expect(one.out.hasPrefix("sample 307\n"))

                // The reviewer has no copy: the author's folder is gone from this machine.
                try FileManager.default.moveItem(atPath: data, toPath: box.path("elsewhere"))
                let cache = box.path("cache")
                let fetched = try await mlpack(
                    ["fetch", pack, "--cache", cache, "--json"], environment: server.environment)
                #expect(fetched.status == 0, "\(fetched)")
                let report = try #require(try JSONSerialization.jsonObject(with: fetched.stdout) as? [String: Any])
                let reference = try #require((report["references"] as? [[String: Any]])?.first)
                #expect(reference["status"] as? String == "fetched")
                #expect(reference["sources"] as? [String] == ["s3://bucket/cifar/"])
                #expect(blobs(cache).count == 1000)
                let verified = try await mlpack(
                    ["verify", pack, "--allow-unsigned", "--data", "--cache", cache], environment: server.environment)
                #expect(verified.status == 0, "\(verified)")

                // The secret is nowhere: not in the pack, the outputs, the cache.
                for (what, bytes) in [
                    ("the pack", try readBytes(pack)), ("push's output", Array(pushed.stdout + pushed.stderr)),
                    ("fetch's output", Array(fetched.stdout + fetched.stderr)),
                ] {
                    #expect(
                        !String(decoding: bytes, as: UTF8.self).contains(server.secretKey),
                        "\(what) holds the secret key")
                }
                let everything = try await run("grep", ["-rl", server.secretKey, cache, box.path("code")])
                #expect(everything.out.isEmpty, "files holding the secret: \(everything.out)")
            }
        }
    }

    @Test("wrong credentials: one clear line, exit 2, nothing cached, no secret shown")
    func wrongCredentials() async throws {
        try await withSandbox { box in
            try await S3Server.with(in: box, bucket: "bucket") { server in
                let (pack, _) = try await published(in: box, on: server)

                var wrong = server.environment
                wrong["AWS_SECRET_ACCESS_KEY"] = "not-the-secret-\(UUID().uuidString)"
                let cache = box.path("cache")
                let refused = try await mlpack(["fetch", pack, "--cache", cache], environment: wrong)
                #expect(refused.status == 2, "\(refused)")
                #expect(refused.errLines.count == 1, "one line: \(refused.err)")
                #expect(refused.err.contains("the store refused the credentials (SignatureDoesNotMatch)"))
                #expect(
                    !refused.err.contains(wrong["AWS_SECRET_ACCESS_KEY"]!) && !refused.err.contains(server.secretKey))
                #expect(blobs(cache).isEmpty, "nothing cached")

                var unknown = server.environment
                unknown["AWS_ACCESS_KEY_ID"] = "AKIAUNKNOWN000000000"
                let push = try await mlpack(
                    ["data", "push", pack, "cifar", "s3://bucket/cifar/", "--data", box.path("elsewhere")],
                    environment: unknown)
                #expect(push.status == 2 && push.err.contains("InvalidAccessKeyId"), "\(push)")

                // A credentials file and profile instead of variables.
                try box.write(
                    "aws/credentials",
                    "[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n[paper]\naws_access_key_id = \(server.accessKey)\naws_secret_access_key = \(server.secretKey)\n"
                )
                let profile = [
                    "AWS_ENDPOINT_URL": server.endpoint, "AWS_SHARED_CREDENTIALS_FILE": box.path("aws/credentials"),
                    "AWS_PROFILE": "paper", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
                ]
                let byProfile = try await mlpack(["fetch", pack, "--cache", cache], environment: profile)
                #expect(byProfile.status == 0, "\(byProfile)")
            }
        }
    }

    @Test("an object changed on the server is refused and nothing of the reference is left in the cache")
    func changedObject() async throws {
        try await withSandbox { box in
            try await S3Server.with(in: box, bucket: "bucket") { server in
                let (pack, data) = try await published(in: box, on: server)
                try box.write("tampered.txt", "sample 512, poisoned\n")
                try await server.curl([
                    "-X", "PUT", "-H", "Content-Type: application/octet-stream", "-T", box.path("tampered.txt"),
                    server.endpoint + "/bucket/cifar/part%205/512.txt",
                ])
                let cache = box.path("cache")
                let refused = try await mlpack(["fetch", pack, "--cache", cache], environment: server.environment)
                #expect(refused.status != 0, "\(refused)")
                #expect(
                    refused.err.contains("part 5/512.txt") && refused.err.contains("served different bytes"),
                    "\(refused)")
                #expect(blobs(cache).isEmpty, "no file of the reference is published")
                #expect(((try? FileManager.default.contentsOfDirectory(atPath: cache + "/tmp")) ?? []).isEmpty)

                // Pushing a changed local file stops before the object is complete.
                try FileManager.default.moveItem(atPath: box.path("elsewhere"), toPath: data)
                try box.write("dataset/part 9/901.txt", "sample 901\n" + String(repeating: "y", count: 901 % 97))
                let push = try await mlpack(
                    ["data", "push", pack, "cifar", "s3://bucket/other/"], environment: server.environment)
                #expect(push.status == 1, "\(push)")
                #expect(push.err.contains("changed since the pack was made"), "\(push)")
                let missing = try await run(
                    "curl",
                    [
                        "-s", "-o", "/dev/null", "-w", "%{http_code}", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user",
                        server.accessKey + ":" + server.secretKey, "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                        server.endpoint + "/bucket/other/part%209/901.txt",
                    ])
                #expect(missing.out == "404", "the changed file was not uploaded")
            }
        }
    }

    @Test(
        "bad s3 input: a malformed URI, a folder pushed to a key, an unknown reference, an http endpoint off loopback")
    func badInput() async throws {
        try await withSandbox { box in
            let data = try dataset(in: box)
            let env = ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"]
            let pack = try await pack(in: box, data: data, environment: env)
            for (arguments, message) in [
                (["data", "push", pack, "cifar", "s3://Bad_Bucket/x/"], "give an s3://BUCKET/KEY"),
                (["data", "push", pack, "cifar", "s3://bucket/one-key"], "is a folder: give a prefix ending in /"),
                (["data", "push", pack, "nope", "s3://bucket/x/"], "has no data reference nope (it has: cifar)"),
                (
                    ["data", "push", pack, "cifar", "s3://bucket/x/", "--s3-endpoint", "http://example.org"],
                    "give an https:// URL (http:// only on loopback)"
                ),
            ] {
                let result = try await mlpack(arguments, environment: env)
                #expect(result.status == 2 && result.errLines.count == 1 && result.err.contains(message), "\(result)")
            }
            let created = try await mlpack(
                ["create", "-o", box.path("x.mlpack"), "--data", "d=" + data, "--data-uri", "d=s3://b/", "--unsigned"])
            #expect(created.status == 2 && created.err.contains("s3://BUCKET/KEY"), "\(created)")
        }
    }
}
