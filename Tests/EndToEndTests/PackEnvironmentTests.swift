import Foundation
import TestSupport
import Testing

/// The environment capture that every pack holds.
@Suite("Environment in packs")
struct PackEnvironmentTests {
    @Test("secrets planted in the environment appear nowhere in the pack, compressed or not")
    func secretsNeverRecorded() async throws {
        try await withSandbox { box in
            let markers = [
                "AWS_SECRET_ACCESS_KEY": "aws-marker-\(UUID().uuidString)",
                "HF_TOKEN": "hf_marker\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))",
                "MY_API_KEY": "api-marker-\(UUID().uuidString)",
                // Allowed names carrying a secret-looking value are dropped too.
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "PYTHONHASHSEED": "0",
            ]
            let project = try makeProject(in: box)
            let pack = try await makePack(in: box, code: project.directory, environment: markers)
            let stream = try await must("zstd", ["-dc", pack]).stdout
            let file = Data(try readBytes(pack))
            for name in ["AWS_SECRET_ACCESS_KEY", "HF_TOKEN", "MY_API_KEY"] {
                let marker = Data(markers[name]!.utf8)
                #expect(stream.range(of: marker) == nil, "\(name)'s value is in the tar stream")
                #expect(file.range(of: marker) == nil, "\(name)'s value is in the pack file")
                #expect(stream.range(of: Data(name.utf8)) == nil, "\(name) is named in the tar stream")
            }
            // What is allowed is recorded, so the capture did look at the environment.
            let inspect = try await inspectJSON(pack)
            let platform = try #require(
                inspect.files.first { $0.path.hasPrefix("env/") && $0.path.hasSuffix("/platform.json") })
            let extracted = try await mlpack(["extract", pack, "--to", box.path("out"), "--only", platform.path])
            #expect(extracted.status == 0, "\(extracted)")
            let record =
                try JSONSerialization.jsonObject(with: Data(try readBytes(box.path("out/" + platform.path))))
                as! [String: Any]
            let variables = record["environment"] as? [String: String] ?? [:]
            #expect(variables["PYTHONHASHSEED"] == "0")
            #expect(variables["TF_CPP_MIN_LOG_LEVEL"] == "2")
        }
    }

    @Test("a pack's capture: platform and packages public, host private; env diff against the GPU fixture")
    func packCaptureAndDiff() async throws {
        try await withSandbox { box in
            let pack = try await makePack(in: box, code: try makeProject(in: box).directory)
            let inspect = try await inspectJSON(pack)
            let env = inspect.files.filter { $0.path.hasPrefix("env/") }
            #expect(
                Set(env.map { String($0.path.split(separator: "/").last!) }) == [
                    "platform.json", "python-packages.txt", "host.json",
                ])
            #expect(env.first { $0.path.hasSuffix("host.json") }?.role == "host")
            #expect(env.first { $0.path.hasSuffix("platform.json") }?.role == "env")

            // The pack was made here: no drift against the current machine's major fields.
            let same = try await mlpack(["env", "diff", pack, "current", "--json"])
            #expect(same.status == 0, "\(same)")
            let sameDiff = try JSONSerialization.jsonObject(with: same.stdout) as? [String: Any]
            #expect((sameDiff?["major"] as? Int) == 0, "\(same)")

            let fixture = Repo.root + "/fixtures/gpu-h100/platform.json"
            let diff = try await mlpack(["env", "diff", fixture, pack, "--json"])
            #expect(diff.status == 0, "\(diff)")
            let object = try JSONSerialization.jsonObject(with: diff.stdout) as? [String: Any]
            let entries = object?["entries"] as? [[String: Any]] ?? []
            func severity(_ field: String) -> String? {
                entries.first { $0["field"] as? String == field }?["severity"] as? String
            }
            #expect(severity("gpu.model") == "major", "\(diff)")
            #expect(severity("package torch") == "major", "\(diff)")
        }
    }

    @Test("create --env records a capture saved with env --json (the training machine's), without host.json")
    func savedCapture() async throws {
        try await withSandbox { box in
            let saved = box.path("gpu-env.json")
            try FileManager.default.copyItem(atPath: Repo.root + "/fixtures/gpu-h100/platform.json", toPath: saved)
            let pack = try await makePack(in: box, code: try makeProject(in: box).directory, extra: ["--env", saved])
            let inspect = try await inspectJSON(pack)
            let env = inspect.files.filter { $0.path.hasPrefix("env/") }
            #expect(
                Set(env.map { String($0.path.split(separator: "/").last!) }) == [
                    "platform.json", "python-packages.txt",
                ])

            // The pack holds the GPU host's platform: nothing differs from the saved file but
            // the lock files this pack's code brings (none here).
            let diff = try await mlpack(["env", "diff", saved, pack, "--json"])
            #expect(diff.status == 0, "\(diff)")
            let object = try JSONSerialization.jsonObject(with: diff.stdout) as? [String: Any]
            #expect((object?["entries"] as? [Any])?.isEmpty == true, "\(diff)")
            let verified = try await mlpack(["verify", pack, "--allow-unsigned"])
            #expect(verified.status == 0, "\(verified)")
        }
    }
}
