import Foundation
import TestSupport
import Testing

@testable import MLPack

/// A small code folder: nested files, an executable, an empty file, a duplicate (stored as a
/// hard link), a non-ASCII name. Returns the files' bytes by relative path.
@discardableResult
func makeProject(in dir: TempDir, folder: String = "project") throws -> [String: [UInt8]] {
    let files: [String: [UInt8]] = [
        "train.py": Array("import torch\nprint('training')\n".utf8),
        "copy_of_train.py": Array("import torch\nprint('training')\n".utf8),
        "pkg/__init__.py": [],
        "pkg/model.py": Array("class Model:\n    pass\n".utf8),
        "scripts/run.sh": Array("#!/bin/sh\npython train.py\n".utf8),
        "configs/base.yaml": Array("lr: 0.001\nepochs: 3\n".utf8),
        "notes/café 日本.txt": Array("unicode name\n".utf8),
    ]
    for (relative, bytes) in files {
        try dir.write(folder + "/" + relative, bytes, executable: relative.hasSuffix(".sh"))
    }
    return files
}

/// The code snapshot directory the spec derives from the files: `code/<12 hex of the tree digest>`.
func expectedSnapshot(_ files: [String: [UInt8]]) -> String {
    let listing = files.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        .map { "\(sha256Hex(files[$0]!))  \($0)\n" }.joined()
    return "code/" + sha256Hex(Array(listing.utf8)).prefix(12)
}

func createOptions(
    _ dir: TempDir, output: String = "demo.mlpack", code: String? = "project", weights: [String]
) -> CreateOptions {
    var options = CreateOptions(output: dir.path(output), created: testCreated)
    options.codeDirectory = code.map(dir.path)
    options.weights = weights.map(dir.path)
    options.name = "demo"
    options.title = "Round trip"
    return options
}

func allowUnsigned(_ limits: ReaderLimits = .init()) -> VerifyOptions {
    var options = VerifyOptions()
    options.allowUnsigned = true
    options.limits = limits
    return options
}

/// Checks the frame layout of spec §2.2 through the seek index; returns the loaded index.
@discardableResult
func checkFrameLayout(_ packPath: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> SeekIndex {
    let pack = try PackFile(path: packPath, limits: .init())
    let loaded = try pack.index.get()
    let index = loaded.index
    let chunk = UInt64(4 << 20)
    let starts = Set(index.frames.map(\.uncompressedOffset))
    #expect(
        index.frames.first == SeekIndex.Frame(compressedOffset: 0, uncompressedOffset: 0),
        sourceLocation: sourceLocation)
    let boundaries = index.frames.map(\.uncompressedOffset) + [index.tarSize]
    for (a, b) in zip(boundaries, boundaries.dropFirst()) {
        #expect(b > a && b - a <= chunk, "frame of \(b - a) bytes at \(a)", sourceLocation: sourceLocation)
    }
    for entry in index.entries where entry.hardlinkTarget == nil && entry.size >= 1 << 20 {
        var offset = entry.dataOffset
        while offset < entry.dataOffset + entry.size {
            #expect(
                starts.contains(offset), "\(entry.path): no frame starts at \(offset)", sourceLocation: sourceLocation)
            offset += chunk
        }
        #expect(
            starts.contains(entry.dataOffset + entry.size), "\(entry.path): no frame starts after its data",
            sourceLocation: sourceLocation)
    }
    #expect(loaded.offset < pack.size!, sourceLocation: sourceLocation)
    #expect(
        pack.size! - loaded.offset == UInt64(try index.encodedTrailer().count),
        "the index is the last thing in the file", sourceLocation: sourceLocation)
    return index
}

@Suite("Round trips through the library API")
struct RoundTripTests {
    static let bigSize = 5 << 20 + 12_345

    @Test("code + 5 MiB of random weights: create, verify, inspect, extract")
    func randomWeights() throws {
        try withTemporaryDirectory { dir in
            let code = try makeProject(in: dir)
            let weights = randomBytes(Self.bigSize)
            try dir.write("big.bin", weights)
            let created = try PackCreator.create(createOptions(dir, weights: ["big.bin"]))
            let snapshot = expectedSnapshot(code)
            #expect(created.name == "demo")
            #expect(created.created == "2026-11-27T12:00:00Z")
            // + weights, snapshot descriptor, card, environment capture
            #expect(created.items == code.count + 3 + EnvironmentItems.count)
            #expect(created.signer == nil)
            #expect(created.warnings.isEmpty)
            let packPath = dir.path("demo.mlpack")
            #expect(created.packBytes == FileSystem.status(packPath)?.size)
            // Random bytes do not compress: the pack is about the size of its payload.
            #expect(created.packBytes > UInt64(Self.bigSize))
            #expect(created.packBytes < UInt64(Self.bigSize) + 64 << 10)

            // verify
            let report = try PackVerifier.verify(packPath, options: allowUnsigned())
            #expect(report.verdict == .verified)
            #expect(report.signature == "unsigned")
            #expect(report.seekIndex == "valid")
            #expect(report.warnings.isEmpty)
            #expect(report.items == created.items)
            #expect(report.withheld == 0)
            #expect(report.packId == created.packId)
            #expect(report.title == "Round trip")
            #expect(report.name == "demo")
            #expect(report.payloadBytes == created.payloadBytes)
            #expect(try PackVerifier.verify(packPath).verdict == .untrusted)

            // inspect
            let inspected = try PackInspector.inspect(packPath)
            #expect(inspected.readThrough == "seek index")
            #expect(inspected.warnings.isEmpty)
            #expect(inspected.name == "demo")
            #expect(inspected.packId == created.packId)
            #expect(inspected.created == "2026-11-27T12:00:00Z")
            #expect(inspected.title == "Round trip")
            #expect(inspected.signer == "unsigned")
            #expect(inspected.signature == "unsigned")
            #expect(inspected.withheld == 0)
            #expect(inspected.packBytes == created.packBytes)
            #expect(inspected.outputs == [Card.Output(path: "artifacts/big.bin", role: .weights)])
            var expected: [String: (Role, [UInt8])] = ["artifacts/big.bin": (.weights, weights)]
            for (relative, bytes) in code { expected[snapshot + "/" + relative] = (.code, bytes) }
            let byPath = Dictionary(uniqueKeysWithValues: inspected.files.map { ($0.path, $0) })
            for (path, (role, bytes)) in expected {
                let file = try #require(byPath[path], "\(path) missing from inspect")
                #expect(file.role == role)
                #expect(file.size == UInt64(bytes.count))
                #expect(file.sha256 == sha256Hex(bytes), "\(path)")
            }
            #expect(byPath[snapshot + ".json"]?.role == .codeSnapshot)
            #expect(byPath["pack.json"]?.role == .card)
            #expect(withoutEnvironment(inspected.files.map(\.path)).count == expected.count + 2)
            expectEnvironmentItems(inspected.files.map { ($0.path, $0.role, $0.sha256) })
            #expect(inspected.files.map(\.path) == inspected.files.map(\.path).sorted { Manifest.bytewise($0, $1) })
            #expect(inspected.payloadBytes == inspected.files.reduce(0) { $0 + $1.size })
            #expect(inspected.roles.map(\.role) == [.card, .code, .codeSnapshot, .weights, .env, .host])
            #expect(inspected.roles.first { $0.role == .code }?.items == code.count)

            // extract everything (a full sequential check).
            let extracted = dir.path("all")
            let result = try PackExtractor.extract(packPath, options: ExtractOptions(destination: extracted))
            #expect(result.files == created.items)
            #expect(result.bytes == created.payloadBytes)
            #expect(result.readThrough == "sequential scan")
            #expect(result.signature == "unsigned")
            #expect(result.trusted == false)
            for (path, (_, bytes)) in expected {
                #expect(try readBytes(extracted + "/" + path) == bytes, "\(path)")
            }
            // The snapshot descriptor says where the code came from (not a git work tree).
            let descriptor = try JSONDecoder().decode(
                CodeSnapshotDescriptor.self, from: Data(readBytes(extracted + "/" + snapshot + ".json")))
            #expect(descriptor.fileCount == code.count)
            #expect(descriptor.size == UInt64(code.values.reduce(0) { $0 + $1.count }))
            #expect(descriptor.git == nil)
            #expect(snapshot == "code/" + descriptor.treeDigest.prefix(12))
            let card = try JSONDecoder().decode(Card.self, from: Data(readBytes(extracted + "/pack.json")))
            #expect(card.codeSnapshots == [snapshot])
            #expect(card.name == "demo")
            // Modes: the shell script stays executable, the rest is 0644.
            let scriptMode =
                try FileManager.default.attributesOfItem(atPath: extracted + "/" + snapshot + "/scripts/run.sh")[
                    .posixPermissions] as? Int
            let modelMode =
                try FileManager.default.attributesOfItem(atPath: extracted + "/" + snapshot + "/pkg/model.py")[
                    .posixPermissions] as? Int
            #expect(scriptMode == 0o755)
            #expect(modelMode == 0o644)
            // Nothing else was left in the destination (no staging folder).
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: extracted).sorted() == [
                    "artifacts", "code", "env", "pack.json",
                ])

            // extract --only reads through the seek index.
            let onlyWeights = dir.path("only-weights")
            var options = ExtractOptions(destination: onlyWeights)
            options.only = ["artifacts/*"]
            let partial = try PackExtractor.extract(packPath, options: options)
            #expect(partial.readThrough == "seek index")
            #expect(partial.files == 1)
            #expect(partial.bytes == UInt64(Self.bigSize))
            #expect(try readBytes(onlyWeights + "/artifacts/big.bin") == weights)
            #expect(try FileManager.default.contentsOfDirectory(atPath: onlyWeights) == ["artifacts"])

            // --only on a file stored as a hard link (train.py links to copy_of_train.py).
            let onlyLink = dir.path("only-link")
            options = ExtractOptions(destination: onlyLink)
            options.only = ["train.py", "pkg"]
            let linked = try PackExtractor.extract(packPath, options: options)
            #expect(linked.readThrough == "seek index")
            #expect(linked.files == 3)
            #expect(try readBytes(onlyLink + "/" + snapshot + "/train.py") == code["train.py"])
            #expect(try readBytes(onlyLink + "/" + snapshot + "/pkg/model.py") == code["pkg/model.py"])
            #expect(try readBytes(onlyLink + "/" + snapshot + "/pkg/__init__.py") == [])
            #expect(!FileManager.default.fileExists(atPath: onlyLink + "/" + snapshot + "/copy_of_train.py"))
        }
    }

    @Test("the 5 MiB weights start on frame boundaries and every frame holds at most 4 MiB")
    func frameLayout() throws {
        try withTemporaryDirectory { dir in
            let code = try makeProject(in: dir)
            let weights = randomBytes(Self.bigSize)
            try dir.write("big.bin", weights)
            _ = try PackCreator.create(createOptions(dir, weights: ["big.bin"]))
            let index = try checkFrameLayout(dir.path("demo.mlpack"))
            let entry = try #require(index.entries.first { $0.path == "demo/data/artifacts/big.bin" })
            #expect(entry.size == UInt64(Self.bigSize))
            #expect(index.frames.contains { $0.uncompressedOffset == entry.dataOffset })
            #expect(index.frames.contains { $0.uncompressedOffset == entry.dataOffset + (4 << 20) })
            // Identical content is stored once: copy_of_train.py sorts first and holds the data,
            // train.py is a hard link to it.
            let snapshot = "demo/data/" + expectedSnapshot(code)
            let first = try #require(index.entries.first { $0.path == snapshot + "/copy_of_train.py" })
            #expect(first.hardlinkTarget == nil)
            let second = try #require(index.entries.first { $0.path == snapshot + "/train.py" })
            #expect(second.hardlinkTarget == snapshot + "/copy_of_train.py")
            #expect(second.dataOffset == first.dataOffset)
            #expect(second.size == first.size)
            #expect(second.headerOffset > first.headerOffset)
            // Index entries follow the archive order: payload sorted, then the tag files.
            let paths = index.entries.map(\.path)
            // An unsigned pack that is not a redaction's: no signature, no mlpack/original/.
            #expect(
                paths.suffix(7) == ["demo/data/ro-crate-metadata.json"]
                    + Layout.tagFiles.filter {
                        $0 != Layout.signature && !$0.hasPrefix("mlpack/original/")
                    }.map { "demo/" + $0 })
        }
    }

    @Test(
        "the pack decompresses with the zstd program to the indexed tar stream",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/zstd")))
    func outsideZstd() throws {
        try withTemporaryDirectory { dir in
            try makeProject(in: dir)
            let weights = randomBytes(Self.bigSize)
            try dir.write("big.bin", weights)
            _ = try PackCreator.create(createOptions(dir, weights: ["big.bin"]))
            let index = try checkFrameLayout(dir.path("demo.mlpack"))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
            process.arguments = ["-dc", "--no-progress", dir.path("demo.mlpack"), "-o", dir.path("stream.tar")]
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            let tar = try readBytes(dir.path("stream.tar"))
            #expect(UInt64(tar.count) == index.tarSize)
            let entry = try #require(index.entries.first { $0.path == "demo/data/artifacts/big.bin" })
            #expect(Array(tar[Int(entry.dataOffset)..<Int(entry.dataOffset + entry.size)]) == weights)
            // ustar magic in the first header, end-of-archive zeros at the end.
            #expect(Array(tar[257..<262]) == Array("ustar".utf8))
            #expect(tar.suffix(1024).allSatisfy { $0 == 0 })
        }
    }

    @Test("code + 3 MiB of compressible text weights: compressed at the normal level, round trip")
    func compressibleWeights() throws {
        try withTemporaryDirectory { dir in
            let code = try makeProject(in: dir)
            let text = compressibleText(bytes: 3 << 20)
            try dir.write("metrics.txt", text)
            let created = try PackCreator.create(createOptions(dir, weights: ["metrics.txt"]))
            let packPath = dir.path("demo.mlpack")
            #expect(created.packBytes < 1 << 20, "3 MiB of text should compress well, got \(created.packBytes) bytes")
            try checkFrameLayout(packPath)

            let report = try PackVerifier.verify(packPath, options: allowUnsigned())
            #expect(report.verdict == .verified)
            #expect(report.seekIndex == "valid")
            #expect(report.warnings.isEmpty)

            let inspected = try PackInspector.inspect(packPath)
            #expect(inspected.readThrough == "seek index")
            let weights = try #require(inspected.files.first { $0.path == "artifacts/metrics.txt" })
            #expect(weights.sha256 == sha256Hex(text))
            #expect(weights.size == UInt64(text.count))

            var options = ExtractOptions(destination: dir.path("out"))
            options.only = ["*.txt"]
            let partial = try PackExtractor.extract(packPath, options: options)
            #expect(partial.readThrough == "seek index")
            // The weights and notes/café 日本.txt, and the environment capture's python-packages.txt.
            #expect(partial.files == 2 + EnvironmentItems.expected.keys.filter { $0.hasSuffix(".txt") }.count)
            #expect(try dir.read("out/artifacts/metrics.txt") == text)
            #expect(try dir.read("out/\(expectedSnapshot(code))/notes/café 日本.txt") == code["notes/café 日本.txt"])
        }
    }

    @Test("writing and reading non-ASCII names leaves the process's locale as it was")
    func processLocale() throws {
        try withTemporaryDirectory { dir in
            let before = String(cString: setlocale(LC_CTYPE, nil))
            _ = try makeProject(in: dir)
            try dir.write("w.bin", randomBytes(1024))
            _ = try PackCreator.create(createOptions(dir, weights: ["w.bin"]))
            _ = try PackVerifier.verify(dir.path("demo.mlpack"), options: allowUnsigned())
            #expect(String(cString: setlocale(LC_CTYPE, nil)) == before)
        }
    }

    @Test("a folder of weights is stored below artifacts/<folder>/")
    func weightsFolder() throws {
        try withTemporaryDirectory { dir in
            try dir.write("ckpt/model.safetensors", randomBytes(2000))
            try dir.write("ckpt/config.json", "{\"layers\": 2}")
            try dir.write("ckpt/sub/tokenizer.json", "{}")
            let created = try PackCreator.create(createOptions(dir, code: nil, weights: ["ckpt"]))
            #expect(created.items == 4 + EnvironmentItems.count)
            let inspected = try PackInspector.inspect(dir.path("demo.mlpack"))
            #expect(
                withoutEnvironment(inspected.files.map(\.path)) == [
                    "artifacts/ckpt/config.json", "artifacts/ckpt/model.safetensors",
                    "artifacts/ckpt/sub/tokenizer.json", "pack.json",
                ])
            #expect(try PackVerifier.verify(dir.path("demo.mlpack"), options: allowUnsigned()).verdict == .verified)
        }
    }

    @Test("create refuses to overwrite without force, and with nothing to pack")
    func createUsageErrors() throws {
        try withTemporaryDirectory { dir in
            try makeProject(in: dir)
            _ = try PackCreator.create(createOptions(dir, weights: []))
            let again = expectMLPackError { _ = try PackCreator.create(createOptions(dir, weights: [])) }
            #expect(again?.category == .usage)
            #expect(again?.description.contains("already exists") == true)
            var forced = createOptions(dir, weights: [])
            forced.force = true
            #expect(try PackCreator.create(forced).items > 0)
            let nothing = expectMLPackError {
                _ = try PackCreator.create(createOptions(dir, output: "empty.mlpack", code: nil, weights: []))
            }
            #expect(
                nothing
                    == .usage(
                        "nothing to pack: give \(input: .outputOf), \(input: .code), \(input: .weights) and/or \(input: .data)"
                    ))
            #expect(!dir.exists("empty.mlpack"))
            // No temporary file is left behind.
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".mlpack-create-") }
                    .isEmpty)
        }
    }

    @Test("extract refuses a non-empty destination without force and matches nothing with a bad --only")
    func extractUsageErrors() throws {
        try withTemporaryDirectory { dir in
            try makeProject(in: dir)
            _ = try PackCreator.create(createOptions(dir, weights: []))
            try dir.write("busy/file.txt", "x")
            let busy = expectMLPackError {
                _ = try PackExtractor.extract(
                    dir.path("demo.mlpack"), options: ExtractOptions(destination: dir.path("busy")))
            }
            #expect(busy?.category == .usage)
            var options = ExtractOptions(destination: dir.path("none"))
            options.only = ["*.nothing"]
            let none = expectMLPackError { _ = try PackExtractor.extract(dir.path("demo.mlpack"), options: options) }
            #expect(none == .usage("\(input: .only) *.nothing: matches no item of the pack"))
            #expect(!dir.exists("none"), "a destination it created is removed again")
        }
    }

    @Test("a file that is not a pack is rejected as such")
    func notAPack() throws {
        try withTemporaryDirectory { dir in
            try dir.write("x.mlpack", "hello, not zstd")
            let error = expectMLPackError { _ = try PackInspector.inspect(dir.path("x.mlpack")) }
            #expect(error == .notAPack(path: dir.path("x.mlpack"), reason: "it does not start with a zstd frame"))
        }
    }

    /// Regression test. In commit 1eca6be `FrameWriter` kept `batch + 1` slots and `seal()`
    /// called `flush()` once all of them were sealed; `flush()` then did
    /// `slots.swapAt(0, count)` with `count == slots.count`, an index out of range
    /// (FrameWriter.swift:85): two large entries without a flush between them (5 MiB + 3 MiB of
    /// weights make 5 sealed frames) crashed the process with SIGILL. Fixed in 9b05101. Run in
    /// a child process, so a crash fails this test instead of killing the whole run.
    @Test("code + 5 MiB random + 3 MiB text weights in one pack (the brief's layout)")
    func bothWeightsInOnePack() async {
        await #expect(processExitsWith: .success) {
            try withTemporaryDirectory { dir in
                let code = try makeProject(in: dir)
                let random = randomBytes(RoundTripTests.bigSize)
                let text = compressibleText(bytes: 3 << 20)
                try dir.write("big.bin", random)
                try dir.write("text.txt", text)
                _ = try PackCreator.create(createOptions(dir, weights: ["big.bin", "text.txt"]))
                let packPath = dir.path("demo.mlpack")
                try checkFrameLayout(packPath)
                let report = try PackVerifier.verify(packPath, options: allowUnsigned())
                guard report.verdict == .verified, report.seekIndex == "valid" else {
                    throw TestError("verify: \(report)")
                }
                let inspected = try PackInspector.inspect(packPath)
                guard inspected.readThrough == "seek index" else {
                    throw TestError("inspect read through \(inspected.readThrough)")
                }
                _ = try PackExtractor.extract(packPath, options: ExtractOptions(destination: dir.path("x")))
                guard try dir.read("x/artifacts/big.bin") == random, try dir.read("x/artifacts/text.txt") == text,
                    try dir.read("x/\(expectedSnapshot(code))/train.py") == code["train.py"]
                else { throw TestError("extracted bytes differ") }
            }
        }
    }

    /// Regression test for the same crash (6 sealed frames before any flush in 1eca6be).
    @Test("three 1.5 MiB weights files in one pack")
    func threeMediumWeights() async {
        await #expect(processExitsWith: .success) {
            try withTemporaryDirectory { dir in
                for i in 1...3 { try dir.write("w\(i).bin", randomBytes(3 << 19)) }
                _ = try PackCreator.create(createOptions(dir, code: nil, weights: ["w1.bin", "w2.bin", "w3.bin"]))
                _ = try PackVerifier.verify(dir.path("demo.mlpack"), options: allowUnsigned())
            }
        }
    }
}
