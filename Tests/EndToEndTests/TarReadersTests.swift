import Foundation
import TestSupport
import Testing

/// spec/FORMAT.md §2.3: one tar dialect, so what `mlpack verify` checked is what every tar
/// reader extracts. Each pack mlpack accepts is extracted by GNU tar, bsdtar and Python's
/// tarfile, and all three must give the same files, bytes and modes, whose payload is what
/// `mlpack extract` gives.
@Suite("Three tar readers, one pack")
struct TarReadersTests {
    @Test("GNU tar, bsdtar and Python's tarfile extract identical trees from every pack mlpack accepts")
    func readersAgreeOnAcceptedPacks() async throws {
        try await withSandbox { box in
            // Every corpus pack, the hostile ones too: whichever the binary accepts must read
            // the same under every reader (the pax global header case is the two-readers attack).
            var packs = [try await makeAwkwardPack(in: box)]
            let corpus = Repo.root + "/fixtures/conformance/packs"
            packs += try FileManager.default.contentsOfDirectory(atPath: corpus).sorted().map { corpus + "/" + $0 }
            var accepted = 0
            for (number, pack) in packs.enumerated() {
                let verify = try await mlpack(["verify", pack, "--allow-unsigned"])
                guard verify.status == 0 || verify.status == 3 else { continue }
                accepted += 1
                let trees = try await extractWithEveryReader(pack, into: try box.mkdir("readers-\(number)"))
                let gnu = trees["GNU tar"]!
                #expect(!gnu.files.isEmpty, "\(pack): GNU tar extracted nothing")
                for (reader, tree) in trees where reader != "GNU tar" {
                    #expect(tree.listing == gnu.listing, "\(pack): \(reader) and GNU tar list different files or modes")
                    #expect(tree.files == gnu.files, "\(pack): \(reader) and GNU tar extract different bytes")
                }

                let byMLPack = box.path("mlpack-\(number)")
                let extract = try await mlpack(["extract", pack, "--to", byMLPack])
                #expect(extract.status == 0, "\(pack): \(extract)")
                let top = try #require(try FileManager.default.contentsOfDirectory(atPath: gnu.root).first)
                var payload = try filesBelow(gnu.root + "/" + top + "/data")
                payload["ro-crate-metadata.json"] = nil  // derived, not an item
                #expect(try filesBelow(byMLPack) == payload, "\(pack): mlpack extract differs from the tar readers")
            }
            #expect(accepted >= 8, "only \(accepted) packs accepted: the comparison proves little")
        }
    }

    private struct Tree {
        var root: String
        var listing: [String: String]
        var files: [String: [UInt8]]
    }

    private func extractWithEveryReader(_ pack: String, into folder: String) async throws -> [String: Tree] {
        let commands: [(String, String)] = [
            ("GNU tar", #"tar --zstd -xf "$1" -C "$2""#),
            ("bsdtar", #"bsdtar -xf "$1" -C "$2""#),
            (
                "Python tarfile",
                #"zstd -q -dc "$1" | python3 -c 'import sys, tarfile; tarfile.open(fileobj=sys.stdin.buffer, mode="r|").extractall(sys.argv[1], filter="fully_trusted")' "$2""#
            ),
        ]
        var trees: [String: Tree] = [:]
        for (number, (reader, command)) in commands.enumerated() {
            let out = folder + "/\(number)"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let result = try await sh(command, [pack, out])
            #expect(result.status == 0, "\(reader) on \(pack): \(result)")
            trees[reader] = Tree(root: out, listing: treeListing(out), files: try filesBelow(out))
        }
        return trees
    }

    /// Names and shapes tar formats handle in different ways: non-ASCII and long names (pax
    /// `path` records), identical bytes under two modes (a hard link), an empty file, an
    /// executable, and weights large enough to span frames.
    private func makeAwkwardPack(in box: Sandbox) async throws -> String {
        let long = String(repeating: "deeply-nested-folder/", count: 6) + "a-file-name-past-the-ustar-limit.py"
        let project = try makeProject(
            in: box,
            files: [
                SourceFile("train.py", "print('train')\n"),
                SourceFile("données/café.txt", "non-ASCII names\n"),
                SourceFile(long, "# a long name\n"),
                SourceFile("same_a.sh", "#!/bin/sh\necho same\n", mode: 0o644),
                SourceFile("same_b.sh", "#!/bin/sh\necho same\n", mode: 0o755),
                SourceFile("empty.txt", ""),
            ])
        let weights = try makeWeights(in: box, size: 6 << 20)
        return try await makePack(in: box, code: project.directory, weights: [weights])
    }
}
