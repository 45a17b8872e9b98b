import Foundation
import TestSupport
import Testing

/// A static file server with HTTP Range and byte counting (fixtures/tools/range_server.py),
/// stopped with the test.
final class RangeServer: @unchecked Sendable {
    private let process = Process()
    let base: String

    init(serving directory: String, _ options: [String] = []) throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", Repo.root + "/fixtures/tools/range_server.py", directory] + options
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        guard let port = Int(firstLine(of: output).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            process.terminate()
            throw TestError("range_server.py did not start")
        }
        base = "http://127.0.0.1:\(port)"
    }

    /// Body bytes sent and requests answered so far.
    func stats() async throws -> (bytes: Int, requests: Int) {
        let answer = try await must("curl", ["-fsS", base + "/_stats"])
        let json = try #require(try JSONSerialization.jsonObject(with: answer.stdout) as? [String: Any])
        return (json["bytes"] as? Int ?? -1, json["requests"] as? Int ?? -1)
    }

    func stop() { kill(process.processIdentifier, SIGKILL) }
}

@Suite("Remote packs (https://, s3://) read by range")
struct RemotePackTests {
    /// A pack of `megabytes` of incompressible weights and a code tree, in `www/`.
    private func pack(in box: Sandbox, megabytes: Int) async throws -> String {
        for index in 0..<60 { try box.write("code/pkg/m\(index).py", "def f():\n    return \(index)\n") }
        // 64 MiB of random bytes repeated: zstd's window is far smaller, so nothing compresses.
        try await must(
            "sh",
            [
                "-c",
                #"head -c 67108864 /dev/urandom > "$1/block" && for i in $(seq "$2"); do cat "$1/block"; done > "$1/weights.bin" && rm "$1/block""#,
                "sh", box.path(""), "\(max(1, megabytes / 64))",
            ])
        _ = try box.mkdir("www")
        let pack = box.path("www/paper.mlpack")
        // 2 GiB through a debug build while the other suites run: minutes, not the default 2.
        let created = try await run(
            try Repo.mlpackBinary(),
            [
                "create", "-o", pack, "--code", box.path("code"), "--weights", box.path("weights.bin"), "--unsigned",
                "-q",
            ],
            timeout: 900)
        guard created.status == 0 else { throw TestError("create: \(created)") }
        try FileManager.default.removeItem(atPath: box.path("weights.bin"))
        return pack
    }

    @Test(
        "a 2 GiB pack over loopback HTTP: inspect reads ≤ 1 MiB, extract --only one file ≤ 1 MiB, verify as the local file"
    )
    func rangeReads() async throws {
        try await withSandbox { box in
            let local = try await pack(in: box, megabytes: 2048)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: local)[.size] as? Int)
            #expect(size > 2_000_000_000)
            let server = try RangeServer(serving: box.path("www"))
            defer { server.stop() }
            let remote = server.base + "/paper.mlpack"

            let inspected = try await mlpack(["inspect", remote])
            #expect(inspected.status == 0, "\(inspected)")
            let localInspect = try await mlpack(["inspect", local])
            #expect(
                inspected.out.split(separator: "\n").dropFirst() == localInspect.out.split(separator: "\n").dropFirst())
            let afterInspect = try await server.stats()
            #expect(afterInspect.bytes <= 1 << 20, "inspect transferred \(afterInspect.bytes) bytes")

            let listing = try await run("tar", ["--zstd", "-tf", local])
            let member = try #require(listing.out.split(separator: "\n").first { $0.hasSuffix("/pkg/m17.py") })
            let relative = String(member.split(separator: "/").dropFirst(2).joined(separator: "/"))
            let extracted = try await mlpack(["extract", remote, "--to", box.path("out"), "--only", relative, "-q"])
            #expect(extracted.status == 0, "\(extracted)")
            #expect(
                String(decoding: try readBytes(box.path("out/" + relative)), as: UTF8.self)
                    == "def f():\n    return 17\n")
            let afterExtract = try await server.stats()
            #expect(
                afterExtract.bytes - afterInspect.bytes <= 1 << 20,
                "extract --only transferred \(afterExtract.bytes - afterInspect.bytes) bytes")

            let verified = try await mlpack(["verify", remote, "--allow-unsigned", "--json"])
            #expect(verified.status == 0, "\(verified)")
            let report = try #require(try JSONSerialization.jsonObject(with: verified.stdout) as? [String: Any])
            #expect(report["verdict"] as? String == "untrusted" || report["verdict"] as? String == "verified")
            let afterVerify = try await server.stats()
            // Once through the pack, not twice.
            #expect(
                afterVerify.bytes - afterExtract.bytes < size + (2 << 20),
                "verify read \(afterVerify.bytes - afterExtract.bytes) of \(size) bytes")
        }
    }

    @Test("tampered, served without Range, changed mid-read: the verdicts of the local file, or one clear error")
    func hostileServers() async throws {
        try await withSandbox { box in
            let local = try await pack(in: box, megabytes: 64)
            let good = try await mlpack(["verify", local, "--allow-unsigned"])
            #expect(good.status == 0)

            // A server that ignores Range: read as a stream, same verdict.
            let plain = try RangeServer(serving: box.path("www"), ["--ignore-range"])
            defer { plain.stop() }
            let streamed = try await mlpack(["verify", plain.base + "/paper.mlpack", "--allow-unsigned"])
            #expect(streamed.status == 0, "\(streamed)")
            let inspectedStream = try await mlpack(["inspect", plain.base + "/paper.mlpack"])
            #expect(inspectedStream.status == 0 && inspectedStream.out.contains("name"), "\(inspectedStream)")

            // The ETag changes after the first requests: refused, not a mix of two packs.
            let changing = try RangeServer(serving: box.path("www"), ["--etag-changes-after", "2"])
            defer { changing.stop() }
            let changed = try await mlpack(["verify", changing.base + "/paper.mlpack", "--allow-unsigned"])
            #expect(changed.status == 2, "\(changed)")
            #expect(changed.err.contains("changed on the server while it was being read"), "\(changed)")

            // One byte flipped in the middle of the weights: the same error as the local file's.
            let server = try RangeServer(serving: box.path("www"))
            defer { server.stop() }
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: local))
            let middle = UInt64(
                try #require(try FileManager.default.attributesOfItem(atPath: local)[.size] as? Int) / 2)
            try handle.seek(toOffset: middle)
            let byte = try #require(try handle.read(upToCount: 1)?.first)
            try handle.seek(toOffset: middle)
            try handle.write(contentsOf: [byte ^ 0x55])
            try handle.close()
            let localBad = try await mlpack(["verify", local, "--allow-unsigned"])
            let remoteBad = try await mlpack(["verify", server.base + "/paper.mlpack", "--allow-unsigned"])
            #expect(localBad.status != 0 && remoteBad.status == localBad.status, "\(localBad) \(remoteBad)")
            #expect(
                remoteBad.err.replacingOccurrences(of: server.base + "/paper.mlpack", with: local) == localBad.err,
                "\(remoteBad.err) vs \(localBad.err)")

            let missing = try await mlpack(["inspect", server.base + "/nope.mlpack"])
            #expect(missing.status == 2 && missing.err.contains("HTTP 404"), "\(missing)")
            let offLoopback = try await mlpack(["inspect", "http://example.org/p.mlpack"])
            #expect(offLoopback.status == 2 && offLoopback.err.contains("http:// only on loopback"), "\(offLoopback)")
        }
    }

    @Test("a pack on an object store: inspect and verify s3://bucket/paper.mlpack")
    func s3Pack() async throws {
        try await withSandbox { box in
            let local = try await pack(in: box, megabytes: 64)
            try await S3Server.with(in: box, bucket: "papers") { server in
                try await server.curl([
                    "-X", "PUT", "-H", "Content-Type: application/octet-stream", "-T", local,
                    server.endpoint + "/papers/paper.mlpack",
                ])
                let inspected = try await mlpack(
                    ["inspect", "s3://papers/paper.mlpack"], environment: server.environment)
                #expect(inspected.status == 0 && inspected.out.contains("name"), "\(inspected)")
                let verified = try await mlpack(
                    ["verify", "s3://papers/paper.mlpack", "--allow-unsigned"], environment: server.environment)
                #expect(verified.status == 0, "\(verified)")
                var wrong = server.environment
                wrong["AWS_SECRET_ACCESS_KEY"] = "wrong"
                let refused = try await mlpack(["inspect", "s3://papers/paper.mlpack"], environment: wrong)
                #expect(refused.status == 2 && refused.err.contains("SignatureDoesNotMatch"), "\(refused)")
            }
        }
    }
}
