import Foundation
import TestSupport
import Testing

/// `mlpack env` and `mlpack env diff`, run as the built binary.
@Suite("env")
struct EnvTests {
    static let gpuPlatform = Repo.root + "/fixtures/gpu-h100/platform.json"
    static let gpuRawCaptures = Repo.root + "/fixtures/gpu-h100/env"

    struct DiffJSON: Decodable {
        struct Side: Decodable {
            var source: String
            var id: String
        }

        struct Entry: Decodable, Equatable {
            var severity: String
            var field: String
            var a: String
            var b: String
        }

        var a: Side
        var b: Side
        var entries: [Entry]
        var major: Int
        var minor: Int
    }

    @Test("Secrets in the environment appear nowhere in the output, in any form of it")
    func secretsNeverRecorded() async throws {
        let markers = [
            "AWS_SECRET_ACCESS_KEY": "awsmarker-" + UUID().uuidString, "HF_TOKEN": "hfmarker-" + UUID().uuidString,
            "MY_API_KEY": "apimarker-" + UUID().uuidString, "TF_API_KEY": "tfmarker-" + UUID().uuidString,
            "TORCH_AUTH_TOKEN": "torchmarker-" + UUID().uuidString,
        ]
        var environment = markers
        environment["OMP_NUM_THREADS"] = "3"
        environment["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
        for arguments in [["env", "--json"], ["env", "--json", "--private"], ["env"], ["env", "--private"]] {
            let result = try await mlpack(arguments, environment: environment)
            #expect(result.status == 0, "\(result)")
            for (name, marker) in markers {
                #expect(
                    !result.out.contains(marker) && !result.err.contains(marker),
                    "\(name)'s value leaked from `mlpack \(arguments.joined(separator: " "))`")
                #expect(!result.out.contains(name), "\(name) named in the output")
            }
        }
        let json = try await mlpack(["env", "--json"], environment: environment)
        let record = try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any]
        let kept = record?["environment"] as? [String: String]
        #expect(kept?["OMP_NUM_THREADS"] == "3")
        #expect(kept?["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8")
        #expect(record?["formatVersion"] as? Int == 1)
        // Who and where are private: not in the platform record.
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/nonexistent-home"
        #expect(!json.out.contains("\"hostname\"") && !json.out.contains(home + "/"))
    }

    @Test("The summary names this machine's parts; without a GPU it says so")
    func summary() async throws {
        let result = try await mlpack(["env"])
        #expect(result.status == 0, "\(result)")
        #expect(result.out.hasPrefix("environment "))
        for label in ["os", "kernel", "libc", "cpu", "memory", "gpu       none", "python    3."] {
            #expect(result.out.contains("  " + label), "\(label) missing:\n\(result.out)")
        }
        #expect(!result.out.contains("host (private)"))
        let withHost = try await mlpack(["env", "--private"])
        #expect(withHost.out.contains("host (private)") && withHost.out.contains("hostname"))
    }

    @Test("The GPU host against this machine: the GPU and torch are major differences")
    func diffAgainstCurrent() async throws {
        let result = try await mlpack(["env", "diff", Self.gpuPlatform, "current", "--json"])
        #expect(result.status == 0, "\(result)")
        let diff = try decodeJSON(DiffJSON.self, result)
        #expect(
            diff.entries.contains(
                .init(severity: "major", field: "gpu.model", a: "NVIDIA H100 80GB HBM3", b: "absent")),
            "\(diff.entries)")
        #expect(
            diff.entries.contains(.init(severity: "major", field: "package torch", a: "2.11.0+cu130", b: "absent")),
            "\(diff.entries)")
        #expect(diff.entries.contains { $0.field == "cuda.version" && $0.severity == "major" })
        #expect(diff.entries.contains { $0.field == "kernel" && $0.severity == "minor" })
        #expect(diff.major == diff.entries.filter { $0.severity == "major" }.count)
        #expect(diff.a.source == Self.gpuPlatform && diff.b.source == "current")
        // Majors first.
        let firstMinor = diff.entries.firstIndex { $0.severity == "minor" } ?? diff.entries.count
        #expect(diff.entries[firstMinor...].allSatisfy { $0.severity == "minor" })

        // --json may come before the captures too.
        let before = try await mlpack(["env", "diff", "--json", Self.gpuPlatform, "current"])
        #expect(try decodeJSON(DiffJSON.self, before).entries.map(\.field) == diff.entries.map(\.field))

        let text = try await mlpack(["env", "diff", Self.gpuPlatform, "current"])
        #expect(text.status == 0, "\(text)")
        let lines = text.out.split(separator: "\n").map(String.init)
        #expect(
            lines.contains {
                $0.hasPrefix("major") && $0.contains("gpu.model") && $0.contains("NVIDIA H100 80GB HBM3")
                    && $0.contains("absent")
            }, "\(text.out)")
        #expect(
            lines.contains { $0.hasPrefix("major") && $0.contains("package torch") && $0.contains("2.11.0+cu130") },
            "\(text.out)")
        #expect(lines.last?.contains("major") == true)
    }

    @Test("A saved `mlpack env --json` compares equal to the machine it came from")
    func savedCapture() async throws {
        try await withSandbox { box in
            let saved = try await mlpack(["env", "--json"])
            #expect(saved.status == 0, "\(saved)")
            let path = try box.write("here.json", Array(saved.stdout))
            let result = try await mlpack(["env", "diff", path, "current"])
            #expect(result.status == 0, "\(result)")
            #expect(result.out.contains("no differences"), "\(result.out)")
            // The private form is read too.
            let wrapped = try await mlpack(["env", "--json", "--private"])
            let privatePath = try box.write("private.json", Array(wrapped.stdout))
            let again = try await mlpack(["env", "diff", privatePath, path, "--json"])
            #expect(try decodeJSON(DiffJSON.self, again).entries.isEmpty, "\(again)")
        }
    }

    @Test("--raw-captures builds the committed fixture record from the raw GPU-host captures")
    func rawCaptures() async throws {
        let result = try await mlpack(["env", "--raw-captures", Self.gpuRawCaptures, "--json"])
        #expect(result.status == 0, "\(result)")
        #expect(Array(result.stdout) == (try readBytes(Self.gpuPlatform)))
    }

    @Test("Bad inputs exit 2 with one line naming the file")
    func badInputs() async throws {
        try await withSandbox { box in
            let notJSON = try box.write("notes.txt", "hello\n")
            let cases = [
                (box.path("missing.json"), "no such file"), (notJSON, "not an environment capture"),
                (box.root, "folder"),
            ]
            for (path, words) in cases {
                let result = try await mlpack(["env", "diff", path, "current"])
                #expect(result.status == 2, "\(result)")
                #expect(
                    result.errLines.count == 1 && result.err.contains(path) && result.err.contains(words), "\(result)")
                #expect(result.out.isEmpty)
            }
            let missingArgument = try await mlpack(["env", "diff", "current"])
            #expect(missingArgument.status == 2, "\(missingArgument)")
            // An interpreter asked for by name must answer.
            for arguments in [
                ["env", "--python", "/bin/false"], ["env", "diff", "current", "current", "--python", box.path("nope")],
            ] {
                let result = try await mlpack(arguments)
                #expect(result.status == 2, "\(result)")
                #expect(result.err.contains("did not answer as a Python interpreter"), "\(result)")
            }
            let privateDiff = try await mlpack(["env", "diff", "current", "current", "--private"])
            #expect(privateDiff.status == 2, "\(privateDiff)")
        }
    }
}
