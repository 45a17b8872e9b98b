import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A changed byte anywhere is found by `verify`: exit 1 and a message naming the entry
/// (spec/FORMAT.md §6.1). Not a pack: exit 2. Unsigned: exit 3 unless --allow-unsigned.
@Suite("Tampering and damage")
struct TamperingTests {
    /// Paths below the top-level directory of every member of a pack, to check that an error
    /// message names one of them.
    static func entryPaths(_ pack: String) async throws -> [String] {
        try await tarMembers(pack).map { String($0.name.drop { $0 != "/" }.dropFirst()) }
    }

    /// Exit 1 with one "mlpack: error: <entry>: ..." line that names `entry` (or, when nil,
    /// one of `entries`).
    static func expectInvalid(
        _ result: ProcessResult, naming entry: String?, entries: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(result.status == 1, "expected exit 1 (invalid pack): \(result)", sourceLocation: sourceLocation)
        let errors = result.errLines.filter { $0.hasPrefix("mlpack: error: ") }
        #expect(errors.count == 1, "expected one 'mlpack: error: …' line: \(result)", sourceLocation: sourceLocation)
        if let entry {
            #expect(
                errors.contains { $0.contains(entry) }, "the error does not name \(entry): \(result)",
                sourceLocation: sourceLocation)
        } else {
            #expect(
                errors.contains { line in entries.contains { line.contains($0) } },
                "the error names no entry of the pack: \(result)", sourceLocation: sourceLocation)
        }
    }

    @Test("Sanity: the untouched pack verifies with --allow-unsigned, with and without its index")
    func untouchedPackVerifies() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let result = try await mlpack(["verify", pack, "--allow-unsigned"])
            #expect(result.status == 0, "\(result)")
            #expect(result.out.hasPrefix("verified: "), "\(result)")
            #expect(result.out.contains("seek index  valid"), "\(result)")
            // Re-compressed without its index (as every tampered pack below is), still valid.
            let plain = box.path("plain.mlpack")
            try await tamper(["recompress"], pack: pack, output: plain)
            let again = try await mlpack(["verify", plain, "--allow-unsigned"])
            #expect(again.status == 0, "\(again)")
            #expect(again.out.contains("seek index  absent"), "\(again)")
        }
    }

    @Test(
        "One byte of a payload file's data changed in the tar",
        arguments: [
            "data/artifacts/weights.safetensors", "data/code/*/model/net.py", "data/code/*/train.py", "data/pack.json",
        ])
    func payloadByteFlipped(entry: String) async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let members = try await tarMembers(pack)
            let pattern = "demo/" + entry
            let member = try #require(
                members.first { fnmatch(pattern, $0.name, 0) == 0 }, "no member matches \(pattern)")
            let relative = String(member.name.dropFirst("demo/".count))
            let damaged = box.path("damaged.mlpack")
            try await tamper(["flip", "--name", member.name], pack: pack, output: damaged)
            #expect(try await tarMembers(damaged).first { $0.name == member.name }?.sha256 != member.sha256)

            let result = try await mlpack(["verify", damaged, "--allow-unsigned"])
            Self.expectInvalid(result, naming: relative)
            #expect(result.err.contains("sha256"), "\(result)")
            // extract refuses it too, and leaves nothing behind.
            let extract = try await mlpack(["extract", damaged, "--to", box.path("out")])
            Self.expectInvalid(extract, naming: relative)
            #expect(!exists(box.path("out")))
        }
    }

    @Test("One byte flipped in the middle of the compressed file", arguments: [25, 50, 75])
    func compressedByteFlipped(percent: Int) async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let entries = try await Self.entryPaths(pack)
            var bytes = try readBytes(pack)
            // Inside the zstd data frames, not in the seek index that follows them.
            let end = try dataFramesEnd(of: bytes)
            bytes[end * percent / 100] ^= 0x01
            let damaged = box.path("damaged.mlpack")
            try writeBytes(damaged, bytes)

            // A frame checksum covers several entries: naming one of them, or the pack file, is fine.
            let result = try await mlpack(["verify", damaged, "--allow-unsigned"])
            Self.expectInvalid(result, naming: nil, entries: entries + [damaged])
            let extract = try await mlpack(["extract", damaged, "--to", box.path("out")])
            #expect(extract.status == 1, "\(extract)")
            #expect(!exists(box.path("out")))
        }
    }

    /// The same damage in a pack whose weights (1.5 MiB) fill frames of their own: the byte
    /// lands in the weights' frames, well after the first 256 KiB of the tar stream.
    @Test("One byte flipped in the compressed weights of a larger pack", arguments: [50, 90])
    func compressedByteFlippedInLargePack(percent: Int) async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box)
            let weights = try makeWeights(in: box, size: 3 << 19)
            let pack = try await makePack(in: box, code: project.directory, weights: [weights])
            var bytes = try readBytes(pack)
            let end = try dataFramesEnd(of: bytes)
            bytes[end * percent / 100] ^= 0x01
            let damaged = box.path("damaged.mlpack")
            try writeBytes(damaged, bytes)
            let result = try await mlpack(["verify", damaged, "--allow-unsigned"])
            Self.expectInvalid(result, naming: "data/artifacts/weights.safetensors")
        }
    }

    enum Cut: String, CaseIterable, CustomTestStringConvertible {
        case half, minus100, minus10
        var testDescription: String { rawValue }
        func length(of size: Int) -> Int {
            switch self {
            case .half: size / 2
            case .minus100: size - 100
            case .minus10: size - 10
            }
        }
    }

    @Test("A truncated pack", arguments: Cut.allCases)
    func truncated(cut: Cut) async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let entries = try await Self.entryPaths(pack)
            let bytes = try readBytes(pack)
            let damaged = box.path("cut.mlpack")
            try writeBytes(damaged, Array(bytes.prefix(cut.length(of: bytes.count))))

            let result = try await mlpack(["verify", damaged, "--allow-unsigned"])
            Self.expectInvalid(result, naming: nil, entries: entries + [damaged])
            #expect(result.err.contains("truncated") || result.err.contains("corrupt"), "\(result)")
            let extract = try await mlpack(["extract", damaged, "--to", box.path("out")])
            #expect(extract.status == 1, "\(extract)")
            #expect(!exists(box.path("out")))
        }
    }

    @Test("An extra file smuggled into data/")
    func extraFileSmuggled() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let damaged = box.path("extra.mlpack")
            try await tamper(
                ["add", "--kind", "file", "--name", "{top}/data/extra.txt", "--data", "hello\n"], pack: pack,
                output: damaged)
            let result = try await mlpack(["verify", damaged, "--allow-unsigned"])
            Self.expectInvalid(result, naming: "data/extra.txt")
            #expect(result.err.contains("not in the pack's disclosures"), "\(result)")
            let extract = try await mlpack(["extract", damaged, "--to", box.path("out")])
            Self.expectInvalid(extract, naming: "data/extra.txt")
            #expect(!exists(box.path("out")))
            // Also when it comes before every other entry.
            let first = box.path("extra-first.mlpack")
            try await tamper(
                ["add", "--kind", "file", "--name", "{top}/data/extra.txt", "--at", "0"], pack: pack, output: first)
            Self.expectInvalid(try await mlpack(["verify", first, "--allow-unsigned"]), naming: "data/extra.txt")
        }
    }

    @Test("An extra file outside data/")
    func extraTagFile() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let damaged = box.path("extra.mlpack")
            try await tamper(["add", "--kind", "file", "--name", "{top}/notes.txt"], pack: pack, output: damaged)
            Self.expectInvalid(try await mlpack(["verify", damaged, "--allow-unsigned"]), naming: "notes.txt")
        }
    }

    @Test("A payload file removed from the tar")
    func payloadFileRemoved() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let damaged = box.path("removed.mlpack")
            try await tamper(
                ["remove", "--name", "{top}/data/artifacts/weights.safetensors"], pack: pack, output: damaged)
            Self.expectInvalid(
                try await mlpack(["verify", damaged, "--allow-unsigned"]), naming: "data/artifacts/weights.safetensors")
        }
    }

    /// spec/FORMAT.md §6.1 (5): the tar mode of every file below data/ equals the disclosed
    /// mode. model/net.py is a regular file, utils/net_copy.py a hard link to it; both are
    /// disclosed as 0644, and the header is changed to 0755 (a mode the rules allow).
    @Test("A data/ entry whose tar mode differs from its disclosure", arguments: ["model/net.py", "utils/net_copy.py"])
    func modeChanged(file: String) async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let member = try #require(try await tarMembers(pack).first { $0.name.hasSuffix("/" + file) })
            #expect(member.mode == 0o644)
            let damaged = box.path("chmod.mlpack")
            try await tamper(["chmod", "--name", member.name, "--mode", "755"], pack: pack, output: damaged)
            let result = try await mlpack(["verify", damaged, "--allow-unsigned"])
            Self.expectInvalid(result, naming: String(member.name.dropFirst("demo/".count)))
            #expect(result.err.contains("mode"), "\(result)")
            let extract = try await mlpack(["extract", damaged, "--to", box.path("out")])
            #expect(extract.status == 1, "\(extract)")
        }
    }

    @Test(
        "A BagIt or mlpack tag file changed",
        arguments: [
            "manifest-sha256.txt", "tagmanifest-sha256.txt", "bag-info.txt", "bagit.txt", "mlpack/manifest.json",
            "mlpack/disclosures.json",
        ])
    func tagFileChanged(file: String) async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let damaged = box.path("tag.mlpack")
            try await tamper(["flip", "--name", "{top}/" + file, "--offset", "10"], pack: pack, output: damaged)
            let result = try await mlpack(["verify", damaged, "--allow-unsigned"])
            #expect(result.status == 1, "\(result)")
            let errors = result.errLines.filter { $0.hasPrefix("mlpack: error: ") }
            #expect(errors.count == 1, "\(result)")
            #expect(
                errors.first?.contains(file) == true || errors.first?.contains("mlpack/") == true,
                "the error does not name \(file): \(result)")
        }
    }

    @Test("The BagIt payload manifest changed: verify and sha256sum -c both reject it")
    func bagitManifestChanged() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let damaged = box.path("bag.mlpack")
            try await tamper(
                ["flip", "--name", "{top}/manifest-sha256.txt", "--offset", "0"], pack: pack, output: damaged)
            let result = try await mlpack(["verify", damaged, "--allow-unsigned"])
            Self.expectInvalid(result, naming: "manifest-sha256.txt")
            #expect(result.err.contains("BagIt"), "\(result)")
            // The standard tools agree.
            let out = try box.mkdir("by-hand")
            try await must("tar", ["--zstd", "-xf", damaged, "-C", out])
            let check = try await run("sha256sum", ["-c", "manifest-sha256.txt"], cwd: out + "/demo")
            #expect(check.status != 0, "\(check)")
        }
    }

    /// The seek index is a hint (spec/FORMAT.md §3, §6.1): a lying or broken index is
    /// reported, readers fall back to a sequential scan, and the pack stays valid.
    @Test("A lying or broken seek index is reported, not trusted", arguments: ["index-shift", "index-garble"])
    func damagedSeekIndex(change: String) async throws {
        try await withSandbox { box in
            let (pack, _, weights) = try await makeStandardPack(in: box)
            let damaged = box.path("index.mlpack")
            let arguments =
                change == "index-shift"
                ? [change, "--name", "{top}/data/artifacts/weights.safetensors", "--delta", "512"] : [change]
            try await tamper(arguments, pack: pack, output: damaged)
            #expect(try readBytes(damaged) != readBytes(pack))

            let verify = try await mlpack(["verify", damaged, "--allow-unsigned", "--json"])
            #expect(verify.status == 0, "\(verify)")
            let object = try JSONSerialization.jsonObject(with: verify.stdout) as? [String: Any]
            let status = object?["seekIndex"] as? String ?? ""
            #expect(status.contains("damaged"), "verify does not report the damaged index: \(verify)")

            let extract = try await mlpack([
                "extract", damaged, "--to", box.path("out"), "--only", "*.safetensors", "--json",
            ])
            #expect(extract.status == 0, "\(extract)")
            #expect(try decodeJSON(ExtractJSON.self, extract).readThrough == "sequential scan")
            #expect(
                try readBytes(box.path("out/artifacts/weights.safetensors")) == readBytes(weights),
                "extract --only handed out bytes read through a lying index")
            let inspect = try await mlpack(["inspect", damaged, "--json"])
            #expect(inspect.status == 0, "\(inspect)")
        }
    }

    @Test("A tampered pack read from a pipe is rejected too")
    func tamperedFromPipe() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let damaged = box.path("damaged.mlpack")
            try await tamper(
                ["flip", "--name", "{top}/data/artifacts/weights.safetensors"], pack: pack, output: damaged)
            let result = try await mlpackFromPipe(damaged, ["verify", "-", "--allow-unsigned"])
            Self.expectInvalid(result, naming: "data/artifacts/weights.safetensors")
            let good = try await mlpackFromPipe(pack, ["verify", "-", "--allow-unsigned"])
            #expect(good.status == 0, "\(good)")
            #expect(good.out.contains("not read (input is not seekable)"), "\(good)")
            let extract = try await mlpackFromPipe(damaged, ["extract", "-", "--to", box.path("out")])
            Self.expectInvalid(extract, naming: "data/artifacts/weights.safetensors")
            #expect(!exists(box.path("out")))
        }
    }

    // MARK: - Not a pack; unsigned

    @Test("A missing pack file: exit 2, naming the file")
    func missingPack() async throws {
        try await withSandbox { box in
            let missing = box.path("no-such.mlpack")
            for command in [
                ["verify", missing, "--allow-unsigned"], ["inspect", missing],
                ["extract", missing, "--to", box.path("out")],
            ] {
                let result = try await mlpack(command)
                #expect(result.status == 2, "\(result)")
                #expect(result.err.hasPrefix("mlpack: error: ") && result.err.contains(missing), "\(result)")
            }
            #expect(!exists(box.path("out")))
        }
    }

    enum NotAPack: String, CaseIterable, CustomTestStringConvertible {
        case text, randomBytes, emptyFile, zstdOfText, directory
        var testDescription: String { rawValue }
    }

    @Test("A file that is not a pack: exit 2 with one 'mlpack: error:' line", arguments: NotAPack.allCases)
    func notAPack(kind: NotAPack) async throws {
        try await withSandbox { box in
            let path = box.path("input.mlpack")
            switch kind {
            case .text: try box.write("input.mlpack", "hello, this is not a pack\n")
            case .randomBytes: try box.write("input.mlpack", pseudoRandomBytes(5000, seed: 7))
            case .emptyFile: try box.write("input.mlpack", [])
            case .zstdOfText:
                try box.write("plain.txt", "hello, compressed but not a tar\n")
                try await must("zstd", ["-q", box.path("plain.txt"), "-o", path])
            case .directory: try box.mkdir("input.mlpack")
            }
            for command in [
                ["verify", path, "--allow-unsigned"], ["inspect", path], ["extract", path, "--to", box.path("out")],
            ] {
                let result = try await mlpack(command)
                #expect(result.status == 2, "\(result)")
                #expect(result.err.hasPrefix("mlpack: error: "), "expected an 'mlpack: error: …' message: \(result)")
                #expect(result.errLines.count == 1, "\(result)")
                #expect(result.err.contains("input.mlpack"), "the message does not name the file: \(result)")
            }
            #expect(!exists(box.path("out")))
        }
    }

    @Test("A zstd-compressed tar that is not a pack is rejected")
    func foreignTar() async throws {
        try await withSandbox { box in
            let path = box.path("foreign.mlpack")
            try box.write("stuff/readme.txt", "hi\n")
            try await must("tar", ["--zstd", "-cf", path, "-C", box.root, "stuff/readme.txt"])
            let result = try await mlpack(["verify", path, "--allow-unsigned"])
            // Exit 1 (breaks the layout rules) or 2 (not a pack) are both fair; 0 is not.
            #expect([1, 2].contains(result.status), "\(result)")
            #expect(result.err.hasPrefix("mlpack: error: "), "\(result)")
        }
    }

    @Test("An unsigned pack: verify exits 3 without --allow-unsigned, 0 with it")
    func unsignedPack() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let strict = try await mlpack(["verify", pack])
            #expect(strict.status == 3, "\(strict)")
            #expect(strict.err.contains("unsigned"), "\(strict)")
            let allowed = try await mlpack(["verify", pack, "--allow-unsigned"])
            #expect(allowed.status == 0, "\(allowed)")
            let json = try await mlpack(["verify", pack, "--allow-unsigned", "--json"])
            #expect(json.status == 0, "\(json)")
            let object = try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any]
            #expect(object?["verdict"] as? String == "verified")
            #expect(object?["signature"] as? String == "unsigned")
            #expect(object?["items"] as? Int == 9 + EnvironmentItems.count)
            let strictJSON = try await mlpack(["verify", pack, "--json"])
            #expect(strictJSON.status == 3, "\(strictJSON)")
            let strictObject = try JSONSerialization.jsonObject(with: strictJSON.stdout) as? [String: Any]
            #expect(strictObject?["verdict"] as? String == "untrusted")
            // From a pipe, the same.
            #expect(try await mlpackFromPipe(pack, ["verify", "-"]).status == 3)
            #expect(try await mlpackFromPipe(pack, ["verify", "-", "--allow-unsigned"]).status == 0)
        }
    }
}

/// A file changed in the tar while the seek index and the disclosures are left as they were:
/// what reads through the index must not vouch for it (issue 16).
@Suite("Tampering behind an intact seek index")
struct IndexKeptTamperingTests {
    @Test(
        "train.py's bytes changed, index kept: diff fails naming the pack and the file; inspect says files not checked")
    func trainPyChangedBehindTheIndex() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let train = try #require(
                try await tarMembers(pack).first { fnmatch("demo/data/code/*/train.py", $0.name, 0) == 0 })
            let damaged = box.path("damaged.mlpack")
            try await tamper(["flip-keep-index", "--name", train.name], pack: pack, output: damaged)
            #expect(try await tarMembers(damaged).first { $0.name == train.name }?.sha256 != train.sha256)
            let relative = String(train.name.dropFirst("demo/".count))

            // The index still leads to a consistent manifest and disclosures.
            let inspect = try await mlpack(["inspect", damaged, "--json"])
            #expect(inspect.status == 0, "\(inspect)")
            let report = try #require(try JSONSerialization.jsonObject(with: inspect.stdout) as? [String: Any])
            #expect(report["readThrough"] as? String == "seek index")
            #expect(report["filesChecked"] as? Bool == false, "\(inspect)")
            let text = try await mlpack(["inspect", damaged])
            #expect(text.out.contains("files     not checked"), "\(text)")

            for (a, b) in [(pack, damaged), (damaged, pack)] {
                let diff = try await mlpack(["diff", a, b])
                TamperingTests.expectInvalid(diff, naming: relative)
                #expect(diff.err.contains(damaged), "the error does not name the damaged pack: \(diff)")
                #expect(!diff.out.contains("the same"), "\(diff)")
            }
            let verify = try await mlpack(["verify", damaged, "--allow-unsigned"])
            TamperingTests.expectInvalid(verify, naming: relative)

            // A sequential scan hashes every file: inspect of the untouched pack, re-compressed, says so.
            let plain = box.path("plain.mlpack")
            try await tamper(["recompress"], pack: pack, output: plain)
            let scanned = try #require(
                try JSONSerialization.jsonObject(with: try await mlpack(["inspect", plain, "--json"]).stdout)
                    as? [String: Any])
            #expect(scanned["filesChecked"] as? Bool == true)
        }
    }
}
