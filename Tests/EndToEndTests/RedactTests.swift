import Foundation
import TestSupport
import Testing

/// `mlpack redact`: publishing a pack without private history while the author's signature
/// keeps vouching for what remains.
@Suite("Redaction")
struct RedactTests {
    static let password = "redact-test-password"
    /// Distinctive strings planted in private places; none may survive `redact --public`.
    static let marker = "MARKER-5e1f-lab-notebook"
    static let user = "alice-7f3a"
    static let host = "build-node-7f3a.internal.example"

    struct Internal {
        var home: String
        var project: String
        var pack: String
        var key: String
        var finalRun: String
        var sideRun: String
        var environment: [String: String]
    }

    /// A real recorded project under a planted home folder: pretrain, an uncommitted edit,
    /// fine-tune, and a failed side experiment; an internal pack of the fine-tuned weights'
    /// lineage plus the side experiment, a note with the markers, signed by the author.
    func makeInternalPack(in box: Sandbox) async throws -> Internal {
        let home = try box.mkdir("home/\(Self.user)")
        let environment = ["HOME": home, "MLPACK_PASSWORD": Self.password]
        let project = try box.mkdir("home/\(Self.user)/project")
        try box.write(
            "home/\(Self.user)/project/train.py",
            """
            import hashlib, os, sys
            args = dict(a.split("=", 1) for a in sys.argv[1:])
            if "fail" in args:
                sys.exit("diverged: loss is nan")
            data = b"".join(open(p, "rb").read() for p in args["data"].split(","))
            init = open(args["init"], "rb").read() if "init" in args else b""
            os.makedirs(os.path.dirname(args["out"]) or ".", exist_ok=True)
            open(args["out"], "w").write(hashlib.sha256(data + init + b"v1").hexdigest() + "\\n")

            """)
        try box.write("home/\(Self.user)/project/.gitignore", "ckpt/\n*.weights\n")
        try box.write("home/\(Self.user)/project/train.csv", "x,y\n1,2\n")
        // Data outside the project: its absolute path (in the home folder) lands in the records.
        let external = try box.write("home/\(Self.user)/datasets/extra.csv", "x,y\n5,6\n")
        for arguments in [
            ["init", "-q"], ["add", "-A"],
            ["-c", "user.name=A", "-c", "user.email=a@example.org", "commit", "-qm", "v1"],
        ] {
            try await must("git", arguments, cwd: project)
        }
        func record(_ name: String, _ arguments: [String], expect status: Int32 = 0) async throws -> String {
            let result = try await mlpack(["run", "--name", name] + arguments, cwd: project, environment: environment)
            guard result.status == status, let line = result.errLines.last,
                let range = line.range(of: #"run (\S+) "#, options: .regularExpression)
            else {
                throw TestError("mlpack run \(name): \(result)")
            }
            return String(line[range].dropFirst(4).dropLast())
        }
        _ = try await record(
            "pretrain",
            [
                "-i", "train.csv", "-i", external, "--", "python3", "train.py", "data=train.csv,\(external)",
                "out=ckpt/pre.weights",
            ])
        try box.write(
            "home/\(Self.user)/project/train.py",
            String(decoding: try readBytes(project + "/train.py"), as: UTF8.self).replacingOccurrences(
                of: "b\"v1\"", with: "b\"v2\""))
        let finalRun = try await record(
            "finetune",
            [
                "-i", "train.csv", "-i", "ckpt/pre.weights", "--", "python3", "train.py", "data=train.csv",
                "init=ckpt/pre.weights", "out=final.weights",
            ])
        let sideRun = try await record(
            "side-experiment", ["--", "python3", "train.py", "data=train.csv", "out=side.weights", "fail=1"], expect: 1)

        try await must(
            try Repo.mlpackBinary(), ["key", "generate", "--output", box.path("author")], environment: environment)
        let note = try box.write(
            "notes.md",
            "\(Self.marker)\nran on \(Self.host) as \(Self.user), data in \(home)/datasets\nthe side experiment diverged\n"
        )
        let pack = box.path("internal.mlpack")
        let create = try await mlpack(
            [
                "create", "--output", pack, "--output-of", project + "/final.weights", "--run", sideRun, "--note", note,
                "--key", box.path("author.key"), "--name", "paper",
            ], cwd: project, environment: environment)
        guard create.status == 0 else { throw TestError("create: \(create)") }
        return Internal(
            home: home, project: project, pack: pack, key: box.path("author"), finalRun: finalRun, sideRun: sideRun,
            environment: environment)
    }

    @Test("redact --public: no marker, host, home path or side experiment is left; the signatures verify")
    func publish() async throws {
        try await withSandbox { box in
            let source = try await makeInternalPack(in: box)
            // The internal pack does hold all of it.
            let internalStream = try await must("zstd", ["-dc", source.pack]).stdout
            for planted in [Self.marker, Self.user, source.sideRun] {
                #expect(
                    internalStream.range(of: Data(planted.utf8)) != nil, "\(planted) should be in the internal pack")
            }

            let dry = try await mlpack([
                "redact", source.pack, "--output", box.path("public.mlpack"), "--public", "--dry-run", "--json",
            ])
            #expect(dry.status == 0, "\(dry)")
            #expect(!exists(box.path("public.mlpack")), "--dry-run writes nothing")
            let plan = try #require(try JSONSerialization.jsonObject(with: dry.stdout) as? [String: Any])
            let withheld = (plan["withheld"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
            #expect(withheld.contains("notes/notes.md"))
            #expect(withheld.contains("runs/\(source.sideRun).json"))
            #expect(withheld.contains { $0.hasSuffix("/host.json") })
            #expect(
                !((plan["rewritten"] as? [Any]) ?? []).isEmpty,
                "the pretrain record holds home paths: it must be rewritten")

            let withoutKey = try await mlpack([
                "redact", source.pack, "--output", box.path("public.mlpack"), "--public",
            ])
            #expect(withoutKey.status == 2, "\(withoutKey)")
            #expect(withoutKey.err.contains("--key"))

            let published = box.path("public.mlpack")
            let redact = try await mlpack(
                ["redact", source.pack, "--output", published, "--public", "--key", source.key + ".key"],
                environment: source.environment)
            #expect(redact.status == 0, "\(redact)")

            let stream = try await must("zstd", ["-dc", published]).stdout
            let file = Data(try readBytes(published))
            for planted in [
                Self.marker, Self.user, Self.host, source.sideRun, "side-experiment", "side.weights", source.home,
            ] {
                #expect(stream.range(of: Data(planted.utf8)) == nil, "\(planted) survived in the tar stream")
                #expect(file.range(of: Data(planted.utf8)) == nil, "\(planted) survived in the pack file")
            }

            let verify = try await mlpack(["verify", published, "--key", source.key + ".pub", "--json"])
            #expect(verify.status == 0, "\(verify)")
            let report = try #require(try JSONSerialization.jsonObject(with: verify.stdout) as? [String: Any])
            let provenance = try #require(report["provenance"] as? [String: Any])
            #expect((provenance["redactorItems"] as? [String])?.allSatisfy { $0.hasPrefix("runs/") } == true)
            #expect(((provenance["authorItems"] as? [String]) ?? []).contains("artifacts/final.weights"))

            // The author's own manifest and signature travel inside, and minisign accepts them.
            try box.mkdir("x")
            try await must("tar", ["--zstd", "-xf", published, "-C", box.path("x")])
            let original = box.path("x/paper/mlpack/original/manifest.json")
            let minisign = try await run(
                "minisign", ["-Vm", original, "-x", original + ".minisig", "-p", source.key + ".pub"])
            #expect(minisign.status == 0, "\(minisign)")
            // The final weights are still there, bit for bit.
            #expect(
                try readBytes(box.path("x/paper/data/artifacts/final.weights"))
                    == (try readBytes(source.project + "/final.weights")))
            #expect(try await run("python3", ["-m", "bagit", "--validate", box.path("x/paper")]).status == 0)

            // A reviewer rebuilds the published pack (its data from a cache filled by the
            // internal pack's local copies): the outputs still reproduce.
            let cache = box.path("cache")
            let fetch = try await mlpack(["fetch", source.pack, "--cache", cache])
            #expect(fetch.status == 0, "\(fetch)")
            let rebuild = try await mlpack([
                "verify", published, "--rebuild", "--python-env", "host", "--key", source.key + ".pub", "--cache",
                cache,
            ])
            #expect(rebuild.status == 0, "\(rebuild)")
            #expect(rebuild.out.contains("result: REPRODUCED"))

            // Tampering afterwards: re-adding a withheld file, or changing a rewritten record.
            let readded = box.path("readded.mlpack")
            try await tamper(
                ["add", "--kind", "file", "--name", "{top}/data/notes/notes.md", "--data", Self.marker],
                pack: published, output: readded)
            let readdedVerify = try await mlpack(["verify", readded, "--key", source.key + ".pub"])
            #expect(readdedVerify.status == 1, "\(readdedVerify)")
            #expect(readdedVerify.err.contains("notes/notes.md"))
            let rewritten = try #require((provenance["redactorItems"] as? [String])?.first)
            let changed = box.path("changed.mlpack")
            try await tamper(["flip", "--name", "{top}/data/\(rewritten)"], pack: published, output: changed)
            let changedVerify = try await mlpack(["verify", changed, "--key", source.key + ".pub"])
            #expect(changedVerify.status == 1, "\(changedVerify)")
        }
    }

    @Test("withholding only: the manifest stays byte-identical, the author's signature verifies, the count is right")
    func hideOnly() async throws {
        try await withSandbox { box in
            let source = try await makeInternalPack(in: box)
            let hidden = box.path("hidden.mlpack")
            let redact = try await mlpack([
                "redact", source.pack, "--output", hidden, "--drop-role", "note", "--drop", "env/*/host.json", "--json",
            ])
            #expect(redact.status == 0, "\(redact)")
            let report = try #require(try JSONSerialization.jsonObject(with: redact.stdout) as? [String: Any])
            let withheld = (report["withheld"] as? [Any])?.count ?? -1
            #expect(withheld == 2, "\(redact)")

            try box.mkdir("a")
            try box.mkdir("b")
            try await must("tar", ["--zstd", "-xf", source.pack, "-C", box.path("a")])
            try await must("tar", ["--zstd", "-xf", hidden, "-C", box.path("b")])
            for file in ["manifest.json", "manifest.json.minisig"] {
                let cmp = try await run(
                    "cmp", [box.path("a/paper/mlpack/\(file)"), box.path("b/paper/mlpack/\(file)")])
                #expect(cmp.status == 0, "mlpack/\(file) changed: \(cmp)")
            }
            #expect(!exists(box.path("b/paper/data/notes")))

            let verify = try await mlpack(["verify", hidden, "--key", source.key + ".pub", "--json"])
            #expect(verify.status == 0, "\(verify)")
            let result = try #require(try JSONSerialization.jsonObject(with: verify.stdout) as? [String: Any])
            #expect(result["withheld"] as? Int == 2)
            let text = try await mlpack(["verify", hidden, "--key", source.key + ".pub"])
            #expect(text.out.contains("2 items withheld"), "\(text)")

            // Deterministic: the same redaction again gives the same bytes.
            let again = box.path("again.mlpack")
            #expect(
                try await mlpack([
                    "redact", source.pack, "--output", again, "--drop-role", "note", "--drop", "env/*/host.json",
                ]).status == 0)
            #expect(try readBytes(hidden) == (try readBytes(again)))

            // Withholding the card is refused; an unknown role is a usage error.
            #expect(
                try await mlpack(["redact", source.pack, "--output", box.path("x.mlpack"), "--drop", "pack.json"])
                    .status == 2)
            #expect(
                try await mlpack(["redact", source.pack, "--output", box.path("x.mlpack"), "--drop-role", "secrets"])
                    .status == 2)
            #expect(!exists(box.path("x.mlpack")))
        }
    }
}
