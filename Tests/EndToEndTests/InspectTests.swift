import Foundation
import TestSupport
import Testing

/// `mlpack inspect --json`: what the pack holds, read through the seek index when it can.
@Suite("inspect")
struct InspectTests {
    @Test(
        "--created spellings are normalised to RFC 3339 UTC with whole seconds",
        arguments: [
            "2026-01-02T03:04:05Z", "2026-01-02T04:04:05+01:00", "2026-01-01T22:04:05-05:00",
            "2026-01-02T03:04:05.750Z",
            "1767323045",
        ])
    func createdIsNormalised(created: String) async throws {
        try await withSandbox { box in
            let weights = try makeWeights(in: box, size: 100)
            let pack = try await makePack(in: box, weights: [weights], created: created)
            let report = try await inspectJSON(pack)
            #expect(report.created == "2026-01-02T03:04:05Z", "--created \(created) → \(report.created)")
            for member in try await tarMembers(pack) {
                #expect(Int64(member.mtime) == Fixture.createdEpoch, "\(member.name): mtime \(member.mtime)")
            }
        }
    }

    @Test("inspect --json: name, title, created, items, withheld, roles, and every file's size and sha256")
    func inspectReport() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box)
            let weights = try makeWeights(in: box)
            let pack = try await makePack(
                in: box, code: project.directory, weights: [weights], created: "2026-01-02T04:04:05+01:00",
                title: "A tiny model — v1")
            let report = try await inspectJSON(pack)

            #expect(report.name == "demo")
            #expect(report.title == "A tiny model — v1")
            #expect(report.created == "2026-01-02T03:04:05Z")
            #expect(report.signer == "unsigned")
            #expect(report.items == project.files.count + 3 + EnvironmentItems.count)
            #expect(report.files.count == report.items)
            #expect(report.withheld == 0)
            #expect(report.readThrough == "seek index")
            #expect(report.warnings.isEmpty, "\(report.warnings)")
            #expect(report.packBytes == fileInfo(pack)?.size)
            #expect(report.packId.count == 32)

            let roles = Dictionary(uniqueKeysWithValues: report.roles.map { ($0.role, $0) })
            #expect(Set(roles.keys) == ["card", "code", "code-snapshot", "weights", "env", "host"])
            #expect(roles["code"]?.items == project.files.count)
            #expect(roles["code"]?.bytes == project.files.reduce(0) { $0 + UInt64($1.bytes.count) })
            #expect(roles["weights"]?.items == 1)
            #expect(roles["weights"]?.bytes == 4096)
            #expect(roles["card"]?.items == 1)
            #expect(roles["code-snapshot"]?.items == 1)
            #expect(roles["env"]?.items == EnvironmentItems.expected.values.filter { $0 == "env" }.count)
            #expect(roles["host"]?.items == 1)
            // The environment capture of this machine: exactly its files, with their roles.
            expectEnvironmentItems(report)
            #expect(report.payloadBytes == report.roles.reduce(0) { $0 + $1.bytes })

            // Sizes and digests match sha256sum of the sources.
            let snapshot = try codeSnapshot(of: report)
            #expect(snapshot.hasPrefix("code/") && snapshot.count == "code/".count + 12)
            #expect(snapshot.dropFirst(5).allSatisfy { "0123456789abcdef".contains($0) })
            let files = Dictionary(uniqueKeysWithValues: report.files.map { ($0.path, $0) })
            for file in project.files {
                let listed = try #require(files[snapshot + "/" + file.path], "inspect does not list \(file.path)")
                #expect(listed.role == "code")
                #expect(listed.size == UInt64(file.bytes.count))
                #expect(listed.sha256 == (try await sha256sum(project.directory + "/" + file.path)), "\(file.path)")
            }
            let listedWeights = try #require(files["artifacts/weights.safetensors"])
            #expect(listedWeights.role == "weights")
            #expect(listedWeights.size == 4096)
            #expect(listedWeights.sha256 == (try await sha256sum(weights)))
            #expect(files["pack.json"]?.role == "card")

            // The digests agree with the BagIt manifest a standard tool reads.
            let out = try box.mkdir("by-hand")
            try await must("tar", ["--zstd", "-xf", pack, "-C", out])
            let manifest = try String(contentsOfFile: out + "/demo/manifest-sha256.txt", encoding: .utf8)
            for file in report.files {
                #expect(
                    manifest.contains("\(file.sha256)  data/\(file.path)\n"),
                    "\(file.path) is not in manifest-sha256.txt as inspect shows it")
            }
            // The snapshot folder is the first 12 hex digits of the sha256 of its sha256sum listing.
            let listing = project.files
                .sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
                .map { file in "\(files[snapshot + "/" + file.path]?.sha256 ?? "?")  \(file.path)\n" }
                .joined()
            try box.write("listing.txt", listing)
            #expect(
                snapshot == "code/" + (try await sha256sum(box.path("listing.txt"))).prefix(12),
                "the snapshot name is not the tree digest")
        }
    }

    @Test("inspect works on a pack re-compressed without its seek index (sequential scan), and from a pipe")
    func inspectWithoutIndex() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let plain = box.path("plain.mlpack")
            try await tamper(["recompress"], pack: pack, output: plain)
            #expect(try readBytes(plain).suffix(8) != Array("MLPKINDX".utf8))

            let indexed = try await inspectJSON(pack)
            let scanned = try await inspectJSON(plain)
            #expect(indexed.readThrough == "seek index")
            #expect(scanned.readThrough == "sequential scan")
            #expect(scanned.name == indexed.name)
            #expect(scanned.title == indexed.title)
            #expect(scanned.created == indexed.created)
            #expect(scanned.packId == indexed.packId)
            #expect(scanned.items == indexed.items)
            #expect(scanned.files.map(\.path) == indexed.files.map(\.path))
            #expect(scanned.files.map(\.sha256) == indexed.files.map(\.sha256))

            // From a pipe (no seeking: a sequential scan).
            let piped = try await mlpackFromPipe(pack, ["inspect", "-", "--json"])
            #expect(piped.status == 0, "\(piped)")
            let report = try decodeJSON(InspectJSON.self, piped)
            #expect(report.readThrough == "sequential scan")
            #expect(report.files.map(\.sha256) == indexed.files.map(\.sha256))
            // Standard input redirected from the file can seek: any way of reading is fine.
            let redirected = try await mlpack(["inspect", "-", "--json"], stdinFile: pack)
            #expect(redirected.status == 0, "\(redirected)")
            #expect(try decodeJSON(InspectJSON.self, redirected).files.map(\.sha256) == indexed.files.map(\.sha256))

            // verify reports the missing index but accepts the pack.
            let verify = try await mlpack(["verify", plain, "--allow-unsigned", "--json"])
            #expect(verify.status == 0, "\(verify)")
            let object = try JSONSerialization.jsonObject(with: verify.stdout) as? [String: Any]
            #expect(object?["seekIndex"] as? String == "absent")
        }
    }

    @Test("Plain-text inspect shows the name, title, created time and files")
    func inspectText() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box, title: "Tiny demo")
            let result = try await mlpack(["inspect", pack])
            #expect(result.status == 0, "\(result)")
            #expect(result.out.contains("name      demo"), "\(result)")
            #expect(result.out.contains("title     Tiny demo"), "\(result)")
            #expect(result.out.contains("created   2026-01-02T03:04:05Z"), "\(result)")
            #expect(result.out.contains("weights.safetensors"), "\(result)")
            #expect(result.out.contains("train.py"), "\(result)")
        }
    }

    @Test("Without --name, the pack is named after the output file")
    func defaultName() async throws {
        try await withSandbox { box in
            let weights = try makeWeights(in: box, size: 64)
            let pack = try await makePack(in: box, output: "my-model_v2.mlpack", name: nil, weights: [weights])
            #expect(try await inspectJSON(pack).name == "my-model_v2")
            #expect(try await tarMembers(pack).allSatisfy { $0.name.hasPrefix("my-model_v2/") })
        }
    }

    /// A key id is a label a signer chooses (a forger can give their key the author's): inspect
    /// says whether the signing key itself is trusted, and shows it, instead of a bare id.
    @Test("inspect names the signing key, and says whether it is a trusted key, not just its id")
    func signerLine() async throws {
        try await withSandbox { box in
            let (pack, key) = try await makeSignedPack(in: box)
            let config = ["XDG_CONFIG_HOME": box.path("config")]
            let stranger = try await mlpack(["inspect", pack], environment: config)
            #expect(stranger.status == 0, "\(stranger)")
            let publicKey = try String(contentsOfFile: key + ".pub", encoding: .utf8).split(separator: "\n")[1]
            #expect(stranger.out.contains("NOT a key you trust: public key \(publicKey)"), "\(stranger)")
            let trusted = try await mlpack(["inspect", pack, "--key", key + ".pub"], environment: config)
            #expect(trusted.out.contains("a key you trust"), "\(trusted)")
            #expect(!trusted.out.contains("NOT a key you trust"), "\(trusted)")
            let json = try await mlpack(["inspect", pack, "--json"], environment: config)
            #expect(json.out.contains("\"signerTrusted\" : false"), "\(json)")
        }
    }
}
