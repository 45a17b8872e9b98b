import Foundation
import TestSupport
import Testing

/// A static file server on a free loopback port (`python3 -m http.server`), stopped with the
/// test.
final class LoopbackServer: @unchecked Sendable {
    let process = Process()
    let port: Int

    init(serving directory: String) throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", directory,
        ]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let text = firstLine(of: output)
        guard let range = text.range(of: #"port (\d+)"#, options: .regularExpression),
            let port = Int(text[range].dropFirst(5))
        else {
            process.terminate()
            throw TestError("http.server did not start: \(text)")
        }
        self.port = port
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// No waitUntilExit: on Linux it spins the run loop of a cooperative thread.
    func stop() { kill(process.processIdentifier, SIGKILL) }
}

/// What a server started for a test prints first (its port), read from its output pipe.
func firstLine(of output: Pipe) -> String {
    var line = Data()
    while !line.contains(UInt8(ascii: "\n")) {
        let chunk = output.fileHandleForReading.availableData
        guard !chunk.isEmpty else { break }
        line += chunk
    }
    return String(decoding: line, as: UTF8.self)
}

@Suite("Data references and fetch")
struct DataReferenceTests {
    /// A dataset folder of a few CSV shards, one in a subfolder with a non-ASCII name.
    func makeDataset(in box: Sandbox, at relative: String = "www/spirals") throws -> String {
        for shard in 0..<3 {
            try box.write(
                "\(relative)/part-\(shard).csv",
                "x0,x1,label\n" + (0..<200).map { "\($0 * shard),\($0),\($0 % 2)" }.joined(separator: "\n") + "\n")
        }
        try box.write("\(relative)/sub dir/naïve.csv", "a,b\n1,2\n")
        return box.path(relative)
    }

    func files(in directory: String) -> [String] {
        (FileManager.default.enumerator(atPath: directory)?.allObjects as? [String] ?? []).filter {
            fileInfo(directory + "/" + $0)?.kind == .file
        }
    }

    @Test("a directory reference's listing passes sha256sum -c against the directory")
    func listingChecksWithSha256sum() async throws {
        try await withSandbox { box in
            let dataset = try makeDataset(in: box)
            let project = try makeProject(in: box)
            let pack = try await makePack(in: box, code: project.directory, extra: ["--data", "spirals=\(dataset)"])
            try box.mkdir("x")
            try await must("tar", ["--zstd", "-xf", pack, "-C", box.path("x")])
            let listing = box.path("x/demo/data/refs/spirals.sha256")
            let check = try await run("sha256sum", ["--strict", "-c", listing], cwd: dataset)
            #expect(check.status == 0, "\(check)")
            #expect(check.out.contains("sub dir/naïve.csv: OK"))

            let reference =
                try JSONSerialization.jsonObject(with: Data(try readBytes(box.path("x/demo/data/refs/spirals.json"))))
                as! [String: Any]
            #expect(reference["kind"] as? String == "directory")
            #expect(reference["fileCount"] as? Int == 4)
            #expect(reference["treeDigest"] as? String == (try await sha256sum(listing)))
            #expect(reference["mountPath"] as? String == "spirals")
            // The author's local path is private: it is kept out of the public reference.
            #expect(
                !(String(decoding: try readBytes(box.path("x/demo/data/refs/spirals.json")), as: UTF8.self).contains(
                    box.root)))
            let local = String(decoding: try readBytes(box.path("x/demo/data/refs/spirals.local.json")), as: UTF8.self)
            #expect(local.contains("file://"))
            // Data is named, not copied: no dataset byte is in the pack, and it is not code either.
            let inspect = try await inspectJSON(pack)
            #expect(!inspect.files.contains { $0.path.hasSuffix(".csv") })
        }
    }

    @Test("fetch from a loopback http.server fills the cache; verify --data then passes")
    func fetchOverHTTP() async throws {
        try await withSandbox { box in
            let dataset = try makeDataset(in: box)
            let server = try LoopbackServer(serving: box.path("www"))
            defer { server.stop() }
            // A copy that disappears after packing, so only the server can serve the data.
            try await must("cp", ["-r", dataset, box.path("local-copy")])
            let pack = try await makePack(
                in: box, code: try makeProject(in: box).directory,
                extra: [
                    "--data", "spirals=\(box.path("local-copy"))", "--data-uri", "spirals=\(server.base)/spirals",
                    "--data-mount", "spirals=data/spirals",
                ])
            try FileManager.default.removeItem(atPath: box.path("local-copy"))

            let unchecked = try await mlpack(["verify", pack, "--allow-unsigned", "--json"])
            #expect(unchecked.status == 0, "\(unchecked)")
            #expect(unchecked.out.contains("\"not checked\""))

            let cache = box.path("cache")
            let fetch = try await mlpack(["fetch", pack, "--cache", cache, "--json"])
            #expect(fetch.status == 0, "\(fetch)")
            #expect(fetch.out.contains("\"fetched\""))
            #expect(fetch.out.contains(server.base))
            let blobs = files(in: cache + "/blobs/sha256")
            #expect(blobs.count == 4)
            for blob in blobs { #expect(try await sha256sum(cache + "/blobs/sha256/" + blob) == blob) }
            #expect(files(in: cache + "/tmp").isEmpty)

            let verify = try await mlpack(["verify", pack, "--allow-unsigned", "--data", "--cache", cache])
            #expect(verify.status == 0, "\(verify)")
            #expect(verify.out.contains("verified"))
            #expect(verify.out.contains("data/spirals") || verify.out.contains("spirals"))
            // Through a pipe too: the pack is spooled once, then its references are read again.
            let piped = try await mlpackFromPipe(pack, ["verify", "-", "--allow-unsigned", "--data", "--cache", cache])
            #expect(piped.status == 0, "\(piped)")
            #expect(piped.out.contains("verified"), "\(piped)")

            // A blob changed in the cache is caught by verify --data and fetched again.
            let victim = cache + "/blobs/sha256/" + blobs[0]
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: victim)
            try writeBytes(victim, Array("tampered\n".utf8))
            let again = try await mlpack(["verify", pack, "--allow-unsigned", "--data", "--cache", cache, "--json"])
            #expect(again.status == 0, "\(again)")
            #expect(again.out.contains("\"fetched\""))
            #expect(try await sha256sum(victim) == blobs[0])
        }
    }

    @Test("a server that serves altered bytes makes fetch fail naming the reference, leaving nothing in the cache")
    func alteredBytes() async throws {
        try await withSandbox { box in
            let dataset = try makeDataset(in: box)
            let server = try LoopbackServer(serving: box.path("www"))
            defer { server.stop() }
            try await must("cp", ["-r", dataset, box.path("local-copy")])
            let pack = try await makePack(
                in: box, code: try makeProject(in: box).directory,
                extra: [
                    "--data", "spirals=\(box.path("local-copy"))", "--data-uri", "spirals=\(server.base)/spirals",
                ])
            try FileManager.default.removeItem(atPath: box.path("local-copy"))
            _ = try box.write("www/spirals/part-2.csv", "x0,x1,label\n1,2,1\n")

            let cache = box.path("cache")
            let fetch = try await mlpack(["fetch", pack, "--cache", cache])
            #expect(fetch.status == 1, "\(fetch)")
            #expect(fetch.errLines.count == 1, "\(fetch)")
            #expect(fetch.err.contains("data reference spirals"))
            #expect(fetch.err.contains("part-2.csv"))
            #expect(files(in: cache).isEmpty, "nothing may be left in the cache: \(files(in: cache))")

            let verify = try await mlpack(["verify", pack, "--allow-unsigned", "--data", "--cache", cache])
            #expect(verify.status == 1, "\(verify)")
        }
    }

    @Test("a file reference is fetched from the author's file:// path; missing data is a clear error")
    func fileReference() async throws {
        try await withSandbox { box in
            let file = try box.write("corpus.txt", String(repeating: "lorem ipsum\n", count: 1000))
            let pack = try await makePack(
                in: box, code: try makeProject(in: box).directory, extra: ["--data", "corpus=\(file)"])
            let cache = box.path("cache")
            let fetch = try await mlpack(["fetch", pack, "--cache", cache])
            #expect(fetch.status == 0, "\(fetch)")
            #expect(files(in: cache + "/blobs/sha256") == [try await sha256sum(file)])

            try FileManager.default.removeItem(atPath: file)
            let gone = try await mlpack(["fetch", pack, "--cache", box.path("other-cache")])
            #expect(gone.status == 2, "\(gone)")
            #expect(gone.err.contains("data reference corpus"))
        }
    }

    @Test("--inline-data stores the data in the pack; extract gives it back")
    func inlineData() async throws {
        try await withSandbox { box in
            let dataset = try makeDataset(in: box)
            let pack = try await makePack(
                in: box, code: try makeProject(in: box).directory,
                extra: [
                    "--data", "spirals=\(dataset)", "--inline-data", "spirals",
                ])
            let verify = try await mlpack([
                "verify", pack, "--allow-unsigned", "--data", "--cache", box.path("cache"), "--json",
            ])
            #expect(verify.status == 0, "\(verify)")
            #expect(verify.out.contains("\"inline\""))
            let extract = try await mlpack(["extract", pack, "--to", box.path("out"), "--only", "inputs/spirals"])
            #expect(extract.status == 0, "\(extract)")
            #expect(try filesBelow(box.path("out/inputs/spirals")) == (try filesBelow(dataset)))
        }
    }

    @Test("bad --data arguments are usage errors")
    func usage() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box)
            for extra in [
                ["--data", "spirals"], ["--data", "bad name=\(project.directory)"], ["--data", "x=/does/not/exist"],
                ["--data-uri", "x=https://example.org/x"],
                ["--data", "x=\(project.directory)", "--data-uri", "x=ftp://example.org/x"],
                ["--data", "x=\(project.directory)", "--data-mount", "x=../outside"],
            ] {
                let result = try await mlpack(
                    ["create", "--output", box.path("p.mlpack"), "--unsigned", "--code", project.directory] + extra)
                #expect(result.status == 2, "\(extra): \(result)")
                #expect(result.errLines.count == 1, "\(extra): \(result)")
                #expect(!exists(box.path("p.mlpack")))
            }
        }
    }
}
