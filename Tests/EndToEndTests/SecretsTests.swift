import Foundation
import TestSupport
import Testing

/// No secret reaches a public pack: command-line secrets, a tracked `.env`, credentials in
/// a data URI; and a rebuild of a command whose secret was replaced gets it from the reviewer.
@Suite("Secrets")
struct SecretsTests: RebuildSuite {
    /// Secrets unique to one test run, so finding one means it leaked.
    struct Planted {
        let apiKey = "sk-live-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let password = "pw" + UUID().uuidString.prefix(13).replacingOccurrences(of: "-", with: "")
        let envToken = "envtok-" + UUID().uuidString.prefix(8)
        var all: [String] { [apiKey, password, envToken, "API_TOKEN=", "u:p@"] }
    }

    static let script = """
        import hashlib, sys
        args = sys.argv[1:]
        key = args[args.index("--api-key") + 1]
        password = [a.split("=", 1)[1] for a in args if a.startswith("--password=")][0]
        open("model.weights", "w").write(hashlib.sha256((key + password).encode()).hexdigest() + "\\n")

        """

    /// A git project with a tracked `.env`, and one recorded run given secrets on its command line.
    func recordedProject(in box: Sandbox, _ planted: Planted) async throws -> (root: String, run: ProcessResult) {
        let root = try await project(
            in: box,
            [
                "train.py": Self.script, ".env": "API_TOKEN=\(planted.envToken)\n", ".gitignore": "*.weights\n",
            ])
        let run = try await mlpack(
            ["run", "--", "python3", "train.py", "--api-key", planted.apiKey, "--password=\(planted.password)"],
            cwd: root)
        guard run.status == 0 else { throw TestError("mlpack run: \(run)") }
        return (root, run)
    }

    func publicStream(of pack: String, in box: Sandbox) async throws -> (stream: Data, redact: ProcessResult) {
        try await must(
            try Repo.mlpackBinary(), ["key", "generate", "--output", box.path("redactor")],
            environment: ["MLPACK_PASSWORD": "pw"])
        let published = box.path("public.mlpack")
        let redact = try await mlpack(
            ["redact", pack, "--output", published, "--public", "--key", box.path("redactor.key"), "--json"],
            environment: ["MLPACK_PASSWORD": "pw"])
        guard redact.status == 0 else { throw TestError("redact: \(redact)") }
        let verify = try await mlpack(["verify", published, "--key", box.path("redactor.pub"), "--allow-unsigned"])
        #expect(verify.status == 0, "\(verify)")
        return (try await must("zstd", ["-dc", published]).stdout, redact)
    }

    @Test("run, create and redact --public: no secret anywhere in the public pack")
    func noSecretInPublicPack() async throws {
        try await withSandbox { box in
            let planted = Planted()
            let (root, run) = try await recordedProject(in: box, planted)
            #expect(run.err.contains("recorded as ${MLPACK_SECRET_API_KEY}"), "\(run)")
            #expect(run.err.contains("recorded as ${MLPACK_SECRET_PASSWORD}"), "\(run)")
            #expect(run.err.contains(".env: left out"), "\(run)")
            let name = try #require(try FileManager.default.contentsOfDirectory(atPath: root + "/.mlpack/runs").first)
            let record = String(decoding: try readBytes(root + "/.mlpack/runs/" + name), as: UTF8.self)
            #expect(!record.contains(planted.apiKey) && !record.contains(planted.password), "\(record)")

            try box.write("extra/x.csv", "a,b\n1,2\n")
            let pack = box.path("internal.mlpack")
            let create = try await mlpack(
                [
                    "create", "--output", pack, "--output-of", root + "/model.weights", "--code", root, "--data",
                    "x=\(box.path("extra"))", "--data-uri", "x=https://u:p@host.example/x", "--unsigned",
                ], cwd: root)
            #expect(create.status == 0, "\(create)")
            #expect(create.err.contains(".env: left out"), "\(create)")
            #expect(create.err.contains("credentials taken out of its URI"), "\(create)")

            let (stream, _) = try await publicStream(of: pack, in: box)
            #expect(stream.range(of: Data("https://host.example/x".utf8)) != nil, "the URI stays, without credentials")
            for secret in planted.all {
                #expect(stream.range(of: Data(secret.utf8)) == nil, "\(secret) is in the public pack")
            }
        }
    }

    @Test("redact --public scrubs what an older version recorded, and a code snapshot that included .env")
    func olderPacksScrubbed() async throws {
        try await withSandbox { box in
            let planted = Planted()
            let (root, _) = try await recordedProject(in: box, planted)
            // As recorded before the rules: the secrets in the argv.
            try editRecord(in: root) { record in
                record["argv"] = [
                    "python3", "train.py", "--api-key", planted.apiKey, "--password=\(planted.password)",
                    "--mirror", "https://u:p@host.example/x",
                ]
            }
            // And a variable with an allowed name but a secret value in its environment capture.
            let environments = root + "/.mlpack/env"
            let environment = try #require(try FileManager.default.contentsOfDirectory(atPath: environments).first)
            var platform = try json(environments + "/" + environment + "/platform.json")
            platform["environment"] = ["TF_PWD": planted.envToken, "OMP_NUM_THREADS": "1"]
            try writeBytes(
                environments + "/" + environment + "/platform.json",
                Array(try JSONSerialization.data(withJSONObject: platform, options: [.sortedKeys])))
            let pack = box.path("internal.mlpack")
            let create = try await mlpack(
                [
                    "create", "--output", pack, "--output-of", root + "/model.weights", "--code", root, "--include",
                    ".env", "--unsigned",
                ], cwd: root)
            #expect(create.status == 0, "\(create)")
            #expect(!create.err.contains(".env: left out"), "an include names it: \(create)")
            let internalStream = try await must("zstd", ["-dc", pack]).stdout
            for secret in [planted.apiKey, planted.envToken, "u:p@"] {
                #expect(internalStream.range(of: Data(secret.utf8)) != nil, "\(secret) should be in the internal pack")
            }

            let (stream, redact) = try await publicStream(of: pack, in: box)
            for secret in planted.all {
                #expect(stream.range(of: Data(secret.utf8)) == nil, "\(secret) is in the public pack")
            }
            let report = try #require(try JSONSerialization.jsonObject(with: redact.stdout) as? [String: Any])
            let withheld = (report["withheld"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
            #expect(withheld.contains { $0.hasSuffix("/.env") }, "\(withheld)")
            let rewritten = (report["rewritten"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
            #expect(rewritten.contains { $0.hasSuffix("/platform.json") }, "\(rewritten)")
            #expect(stream.range(of: Data("OMP_NUM_THREADS".utf8)) != nil, "a numerics variable stays")
            let secrets = (report["rewritten"] as? [[String: Any]] ?? []).flatMap {
                ($0["secrets"] as? [[String: Any]] ?? []).compactMap { $0["placeholder"] as? String }
            }
            #expect(
                Set(secrets) == [
                    "${MLPACK_SECRET_API_KEY}", "${MLPACK_SECRET_PASSWORD}", "${MLPACK_SECRET_ARG6_USERINFO}",
                ], "\(report)")
        }
    }

    static let hasStrace = ["/usr/bin/strace", "/bin/strace", "/usr/local/bin/strace"].contains {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    @Test(
        "--trace records ~/.netrc and a project .env by path only: no size, no digest",
        .enabled(if: hasStrace, "strace is not installed (scripts/setup.sh installs it)"))
    func tracedSecretsByPathOnly() async throws {
        try await withSandbox { box in
            let planted = Planted()
            let home = try box.mkdir("home")
            let netrc = try box.write("home/.netrc", "machine host.example login u password \(planted.password)\n")
            let root = try await project(
                in: box, ["read.py": "import os, sys\nfor p in sys.argv[1:]: open(p).read()\n", ".env": "A=1\n"])
            let run = try await mlpack(
                ["run", "--", "python3", "read.py", netrc, ".env"], cwd: root, environment: ["HOME": home])
            #expect(run.status == 0, "\(run)")
            let name = try #require(try FileManager.default.contentsOfDirectory(atPath: root + "/.mlpack/runs").first)
            let record = try #require(
                try JSONSerialization.jsonObject(with: Data(readBytes(root + "/.mlpack/runs/" + name)))
                    as? [String: Any])
            #expect(record["privateReads"] as? [String] == ["~/.netrc", ".env"], "\(record)")
            #expect((record["inputs"] as? [Any])?.isEmpty == true, "\(record)")
            let text = String(decoding: try readBytes(root + "/.mlpack/runs/" + name), as: UTF8.self)
            for digest in [try await sha256sum(netrc), try await sha256sum(root + "/.env")] {
                #expect(!text.contains(digest), "a digest of a secret file is in the record")
            }
        }
    }

    @Test("a rebuild fills the placeholder from --secret or the environment, and names a missing secret")
    func rebuildWithSecret() async throws {
        try await withSandbox { box in
            let planted = Planted()
            let (root, _) = try await recordedProject(in: box, planted)
            let pack = box.path("p.mlpack")
            try await create(pack, from: root, of: root + "/model.weights")
            let arguments = [
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--cache", box.path("cache"),
            ]

            let missing = try await mlpack(arguments)
            #expect(missing.status == 2, "\(missing)")
            #expect(missing.err.contains("MLPACK_SECRET_API_KEY, MLPACK_SECRET_PASSWORD"), "\(missing)")
            #expect(missing.err.contains("--secret"), "\(missing)")

            let given = try await mlpack(
                arguments + [
                    "--secret", "MLPACK_SECRET_API_KEY=\(planted.apiKey)", "--secret",
                    "MLPACK_SECRET_PASSWORD=\(planted.password)",
                ])
            #expect(given.status == 0, "\(given)")
            #expect(given.out.contains("result: REPRODUCED"), "\(given)")
            #expect(!given.out.contains(planted.apiKey), "the report shows the placeholder")

            let fromEnvironment = try await mlpack(
                arguments + ["--secret", "MLPACK_SECRET_PASSWORD=\(planted.password)"],
                environment: ["MLPACK_SECRET_API_KEY": planted.apiKey])
            #expect(fromEnvironment.status == 0, "\(fromEnvironment)")

            let wrong = try await mlpack(
                arguments + ["--secret", "MLPACK_SECRET_API_KEY=other", "--secret", "MLPACK_SECRET_PASSWORD=other"])
            #expect(wrong.status == 4, "another secret gives other weights: \(wrong)")
        }
    }
}
