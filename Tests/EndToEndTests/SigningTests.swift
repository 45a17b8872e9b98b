import Foundation
import TestSupport
import Testing

/// Signing and trust, checked both ways against the real `minisign` program.
@Suite("Signing and trust (with minisign)")
struct SigningTests {
    static let password = "correct horse battery staple"

    /// `mlpack key generate` with the password from MLPACK_PASSWORD; returns BASE.
    func generateKey(in box: Sandbox, _ name: String = "author", unencrypted: Bool = false) async throws -> String {
        let base = box.path(name)
        var arguments = ["key", "generate", "--output", base]
        if unencrypted { arguments.append("--unencrypted") }
        let result = try await mlpack(arguments, environment: unencrypted ? [:] : ["MLPACK_PASSWORD": Self.password])
        guard result.status == 0 else { throw TestError("key generate failed: \(result)") }
        return base
    }

    /// A signed pack of the standard project; returns its path.
    func signedPack(
        in box: Sandbox, key: String, password: String? = password, output: String = "signed.mlpack"
    ) async throws -> String {
        let project = try makeProject(in: box)
        let pack = box.path(output)
        let result = try await mlpack(
            [
                "create", "--output", pack, "--code", project.directory, "--name", "demo", "--created", Fixture.created,
                "--key", key,
            ],
            environment: password.map { ["MLPACK_PASSWORD": $0] } ?? [:])
        guard result.status == 0 else { throw TestError("signed create failed: \(result)") }
        return pack
    }

    /// Extracts a pack with GNU tar and returns the path of its top-level folder.
    func untar(_ pack: String, in box: Sandbox, to folder: String = "untarred") async throws -> String {
        try box.mkdir(folder)
        try await must("tar", ["--zstd", "-xf", pack, "-C", box.path(folder)])
        return box.path(folder) + "/demo"
    }

    @Test("key generate writes a 0600 secret key and a public key that key show reads back")
    func generateAndShow() async throws {
        try await withSandbox { box in
            let base = try await generateKey(in: box)
            #expect(fileInfo(base + ".key")?.mode == 0o600)
            let publicText = String(decoding: try readBytes(base + ".pub"), as: UTF8.self)
            #expect(publicText.hasPrefix("untrusted comment: minisign public key "))
            let fromPublic = try await mlpack(["key", "show", base + ".pub", "--json"])
            let fromSecret = try await mlpack(
                ["key", "show", base + ".key", "--json"], environment: ["MLPACK_PASSWORD": Self.password])
            #expect(fromPublic.status == 0 && fromSecret.status == 0, "\(fromPublic)\n\(fromSecret)")
            #expect(fromPublic.out == fromSecret.out)
            let shown = try #require(try JSONSerialization.jsonObject(with: fromPublic.stdout) as? [String: String])
            #expect(publicText.contains(try #require(shown["publicKey"])))
            #expect(!fromSecret.out.contains(Self.password) && !fromSecret.err.contains(Self.password))
        }
    }

    @Test("key generate without --output writes to ~/.config/mlpack/me, making the folder private to the user")
    func generateToDefaultPlace() async throws {
        try await withSandbox { box in
            try box.mkdir("home")
            let home = box.path("home")
            let made = try await mlpack(
                ["key", "generate", "--unencrypted", "--json"], environment: ["HOME": home, "XDG_CONFIG_HOME": ""])
            #expect(made.status == 0, "\(made)")
            #expect(fileInfo(home + "/.config/mlpack/me.key")?.mode == 0o600)
            #expect(fileInfo(home + "/.config/mlpack")?.mode == 0o700)
            #expect(exists(home + "/.config/mlpack/me.pub"))
            let again = try await mlpack(
                ["key", "generate", "--unencrypted"], environment: ["HOME": home, "XDG_CONFIG_HOME": ""])
            #expect(again.status != 0 && again.errLines.count == 1, "an existing key is never replaced: \(again)")
            let xdg = try await mlpack(
                ["key", "generate", "--unencrypted"], environment: ["XDG_CONFIG_HOME": box.path("config")])
            #expect(xdg.status == 0 && exists(box.path("config/mlpack/me.key")), "\(xdg)")
        }
    }

    @Test("an empty password is refused unless --unencrypted; a wrong one is a clear error")
    func passwords() async throws {
        try await withSandbox { box in
            let empty = try await mlpack(
                ["key", "generate", "--output", box.path("k")], environment: ["MLPACK_PASSWORD": ""])
            #expect(empty.status == 2, "\(empty)")
            #expect(empty.err.contains("--unencrypted"))
            #expect(!exists(box.path("k.key")))
            let noTerminal = try await mlpack(["key", "generate", "--output", box.path("k")])
            #expect(noTerminal.status == 2, "\(noTerminal)")
            #expect(noTerminal.err.contains("MLPACK_PASSWORD"))

            let base = try await generateKey(in: box)
            let project = try makeProject(in: box)
            let wrong = try await mlpack(
                ["create", "--output", box.path("p.mlpack"), "--code", project.directory, "--key", base + ".key"],
                environment: ["MLPACK_PASSWORD": "not it"])
            #expect(wrong.status == 2, "\(wrong)")
            #expect(wrong.errLines == ["mlpack: error: \(base).key: wrong password for this key"], "\(wrong)")
            #expect(!exists(box.path("p.mlpack")))
        }
    }

    @Test("minisign -V accepts mlpack's signature of the manifest, and rejects it after one byte changes")
    func minisignVerifiesMlpackSignature() async throws {
        try await withSandbox { box in
            let base = try await generateKey(in: box)
            let pack = try await signedPack(in: box, key: base + ".key")
            let top = try await untar(pack, in: box)
            let manifest = top + "/mlpack/manifest.json"
            let signature = top + "/mlpack/manifest.json.minisig"
            let good = try await run("minisign", ["-Vm", manifest, "-x", signature, "-p", base + ".pub"])
            #expect(good.status == 0, "\(good)")
            #expect(
                good.out.contains("mlpack pack:demo created:\(Fixture.created)"),
                "the trusted comment names the pack and its creation time")

            var bytes = try readBytes(manifest)
            let index = try #require(bytes.firstIndex(of: UInt8(ascii: "m")))
            bytes[index] = UInt8(ascii: "M")
            try writeBytes(manifest, bytes)
            let bad = try await run("minisign", ["-Vm", manifest, "-x", signature, "-p", base + ".pub"])
            #expect(bad.status != 0, "\(bad)")
        }
    }

    @Test("keys made by minisign -G sign packs that mlpack verify accepts", arguments: [false, true])
    func minisignKeysSignPacks(encrypted: Bool) async throws {
        try await withSandbox { box in
            let secret = box.path("minisign.key")
            let pub = box.path("minisign.pub")
            let generate =
                encrypted
                ? try await sh(
                    #"printf '%s\n%s\n' "$3" "$3" | minisign -G -p "$1" -s "$2""#, [pub, secret, "minisign-pw"])
                : try await run("minisign", ["-G", "-W", "-p", pub, "-s", secret])
            #expect(generate.status == 0, "\(generate)")
            let pack = try await signedPack(in: box, key: secret, password: encrypted ? "minisign-pw" : nil)
            let verify = try await mlpack(["verify", pack, "--key", pub])
            #expect(verify.status == 0, "\(verify)")
            #expect(verify.out.contains("valid, by trusted key"))
            // The public-key line works as well as the file.
            let line = String(decoding: try readBytes(pub), as: UTF8.self).split(separator: "\n")[1]
            let byLine = try await mlpack(["verify", pack, "--key", String(line)])
            #expect(byLine.status == 0, "\(byLine)")
        }
    }

    @Test("keys made by mlpack key generate sign and verify with minisign -S / -V", arguments: [false, true])
    func mlpackKeysWorkInMinisign(unencrypted: Bool) async throws {
        try await withSandbox { box in
            let base = try await generateKey(in: box, unencrypted: unencrypted)
            let file = try box.write("note.txt", "signed by minisign with an mlpack key\n")
            let sign =
                unencrypted
                ? try await run("minisign", ["-S", "-s", base + ".key", "-m", file])
                : try await sh(
                    #"printf '%s\n' "$3" | minisign -S -s "$1" -m "$2""#, [base + ".key", file, Self.password])
            #expect(sign.status == 0, "\(sign)")
            let verify = try await run("minisign", ["-V", "-p", base + ".pub", "-m", file])
            #expect(verify.status == 0, "\(verify)")
        }
    }

    @Test("signed packs are byte-identical for the same inputs, key and --created")
    func signedPacksAreReproducible() async throws {
        try await withSandbox { box in
            let base = try await generateKey(in: box)
            let first = try await signedPack(in: box, key: base + ".key", output: "a.mlpack")
            let again = try await mlpack(
                [
                    "create", "--output", box.path("b.mlpack"), "--code", box.path("project"), "--name", "demo",
                    "--created", Fixture.created, "--key", base + ".key",
                ],
                environment: ["MLPACK_PASSWORD": Self.password])
            #expect(again.status == 0, "\(again)")
            #expect(try readBytes(first) == (try readBytes(box.path("b.mlpack"))))
        }
    }

    @Test("verify: trusted key → 0; untrusted → 3 with the key id and the command to trust it; keyring and key trust")
    func trust() async throws {
        try await withSandbox { box in
            let base = try await generateKey(in: box)
            let pack = try await signedPack(in: box, key: base + ".key")
            let show = try await mlpack(["key", "show", base + ".pub", "--json"])
            let key = try JSONSerialization.jsonObject(with: show.stdout) as! [String: String]
            let keyId = try #require(key["keyId"])
            let publicKey = try #require(key["publicKey"])

            let untrusted = try await mlpack(["verify", pack])
            #expect(untrusted.status == 3, "\(untrusted)")
            #expect(untrusted.err.contains(keyId))
            #expect(untrusted.err.contains("mlpack key trust \(publicKey)"))
            #expect(
                try await mlpack(["verify", pack, "--allow-unsigned"]).status == 3,
                "--allow-unsigned does not trust a signer")

            #expect(try await mlpack(["verify", pack, "--key", base + ".pub"]).status == 0)
            let other = try await generateKey(in: box, "other")
            #expect(try await mlpack(["verify", pack, "--key", other + ".pub"]).status == 3)

            // The command printed above trusts the key for good, in the keyring.
            let config = box.path("config")
            let trustIt = try await mlpack(["key", "trust", publicKey], environment: ["XDG_CONFIG_HOME": config])
            #expect(trustIt.status == 0, "\(trustIt)")
            #expect(exists(config + "/mlpack/trusted/\(keyId).pub"))
            #expect(try await mlpack(["verify", pack], environment: ["XDG_CONFIG_HOME": config]).status == 0)
            #expect(try await mlpack(["verify", pack, "--keyring", config + "/mlpack/trusted"]).status == 0)

            // inspect shows the signer and that the signature is valid, without any trust.
            let inspect = try await mlpack(["inspect", pack, "--json"])
            let report = try JSONSerialization.jsonObject(with: inspect.stdout) as! [String: Any]
            #expect(report["signer"] as? String == keyId)
            #expect(report["signature"] as? String == "valid")
        }
    }

    @Test("a tampered manifest, a signature by another key, or a trusted id with another key → 1")
    func invalidSignatures() async throws {
        try await withSandbox { box in
            let base = try await generateKey(in: box)
            let pack = try await signedPack(in: box, key: base + ".key")

            // One byte of the manifest changed (the created time, still valid JSON).
            let tampered = box.path("tampered.mlpack")
            try await tamper(["flip", "--name", "demo/mlpack/manifest.json"], pack: pack, output: tampered)
            let result = try await mlpack(["verify", tampered, "--key", base + ".pub"])
            #expect(result.status == 1, "\(result)")
            #expect(result.err.contains("mlpack/manifest.json"), "\(result)")
            // The manifest is parsed (to learn the signer), then its signature checked before
            // anything else: the error is about the manifest or its signature, never an item.
            #expect(
                result.errLines.count == 1 && result.errLines[0].hasPrefix("mlpack: error: mlpack/manifest.json"),
                "\(result)")

            // The signature replaced by a valid minisign signature of the same manifest, made
            // with another key: the key id no longer matches the signer's.
            let top = try await untar(pack, in: box)
            let other = try await generateKey(in: box, "other")
            let resign = try await sh(
                #"printf '%s\n' "$3" | minisign -S -s "$1" -m "$2" -x "$2.minisig""#,
                [other + ".key", top + "/mlpack/manifest.json", Self.password])
            #expect(resign.status == 0, "\(resign)")
            let swapped = box.path("swapped.mlpack")
            try await must(
                "/bin/sh",
                [
                    "-c",
                    // The one dialect packs use (spec §2.3): ustar, owner 0, no names.
                    #"cd "$1" && find demo -type f | LC_ALL=C sort | tar --zstd --format=ustar --owner=0 --group=0 --numeric-owner --no-recursion -cf "$2" -T -"#,
                    "sh", box.path("untarred"), swapped,
                ])
            let swappedResult = try await mlpack(["verify", swapped, "--key", base + ".pub"])
            #expect(swappedResult.status == 1, "\(swappedResult)")
            #expect(swappedResult.err.contains("manifest.json.minisig"), "\(swappedResult)")

            // A trusted key with the signer's id but other key bytes.
            let line = String(decoding: try readBytes(base + ".pub"), as: UTF8.self).split(separator: "\n")[1]
            var raw = try #require(Data(base64Encoded: String(line)))
            raw[raw.count - 1] ^= 0x01
            let impostor = try await mlpack(["verify", pack, "--key", raw.base64EncodedString()])
            #expect(impostor.status == 1, "\(impostor)")
            #expect(impostor.err.contains("different public key"), "\(impostor)")
        }
    }

    @Test("create without --key or --unsigned, or with both, is a usage error")
    func createNeedsAChoice() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box)
            let neither = try await mlpack(["create", "--output", box.path("p.mlpack"), "--code", project.directory])
            #expect(neither.status == 2 && neither.err.contains("--key"), "\(neither)")
            let base = try await generateKey(in: box)
            let both = try await mlpack([
                "create", "--output", box.path("p.mlpack"), "--code", project.directory, "--key", base + ".key",
                "--unsigned",
            ])
            #expect(both.status == 2, "\(both)")
            #expect(!exists(box.path("p.mlpack")))
        }
    }
}

@Suite("Format spec")
struct SpecConformanceTests {
    @Test(
        "the manifest of signed and unsigned packs validates against spec/manifest.schema.json",
        arguments: [false, true])
    func manifestMatchesSchema(signed: Bool) async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box)
            var arguments = ["create", "--output", box.path("p.mlpack"), "--code", project.directory, "--name", "demo"]
            if signed {
                let key = try await mlpack(["key", "generate", "--output", box.path("k"), "--unencrypted"])
                #expect(key.status == 0, "\(key)")
                arguments += ["--key", box.path("k.key")]
            } else {
                arguments.append("--unsigned")
            }
            let created = try await mlpack(arguments)
            #expect(created.status == 0, "\(created)")
            try box.mkdir("x")
            try await must("tar", ["--zstd", "-xf", box.path("p.mlpack"), "-C", box.path("x")])
            let check = try await run(
                "python3",
                [
                    "-c",
                    """
                    import json, sys, jsonschema
                    schema = json.load(open(sys.argv[1]))
                    jsonschema.Draft202012Validator.check_schema(schema)
                    jsonschema.validate(json.load(open(sys.argv[2])), schema, cls=jsonschema.Draft202012Validator)
                    """, Repo.root + "/spec/manifest.schema.json", box.path("x/demo/mlpack/manifest.json"),
                ])
            #expect(check.status == 0, "\(check)")
        }
    }
}
