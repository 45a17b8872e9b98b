import Foundation
import TestSupport
import Testing

/// A pack can be opened and checked with standard tools only: GNU tar, bsdtar, zstd,
/// sha256sum and the BagIt reference validator (README "Checking a pack without mlpack").
@Suite("Interop with standard tools")
struct StandardToolsTests {
    @Test("tar --zstd -xf gives one top-level folder whose manifests pass sha256sum -c and bagit --validate")
    func tarExtractionIsAValidBag() async throws {
        try await withSandbox { box in
            let (pack, project, weights) = try await makeStandardPack(in: box)
            let out = try box.mkdir("by-hand")
            try await must("tar", ["--zstd", "-xf", pack, "-C", out])

            let top = try FileManager.default.contentsOfDirectory(atPath: out)
            #expect(top == ["demo"], "expected exactly one top-level directory 'demo', found \(top)")
            let bag = out + "/demo"
            #expect(fileInfo(bag)?.kind == .directory)

            for manifest in ["manifest-sha256.txt", "tagmanifest-sha256.txt"] {
                let check = try await run("sha256sum", ["--strict", "-c", manifest], cwd: bag)
                #expect(check.status == 0, "sha256sum -c \(manifest) failed: \(check)")
                #expect(!check.out.contains("FAILED"), "\(check)")
            }
            let manifestLines = try String(contentsOfFile: bag + "/manifest-sha256.txt", encoding: .utf8).split(
                separator: "\n")
            // Every payload file is listed: the code, the snapshot descriptor, the card, the weights
            // and the RO-Crate view (and the environment capture, counted apart).
            #expect(
                withoutEnvironment(manifestLines).count == project.files.count + 4,
                "manifest-sha256.txt: \(manifestLines)")
            #expect(
                manifestLines.count == project.files.count + 4 + EnvironmentItems.count,
                "manifest-sha256.txt: \(manifestLines)")
            #expect(manifestLines.contains { $0.hasSuffix("  data/ro-crate-metadata.json") })
            let tagLines = try String(contentsOfFile: bag + "/tagmanifest-sha256.txt", encoding: .utf8).split(
                separator: "\n")
            for tag in [
                "bagit.txt", "bag-info.txt", "manifest-sha256.txt", "mlpack/disclosures.json", "mlpack/manifest.json",
            ] {
                #expect(tagLines.contains { $0.hasSuffix("  " + tag) }, "tagmanifest-sha256.txt does not list \(tag)")
            }

            let bagit = try await run("python3", ["-m", "bagit", "--validate", bag])
            #expect(bagit.status == 0, "bagit --validate failed: \(bagit)")
            #expect(bagit.err.contains("is valid"), "\(bagit)")

            // The weights came through tar unchanged.
            #expect(try readBytes(bag + "/data/artifacts/weights.safetensors") == readBytes(weights))
        }
    }

    @Test("bsdtar -tf and `zstd -dc | tar -t` list the same members, as Python's tarfile does")
    func tarListingsAgree() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let bsdtar = try await must("bsdtar", ["-tf", pack])
            let gnu = try await sh(#"zstd -q -dc "$1" | tar -t"#, [pack])
            #expect(gnu.status == 0, "\(gnu)")
            let bsdList = bsdtar.out.split(separator: "\n").map(String.init)
            let gnuList = gnu.out.split(separator: "\n").map(String.init)
            #expect(!bsdList.isEmpty)
            #expect(bsdList == gnuList)
            let members = try await tarMembers(pack).map(\.name)
            #expect(members == gnuList)
            #expect(members.allSatisfy { $0.hasPrefix("demo/") })
            for required in [
                "demo/bagit.txt", "demo/bag-info.txt", "demo/manifest-sha256.txt", "demo/tagmanifest-sha256.txt",
                "demo/mlpack/manifest.json", "demo/mlpack/disclosures.json", "demo/data/pack.json",
                "demo/data/artifacts/weights.safetensors",
            ] {
                #expect(members.contains(required), "missing \(required) in \(members)")
            }
            // bsdtar extracts it as well.
            let out = try box.mkdir("by-bsdtar")
            try await must("bsdtar", ["-xf", pack, "-C", out])
            let check = try await run("sha256sum", ["-c", "manifest-sha256.txt"], cwd: out + "/demo")
            #expect(check.status == 0, "\(check)")
        }
    }

    @Test("The tar stream holds only regular files and hard links, with no owner and the --created time")
    func tarHeadersAreNormalised() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let members = try await tarMembers(pack)
            for member in members {
                #expect(member.isRegular || member.isHardlink, "\(member.name) has tar type \(member.type)")
                #expect(member.uid == 0 && member.gid == 0 && member.uname.isEmpty && member.gname.isEmpty, "\(member)")
                #expect(Int64(member.mtime) == Fixture.createdEpoch, "\(member.name) mtime \(member.mtime)")
                #expect([0o644, 0o755].contains(member.mode), "\(member.name) mode \(String(member.mode, radix: 8))")
            }
            // model/net.py and utils/net_copy.py have the same bytes: stored once.
            let links = members.filter(\.isHardlink)
            #expect(links.count == 1, "hard links: \(links.map(\.name))")
            if let link = links.first {
                #expect(link.name.hasSuffix("/utils/net_copy.py"))
                #expect(link.linkname.hasSuffix("/model/net.py"))
                #expect(link.size == 0)
            }
            // Items first (sorted bytewise), then the tag files in the order of spec/FORMAT.md §4.
            let names = members.map(\.name)
            let items = names.prefix { $0.hasPrefix("demo/data/") }
            #expect(Array(items) == items.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            #expect(
                Array(names.dropFirst(items.count)) == [
                    "demo/bagit.txt", "demo/bag-info.txt", "demo/manifest-sha256.txt", "demo/mlpack/disclosures.json",
                    "demo/mlpack/manifest.json", "demo/tagmanifest-sha256.txt",
                ])
        }
    }

    /// spec/FORMAT.md §6.1 (5): every file below data/ has the size, SHA-256 *and tar mode*
    /// of its disclosure. Read the disclosures with standard tools and compare each header.
    @Test("Every data/ member's tar header mode equals its disclosed mode (hard links included)")
    func tarModesMatchDisclosures() async throws {
        try await withSandbox { box in
            let script = "#!/bin/sh\necho same bytes\n"
            let project = try makeProject(
                in: box,
                files: [
                    SourceFile("a_notes.sh", script, mode: 0o644),
                    SourceFile("run.sh", script, mode: 0o755),
                    SourceFile("tool.sh", "#!/bin/sh\necho tool\n", mode: 0o755),
                    SourceFile("tool_copy.sh", "#!/bin/sh\necho tool\n", mode: 0o755),
                ])
            let pack = try await makePack(in: box, code: project.directory)
            let out = try box.mkdir("by-hand")
            try await must("tar", ["--zstd", "-xf", pack, "-C", out])
            let disclosures = try readDisclosures(out + "/demo/mlpack/disclosures.json")
            // Every item; the RO-Crate view is derived, not an item.
            let members = try await tarMembers(pack).filter {
                $0.name.hasPrefix("demo/data/") && $0.name != "demo/data/ro-crate-metadata.json"
            }
            #expect(members.count == disclosures.count)
            for member in members {
                let path = String(member.name.dropFirst("demo/data/".count))
                let disclosed = try #require(disclosures[path], "\(path) has no disclosure")
                #expect(
                    member.mode == disclosed.mode,
                    "\(member.name) (\(member.isHardlink ? "hard link" : "file")): tar mode \(String(member.mode, radix: 8)), disclosed \(String(disclosed.mode, radix: 8))"
                )
                if let source = project.files.first(where: { path.hasSuffix("/" + $0.path) }) {
                    #expect(disclosed.mode == source.mode, "\(path): disclosed mode differs from the source's")
                }
            }
        }
    }

    /// Files with identical bytes are stored once, as a hard link to the first. An extracted
    /// hard link shares its target's inode and so its mode: if the two files have different
    /// modes, standard tar gives both the first one's mode, and an executable script loses
    /// its x bit (or a plain file gains one), although the pack discloses 0755 (resp. 0644).
    @Test("tar --zstd -xf keeps each code file's mode, also for files with identical bytes")
    func tarExtractionKeepsModesOfDeduplicatedFiles() async throws {
        try await withSandbox { box in
            let script = "#!/bin/sh\necho same bytes\n"
            let project = try makeProject(
                in: box,
                files: [
                    SourceFile("a_notes.sh", script, mode: 0o644),  // first in byte order: holds the data
                    SourceFile("run.sh", script, mode: 0o755),  // same bytes, executable: a hard link
                    SourceFile("z_plain.sh", script, mode: 0o644),
                ])
            let pack = try await makePack(in: box, code: project.directory)
            let out = try box.mkdir("by-hand")
            try await must("tar", ["--zstd", "-xf", pack, "-C", out])
            let snapshot = try codeSnapshot(of: try await inspectJSON(pack))
            for file in project.files {
                let extracted = out + "/demo/data/" + snapshot + "/" + file.path
                #expect(try readBytes(extracted) == file.bytes)
                let mode = fileInfo(extracted)?.mode ?? 0
                #expect(
                    mode == file.mode,
                    "tar extracted \(file.path) with mode \(String(mode, radix: 8)); the source (and the pack's disclosure) has \(String(file.mode, radix: 8))"
                )
            }
        }
    }

    /// The README's "Checking a pack without mlpack", run as written: it must pass on the
    /// author's pack and fail on one whose file was edited and whose BagIt lists were
    /// regenerated (which sha256sum -c, bagit --validate and minisign all still accept).
    @Test("The README's check without mlpack binds the files to the signature")
    func readmeCheckBindsFilesToTheSignature() async throws {
        try await withSandbox { box in
            let (pack, key) = try await makeSignedPack(in: box)
            let readme = try String(contentsOfFile: Repo.root + "/README.md", encoding: .utf8)
            let section = try #require(readme.range(of: "## Checking a pack without mlpack"))
            let start = try #require(readme.range(of: "```sh\n", range: section.upperBound..<readme.endIndex))
            let end = try #require(readme.range(of: "\n```", range: start.upperBound..<readme.endIndex))
            // The RO-Crate validator needs the network; every other line runs as written.
            let steps = readme[start.upperBound..<end.lowerBound].split(
                separator: "\n", omittingEmptySubsequences: false
            )
            .filter { !$0.hasPrefix("rocrate-validator") }.joined(separator: "\n")
            .replacingOccurrences(of: "spirals.mlpack", with: "\"$PACK\"")
            .replacingOccurrences(of: "cd spirals", with: "cd demo")
            .replacingOccurrences(of: "author.pub", with: "\"$KEY\"")
            func check(_ pack: String, in folder: String) async throws -> ProcessResult {
                try await run(
                    "/bin/bash", ["-e", "-c", steps], cwd: try box.mkdir(folder),
                    environment: ["PACK": pack, "KEY": key + ".pub"])
            }
            let good = try await check(pack, in: "good")
            #expect(good.status == 0, "the README's check fails on the author's pack: \(good)")

            // The forgery: one code file edited (same size), the BagIt lists regenerated.
            let forged = try box.mkdir("forge")
            try await must("tar", ["--zstd", "-xf", pack, "-C", forged])
            try await must(
                "sh",
                [
                    "-c",
                    #"""
                    cd "$1/demo" && f=$(find data/code -name train.py) && sed -i 's/0/1/' "$f" &&
                    find data -type f | sort | xargs sha256sum > manifest-sha256.txt &&
                    sha256sum bagit.txt bag-info.txt manifest-sha256.txt mlpack/* > tagmanifest-sha256.txt
                    """#, "sh", forged,
                ])
            let bagit = try await run("python3", ["-m", "bagit", "--validate", forged + "/demo"])
            #expect(bagit.status == 0, "the forgery is meant to be a valid bag: \(bagit)")
            let forgedPack = box.path("forged.mlpack")
            try await must("tar", ["--zstd", "-cf", forgedPack, "-C", forged, "demo"])
            let bad = try await check(forgedPack, in: "bad")
            #expect(bad.status != 0, "the README's check passes an edited pack: \(bad)")
            #expect(bad.err.contains("not the signed content"), "\(bad)")
        }
    }
}
