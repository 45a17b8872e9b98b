import Foundation
import TestSupport
import Testing

/// Non-ASCII file names survive create → extract and create → tar --zstd -xf byte for byte.
@Suite("Non-ASCII file names")
struct UnicodeNameTests {
    static let files: [SourceFile] = [
        SourceFile("café/naïve.py", "# -*- coding: utf-8 -*-\nprint('naïve café')\n"),
        SourceFile("日本語.txt", "こんにちは、世界\n"),
        SourceFile("données/modèle_α.py", "ALPHA = 'α'\n", mode: 0o755),
        SourceFile("emoji/🚀 launch.md", "# 🚀\n"),
        SourceFile("Ünïcödé/ß/ø.yaml", "key: värde\n"),
        SourceFile("plain/ascii.py", "print('ascii')\n"),
    ]

    @Test("create → mlpack extract keeps every non-ASCII name and byte")
    func mlpackRoundTrip() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box, files: Self.files)
            let weights = try makeWeights(in: box, at: "poids-réseau.bin", size: 1500)
            let pack = try await makePack(in: box, code: project.directory, weights: [weights])

            let report = try await inspectJSON(pack)
            let snapshot = try codeSnapshot(of: report)
            let listed = Set(report.files.map(\.path))
            for file in Self.files {
                #expect(
                    listed.contains(snapshot + "/" + file.path),
                    "inspect does not list \(file.path): \(listed.sorted())")
            }
            #expect(listed.contains("artifacts/poids-réseau.bin"))

            let out = box.path("out")
            let result = try await mlpack(["extract", pack, "--to", out])
            #expect(result.status == 0, "\(result)")
            let extracted = try filesBelow(out + "/" + snapshot)
            let expected = Dictionary(uniqueKeysWithValues: Self.files.map { ($0.path, $0.bytes) })
            #expect(Set(extracted.keys) == Set(expected.keys))
            for (path, bytes) in expected {
                #expect(extracted[path] == bytes, "\(path) differs after extract")
            }
            // The names on disk are the exact UTF-8 bytes we wrote, not just equal as Strings.
            let names = try FileManager.default.contentsOfDirectory(atPath: out + "/" + snapshot)
            #expect(names.contains { Array($0.utf8) == Array("日本語.txt".utf8) }, "\(names)")
            let cafe = try FileManager.default.contentsOfDirectory(atPath: out + "/" + snapshot + "/café")
            #expect(cafe.map { Array($0.utf8) } == [Array("naïve.py".utf8)], "\(cafe)")
            #expect(try readBytes(out + "/artifacts/poids-réseau.bin") == readBytes(weights))
            #expect(fileInfo(out + "/" + snapshot + "/données/modèle_α.py")?.mode == 0o755)

            let verify = try await mlpack(["verify", pack, "--allow-unsigned"])
            #expect(verify.status == 0, "\(verify)")
            // --only with non-ASCII globs (a name, and a path anchored at the item root).
            let only = try await mlpack([
                "extract", pack, "--to", box.path("only"), "--only", "naïve.py", "--only", "code/*/日本語.*",
            ])
            #expect(only.status == 0, "\(only)")
            #expect(Set(try filesBelow(box.path("only")).keys) == [snapshot + "/café/naïve.py", snapshot + "/日本語.txt"])
        }
    }

    @Test("create → tar --zstd -xf and bsdtar -xf keep every non-ASCII name and byte; sha256sum -c and bagit pass")
    func tarRoundTrip() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box, files: Self.files)
            let pack = try await makePack(in: box, code: project.directory)
            let snapshot = try codeSnapshot(of: try await inspectJSON(pack))

            for (tool, arguments) in [("tar", ["--zstd", "-xf", pack]), ("bsdtar", ["-xf", pack])] {
                let out = try box.mkdir("by-\(tool)")
                try await must(tool, arguments + ["-C", out])
                let extracted = try filesBelow(out + "/demo/data/" + snapshot)
                for file in Self.files {
                    #expect(
                        extracted[file.path] == file.bytes,
                        "\(tool): \(file.path) is missing or differs; have \(extracted.keys.sorted())")
                }
                #expect(extracted.count == Self.files.count, "\(tool): \(extracted.keys.sorted())")
                let check = try await run("sha256sum", ["-c", "manifest-sha256.txt"], cwd: out + "/demo")
                #expect(check.status == 0, "\(tool): \(check)")
                let bagit = try await run("python3", ["-m", "bagit", "--validate", out + "/demo"])
                #expect(bagit.status == 0, "\(tool): \(bagit)")
            }
        }
    }

    @Test("A decomposed (NFD) file name is refused by create with a usage error, not packed under another name")
    func decomposedNameRefused() async throws {
        try await withSandbox { box in
            // "é" as e + U+0301: packs hold NFC names only (spec/FORMAT.md §7.1).
            let project = try makeProject(in: box, files: [SourceFile("ok.py", "x = 1\n")])
            try box.write("project/cafe\u{0301}.py", "y = 2\n")
            let arguments = [
                "create", "--output", box.path("p.mlpack"), "--code", project.directory, "--unsigned", "--created",
                Fixture.created,
            ]
            let result = try await mlpack(arguments)
            #expect(result.status == 2, "\(result)")
            #expect(result.err.contains("NFC"), "\(result)")
            #expect(!exists(box.path("p.mlpack")))
            // Excluding it makes create succeed.
            let excluded = try await mlpack(arguments + ["--exclude", "cafe*.py"])
            #expect(excluded.status == 0, "\(excluded)")
        }
    }
}
