import Testing

@testable import MLPack

@Suite("Secret scrubbing")
struct SecretScrubberTests {
    static let token = "sk-live-4f9c2a7be1d04c6f"

    @Test(
        "A secret option's value becomes a placeholder, in both forms",
        arguments: [
            (["--api-key", token], ["--api-key", "${MLPACK_SECRET_API_KEY}"]),
            (["--api-key=\(token)"], ["--api-key=${MLPACK_SECRET_API_KEY}"]),
            (["--password=hunter2"], ["--password=${MLPACK_SECRET_PASSWORD}"]),
            (["--password", "123456"], ["--password", "${MLPACK_SECRET_PASSWORD}"]),
            (["--hf_token", "abc"], ["--hf_token", "${MLPACK_SECRET_HF_TOKEN}"]),
            (["--authToken", "abc"], ["--authToken", "${MLPACK_SECRET_AUTH_TOKEN}"]),
            (["--auth", "bob:pw"], ["--auth", "${MLPACK_SECRET_AUTH}"]),
            (["--client-secret", "s3cr3t"], ["--client-secret", "${MLPACK_SECRET_CLIENT_SECRET}"]),
            (["db.password=pw"], ["db.password=${MLPACK_SECRET_DB_PASSWORD}"]),
            (["--pass", "pw"], ["--pass", "${MLPACK_SECRET_PASS}"]),
        ])
    func optionValues(arguments: [String], expected: [String]) {
        let scrubbed = SecretScrubber.scrub(argv: ["python3"] + arguments)
        #expect(scrubbed.argv == ["python3"] + expected)
        #expect(scrubbed.replacements.count == 1)
    }

    @Test(
        "Look-alikes and numbers are not secrets",
        arguments: [
            ["--learning-rate", "0.1"], ["--keyframes", "3"], ["--keyframes", "a,b"], ["--passes", "3"],
            ["--max-tokens", "512"], ["--tokenizer", "gpt2"], ["--author", "Jane"], ["--key-frames", "3"],
            ["--use-auth-token", "true"], ["--token-budget=4096"], ["--api-key", "--verbose"], ["sk-learn"],
            ["data=train.csv"], ["--out", "checkpoints/pre.safetensors"], ["git@github.com:org/repo.git"],
            ["https://example.org/data?x=1"], ["--api-key=${MLPACK_SECRET_API_KEY}"],
        ])
    func notSecrets(arguments: [String]) {
        let scrubbed = SecretScrubber.scrub(argv: ["python3"] + arguments)
        #expect(scrubbed.argv == ["python3"] + arguments)
        #expect(scrubbed.replacements.isEmpty)
    }

    @Test("Tokens anywhere and URL credentials are replaced; the program is not; twice changes nothing")
    func anywhere() {
        let argv = [
            "python3", "train.py", Self.token, "--url", "https://u:p@host.example/x", "--mirror=https://tok@h/y",
            "--server", "alice:pw@db.internal", "--password=x", "--password=y",
        ]
        let scrubbed = SecretScrubber.scrub(argv: argv)
        #expect(
            scrubbed.argv == [
                "python3", "train.py", "${MLPACK_SECRET_ARG2}", "--url",
                "https://${MLPACK_SECRET_ARG4_USERINFO}@host.example/x",
                "--mirror=https://${MLPACK_SECRET_ARG5_USERINFO}@h/y",
                "--server", "${MLPACK_SECRET_ARG7_USERINFO}@db.internal", "--password=${MLPACK_SECRET_PASSWORD}",
                "--password=${MLPACK_SECRET_PASSWORD_2}",
            ])
        #expect(scrubbed.replacements.map(\.argument) == [2, 4, 5, 7, 8, 9])
        #expect(scrubbed.replacements[0].what == "a token")
        #expect(scrubbed.replacements[1].what == "credentials in a URL")
        #expect(scrubbed.replacements[4].what == "the value of --password")
        let again = SecretScrubber.scrub(argv: scrubbed.argv)
        #expect(again.argv == scrubbed.argv && again.replacements.isEmpty)
    }

    @Test("Placeholders are filled from the secrets given; the missing ones are named")
    func fill() {
        let argv = ["python3", "--api-key=${MLPACK_SECRET_API_KEY}", "https://${MLPACK_SECRET_ARG2_USERINFO}@h/x"]
        let filled = SecretScrubber.fill(
            argv, from: ["MLPACK_SECRET_API_KEY": "k1", "MLPACK_SECRET_ARG2_USERINFO": "u:p"])
        #expect(filled.argv == ["python3", "--api-key=k1", "https://u:p@h/x"])
        #expect(filled.missing.isEmpty)
        #expect(
            SecretScrubber.fill(argv, from: [:]).missing == ["MLPACK_SECRET_API_KEY", "MLPACK_SECRET_ARG2_USERINFO"])
    }

    @Test("URIs lose their credentials")
    func uris() {
        #expect(SecretScrubber.withoutCredentials("https://u:p@host/x") == "https://host/x")
        #expect(SecretScrubber.withoutCredentials("https://token@host/x?a=b") == "https://host/x?a=b")
        #expect(SecretScrubber.withoutCredentials("https://host/x") == nil)
        #expect(SecretScrubber.withoutCredentials("https://host/x@y") == nil)
    }

    @Test(
        "Files named like secrets",
        arguments: [
            (".env", true), ("config/.env.production", true), (".netrc", true), ("certs/server.pem", true),
            ("keys/author.key", true), ("id_rsa", true), ("deploy/id_ed25519", true), (".env.example", false),
            ("id_utils.py", false), ("train.py", false), ("environment.yml", false), ("keyframes.py", false),
            ("id_rsa.pub", false),
        ])
    func secretFiles(path: String, secret: Bool) {
        #expect(SecretScrubber.isSecretFile(path) == secret, "\(path)")
    }

    @Test(
        "A variable with an allowed name but a secret value is dropped",
        arguments: [
            ("TF_PWD", "hunter2"), ("JAX_SERVICE", "user:pw@host"), ("TORCH_MIRROR", "https://u:p@h.example/x"),
            ("TF_THING", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ])
    func secretVariables(name: String, value: String) {
        #expect(EnvironmentVariables.filter([name: value], home: "/home/alice").isEmpty, "\(name)=\(value) kept")
    }

    @Test("Traced reads of the home folder outside the project, or of secret files, are kept by path only")
    func privateReads() {
        let home = "/home/alice"
        #expect(ReadTrace.pathOnly("/home/alice/.netrc", recorded: "/home/alice/.netrc", home: home) == "~/.netrc")
        #expect(ReadTrace.pathOnly("/home/alice/p/.env", recorded: ".env", home: home) == ".env")
        #expect(ReadTrace.pathOnly("/home/alice/p/data.csv", recorded: "data.csv", home: home) == nil)
        #expect(ReadTrace.pathOnly("/data/train.csv", recorded: "/data/train.csv", home: home) == nil)
        let traced = RunRecorder.tracedInputs(
            ["/home/alice/.netrc"], root: "/home/alice/p", pythonPrefixes: [],
            code: .init(treeDigest: "", files: [], git: nil), known: [], outputs: [], home: home, warn: { _ in })
        #expect(traced.inputs.isEmpty)
        #expect(traced.privateReads == ["~/.netrc"])
    }
}
