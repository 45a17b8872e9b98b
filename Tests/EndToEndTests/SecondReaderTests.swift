import Foundation
import TestSupport
import Testing

/// spec/verify.py, the second reader written from spec/FORMAT.md alone, must agree with
/// `mlpack verify` on every pack: the conformance corpus, and packs made here (signed,
/// unsigned, withheld, re-signed by `redact --public`, with data references, with lineage,
/// and each of those tampered with in the corpus' ways). Same exit code, same rule.
@Suite("Second reader: spec/verify.py")
struct SecondReaderTests {
    static let script = Repo.root + "/spec/verify.py"
    static let corpus = Repo.root + "/fixtures/conformance/"

    /// The rule an error names, by the words both readers use for it (most specific first).
    static let rules = [
        "'..' in path", "'.' in path", "absolute path", "backslash in path", "control character", "NUL in path",
        "not in Unicode NFC form", "combining character", "differs only by case", "duplicate entry",
        "(only 644 and 755", "not a minisign", "symbolic link", "hard link with mode", "hard link to",
        "character device", "block device", "fifo",
        "directory entry", "second top-level directory", "top-level directory differs", "unexpected file outside",
        "not in the pack's disclosures", "sha256 differs", "differs from the disclosed", "disclosed but missing",
        "RO-Crate view tampered with", "BagIt view tampered with", "not in the manifest", "disclosed twice",
        "base64url", "malformed disclosure", "format version", "not a valid manifest", "limit entries",
        "limit metadata-size", "limit total-size", "limit expansion-ratio", "pax global header", "GNU long-name",
        "GNU long-link", "pax keyword", "lone zero block", "data after the end", "not a POSIX ustar header",
        "owner other than", "without a content checksum", "skippable frame before the end", "truncated",
        "not an mlpack file", "is not the manifest derivedFrom names", "not derived",
        "does not verify", "made with key", "is trusted, but with a different public key", "missing",
        "is unsigned", "which you do not trust yet",
    ]

    static func rule(_ result: ProcessResult) -> String {
        guard result.status != 0 else { return "" }
        let error = result.errLines.first { $0.contains(": error: ") } ?? ""
        let message = error.components(separatedBy: ": error: ").dropFirst().joined(separator: ": error: ")
        // The entry named (before the first ": ") and the rule's words.
        // Control characters in a name are shown differently (raw, or as \xNN): compare without.
        let entry = (message.components(separatedBy: ": ").first ?? "")
            .replacingOccurrences(of: #"\\x[0-9a-f]{2}"#, with: "", options: .regularExpression)
            .unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f }.map(String.init).joined()
        let words = rules.first { message.contains($0) } ?? "unknown rule: \(message)"
        let shownEntry = entry.contains("byte ") || entry.hasSuffix(".mlpack") ? "" : entry
        return words == "is unsigned" || words.hasPrefix("limit") || words == "which you do not trust yet"
            ? words : "\(shownEntry): \(words)"
    }

    struct Subject: Sendable {
        var name: String
        var pack: String
        var arguments: [String]
    }

    /// Packs of every kind mlpack writes, each checked as signed by `author`, by `other`, and
    /// with --allow-unsigned.
    static func makePacks(in box: Sandbox) async throws -> [String] {
        let binary = try Repo.mlpackBinary()
        for key in ["author", "other"] {
            try await must(binary, ["key", "generate", "--output", box.path(key), "--unencrypted"])
        }
        let (unsigned, project, weights) = try await makeStandardPack(in: box, output: "unsigned.mlpack")
        let signed = box.path("signed.mlpack")
        try await must(
            binary,
            [
                "create", "--output", signed, "--code", project.directory, "--weights", weights, "--name", "demo",
                "--created", Fixture.created, "--key", box.path("author.key"),
            ])
        var packs = [unsigned, signed]
        func redact(_ source: String, _ output: String, _ arguments: [String]) async throws {
            try await must(binary, ["redact", source, "--output", box.path(output), "-q"] + arguments)
            packs.append(box.path(output))
        }
        try await redact(signed, "withheld.mlpack", ["--drop", "code/*/train.py"])
        try await redact(signed, "withheld-host.mlpack", ["--drop-role", "host"])
        // Data references: a folder, a file, and a folder stored inline.
        try box.mkdir("dataset")
        try box.write("dataset/a.txt", "a\n")
        try box.write("dataset/b.txt", "b\n")
        let single = try box.write("single.csv", "x,y\n1,2\n")
        packs.append(
            try await makePack(
                in: box, output: "dataref.mlpack", code: project.directory,
                extra: ["--data", "spirals=\(box.path("dataset"))", "--data", "one=\(single)"]))
        packs.append(
            try await makePack(
                in: box, output: "dataref-inline.mlpack", code: project.directory,
                extra: ["--data", "spirals=\(box.path("dataset"))", "--inline-data", "spirals"]))
        // Lineage: two recorded runs, one reading data by an absolute path in the home folder,
        // so `redact --public` must rewrite its record: a derived, re-signed pack.
        let home = try box.mkdir("home")
        let environment = ["HOME": home]
        let external = try box.write("home/datasets/extra.csv", "ext\n")
        let lineage = try box.mkdir("home/lineage")
        try box.write(
            "home/lineage/train.py",
            "import sys\nd = ''.join(open(p).read() for p in [sys.argv[1]] + sys.argv[3:])\n"
                + "open(sys.argv[2], 'w').write(d + 'w')\n")
        try box.write("home/lineage/in.csv", "data\n")
        for arguments in [
            ["init", "-q"], ["add", "-A"],
            ["-c", "user.name=A", "-c", "user.email=a@example.org", "commit", "-qm", "v1"],
        ] {
            try await must("git", arguments, cwd: lineage)
        }
        for arguments in [
            [
                "--name", "pre", "-i", "in.csv", "-i", external, "-o", "pre.w", "--", "python3", "train.py", "in.csv",
                "pre.w", external,
            ],
            ["--name", "fine", "-i", "pre.w", "-o", "final.w", "--", "python3", "train.py", "pre.w", "final.w"],
        ] {
            try await must(binary, ["run", "-q"] + arguments, cwd: lineage, environment: environment)
        }
        for (output, signing) in [
            ("lineage.mlpack", ["--key", box.path("author.key")]), ("lineage-unsigned.mlpack", ["--unsigned"]),
        ] {
            try await must(
                binary,
                ["create", "--output", box.path(output), "--output-of", "final.w", "--name", "lin", "-q"] + signing,
                cwd: lineage, environment: environment)
            packs.append(box.path(output))
        }
        try await redact(box.path("lineage.mlpack"), "public.mlpack", ["--public", "--key", box.path("other.key")])
        try await redact(box.path("public.mlpack"), "public-again.mlpack", ["--drop-role", "note"])

        // Each tampered in the corpus' ways.
        var tampered: [String] = []
        func variant(_ source: String, _ label: String, _ arguments: [String]) async throws {
            let output = box.path("t-\(label).mlpack")
            try await tamper(arguments, pack: source, output: output)
            tampered.append(output)
        }
        for (base, source) in [("unsigned", unsigned), ("signed", signed), ("public", box.path("public.mlpack"))] {
            let top = "{top}/"
            for kind in ["file", "dir", "symlink", "hardlink", "chardev", "blockdev", "fifo"] {
                try await variant(
                    source, "\(base)-add-\(kind)",
                    ["add", "--kind", kind, "--name", top + "data/extra", "--target", "/etc/passwd", "--data", "x"])
            }
            try await variant(source, "\(base)-add-outside", ["add", "--kind", "file", "--name", top + "evil.txt"])
            try await variant(
                source, "\(base)-add-setuid",
                ["add", "--kind", "file", "--name", top + "data/x.txt", "--data", "x", "--mode", "4755"])
            try await variant(
                source, "\(base)-add-dotdot", ["add", "--kind", "file", "--name", top + "../../evil.txt"])
            try await variant(source, "\(base)-duplicate", ["duplicate", "--name", top + "data/pack.json"])
            for file in [
                "data/pack.json", "mlpack/manifest.json", "mlpack/disclosures.json", "data/ro-crate-metadata.json",
                "bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt",
            ] {
                let label = file.replacingOccurrences(of: "/", with: "_")
                try await variant(source, "\(base)-flip-\(label)", ["flip", "--name", top + file])
                try await variant(source, "\(base)-remove-\(label)", ["remove", "--name", top + file])
            }
            try await variant(
                source, "\(base)-chmod-777", ["chmod", "--name", top + "data/pack.json", "--mode", "777"])
            try await variant(
                source, "\(base)-chmod-755", ["chmod", "--name", top + "data/pack.json", "--mode", "755"])
            try await variant(source, "\(base)-recompress", ["recompress"])
            try await variant(source, "\(base)-index-shift", ["index-shift", "--name", top + "data/pack.json"])
            try await variant(source, "\(base)-index-garble", ["index-garble"])
            try await variant(source, "\(base)-flip-keep-index", ["flip-keep-index", "--name", top + "data/pack.json"])
        }
        try await variant(
            signed, "signed-remove-signature", ["remove", "--name", "{top}/mlpack/manifest.json.minisig"])
        for file in ["manifest.json", "manifest.json.minisig", "disclosures.json"] {
            let original = "{top}/mlpack/original/" + file
            try await variant(box.path("public.mlpack"), "public-flip-original-\(file)", ["flip", "--name", original])
            try await variant(
                box.path("public.mlpack"), "public-remove-original-\(file)", ["remove", "--name", original])
        }
        // Truncated, from the file's bytes.
        let bytes = try readBytes(signed)
        tampered.append(try box.write("t-truncated.mlpack", Array(bytes.prefix(bytes.count / 2))))
        return packs + tampered
    }

    @Test("agrees with mlpack verify on the corpus and on generated packs: same exit code, same rule")
    func agreement() async throws {
        try await withSandbox { box in
            var subjects: [Subject] = []
            let cases = ConformanceTests.cases
            #expect(!cases.isEmpty)
            for entry in cases {
                let key = entry.trust == "key" ? ["--key", Self.corpus + "keys/corpus.pub"] : []
                let trust = key + (entry.trust == "unsigned" ? ["--allow-unsigned"] : []) + entry.args
                subjects.append(Subject(name: entry.name, pack: Self.corpus + entry.file, arguments: trust))
                // With no key at all: the trust verdicts (exit 3) must agree too.
                subjects.append(
                    Subject(name: entry.name + " (no key)", pack: Self.corpus + entry.file, arguments: entry.args))
            }
            for pack in try await Self.makePacks(in: box) {
                let name = URL(fileURLWithPath: pack).lastPathComponent
                for (label, arguments) in [
                    ("author", ["--key", box.path("author.pub")]), ("other", ["--key", box.path("other.pub")]),
                    ("unsigned", ["--allow-unsigned"]),
                ] {
                    subjects.append(Subject(name: "\(name) (\(label))", pack: pack, arguments: arguments))
                }
            }
            var agreed = 0
            for subject in subjects {
                let reference = try await mlpack(["verify", subject.pack, "-q"] + subject.arguments)
                let second = try await run("python3", [Self.script, subject.pack, "-q"] + subject.arguments)
                let same = reference.status == second.status && Self.rule(reference) == Self.rule(second)
                #expect(
                    same,
                    "\(subject.name): mlpack \(reference.status) «\(Self.rule(reference))», verify.py \(second.status) «\(Self.rule(second))»\n\(reference)\n\(second)"
                )
                #expect(!Self.rule(second).contains("unknown rule"), "\(subject.name): \(second)")
                if same { agreed += 1 }
            }
            // A pipe: read sequentially, the index skipped (one of each kind is enough).
            for name in ["valid-signed", "truncated", "index-lying", "tar-lone-zero-block"] {
                let pack = Self.corpus + "packs/\(name).mlpack"
                let key = ["--key", Self.corpus + "keys/corpus.pub", "--allow-unsigned"]
                let reference = try await mlpackFromPipe(pack, ["verify", "-", "-q"] + key)
                let second = try await sh(#"cat "$1" | python3 "$2" - -q "$3" "$4" "$5""#, [pack, Self.script] + key)
                let same = reference.status == second.status && Self.rule(reference) == Self.rule(second)
                #expect(same, "\(name) through a pipe:\n\(reference)\n\(second)")
                subjects.append(Subject(name: name + " (pipe)", pack: pack, arguments: key))
                if same { agreed += 1 }
            }
            print("spec/verify.py agrees with mlpack verify on \(agreed) of \(subjects.count) packs")
            #expect(agreed == subjects.count)
        }
    }

    @Test("runs in a fresh venv with no packages; --extract-one gives the item's bytes through the index")
    func freshVenvAndExtractOne() async throws {
        try await withSandbox { box in
            try await must("python3", ["-m", "venv", "--without-pip", box.path("venv")])
            let python = box.path("venv/bin/python")
            let packages = try await must(python, ["-c", "import sys, pkgutil; print(sys.prefix)"])
            #expect(packages.out.hasPrefix(box.path("venv")), "\(packages)")
            let pack = Self.corpus + "packs/valid-signed.mlpack"
            let key = Self.corpus + "keys/corpus.pub"
            let verified = try await run(python, ["-I", Self.script, pack, "--key", key])
            #expect(verified.status == 0 && verified.out.hasPrefix("verified: "), "\(verified)")
            let untrusted = try await run(python, ["-I", Self.script, pack])
            #expect(untrusted.status == 3 && untrusted.out.hasPrefix("intact but not trusted: "), "\(untrusted)")

            // The weights, through the index and (index damaged) after a full scan, equal what
            // mlpack extract writes.
            try await must(try Repo.mlpackBinary(), ["extract", pack, "--to", box.path("out"), "--key", key])
            let expected = try readBytes(box.path("out/artifacts/weights.safetensors"))
            for (label, source) in [("index", pack), ("scan", Self.corpus + "packs/index-garbled.mlpack")] {
                let target = box.path("one-\(label).bin")
                let one = try await run(
                    python,
                    [
                        "-I", Self.script, source, "--key", key, "--allow-unsigned", "--extract-one",
                        "artifacts/weights.safetensors", "--to", target,
                    ])
                #expect(one.status == 0, "\(one)")
                #expect(
                    one.err.contains(label == "index" ? "through the seek index" : "full sequential scan"), "\(one)")
                #expect(try readBytes(target) == expected)
            }
            // A damaged item is never written out.
            let flipped = box.path("flipped.bin")
            let bad = try await run(
                python,
                [
                    "-I", Self.script, Self.corpus + "packs/item-flipped.mlpack", "--allow-unsigned", "--extract-one",
                    "artifacts/weights.safetensors", "--to", flipped,
                ])
            #expect(bad.status == 1 && !exists(flipped), "\(bad)")
        }
    }
}
