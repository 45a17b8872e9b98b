import Foundation
import TestSupport
import Testing

/// Wrong use of the command line: exit 2, one error message, nothing written.
@Suite("Usage errors")
struct UsageErrorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        /// Arguments after `mlpack`; "{out}" is the output pack, "{code}" a valid code folder,
        /// "{box}" the sandbox.
        var arguments: [String]
        /// Text the error message must contain.
        var mentions: String
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(
            label: "create without --unsigned", arguments: ["create", "--output", "{out}", "--code", "{code}"],
            mentions: "--unsigned"),
        Case(
            label: "create with neither --code nor --weights",
            arguments: ["create", "--output", "{out}", "--unsigned"], mentions: "--code"),
        Case(
            label: "create with an unparsable --created",
            arguments: ["create", "--output", "{out}", "--code", "{code}", "--unsigned", "--created", "next tuesday"],
            mentions: "--created"),
        Case(
            label: "create with an impossible --created date",
            arguments: [
                "create", "--output", "{out}", "--code", "{code}", "--unsigned", "--created", "2026-13-45T00:00:00Z",
            ], mentions: "--created"),
        Case(
            label: "create with --code pointing to a missing folder",
            arguments: ["create", "--output", "{out}", "--code", "{box}/no-such-dir", "--unsigned"],
            mentions: "no-such-dir"),
        Case(
            label: "create with --code pointing to a file",
            arguments: ["create", "--output", "{out}", "--code", "{code}/train.py", "--unsigned"], mentions: "train.py"),
        Case(
            label: "create with --weights pointing to a missing file",
            arguments: ["create", "--output", "{out}", "--weights", "{box}/missing.bin", "--unsigned"],
            mentions: "missing.bin"),
        Case(
            label: "create with --code of an empty folder",
            arguments: ["create", "--output", "{out}", "--code", "{box}/empty", "--unsigned"], mentions: "empty"),
        Case(
            label: "create into a missing folder",
            arguments: ["create", "--output", "{box}/no-such-folder/x.mlpack", "--code", "{code}", "--unsigned"],
            mentions: "no-such-folder/x.mlpack"),
        Case(
            label: "create without --output", arguments: ["create", "--code", "{code}", "--unsigned"],
            mentions: "--output"),
        Case(
            label: "create with --env of a missing file",
            arguments: ["create", "--output", "{out}", "--code", "{code}", "--unsigned", "--env", "{box}/no-env.json"],
            mentions: "no-env.json"),
        Case(
            label: "create with --env and --python",
            arguments: [
                "create", "--output", "{out}", "--code", "{code}", "--unsigned", "--env", "{box}/env.json", "--python",
                "/usr/bin/python3",
            ],
            mentions: "--env and --python"),
        Case(label: "extract without --to", arguments: ["extract", "{box}/x.mlpack"], mentions: "--to"),
        Case(label: "verify without a pack", arguments: ["verify"], mentions: "P.mlpack"),
        Case(label: "an unknown subcommand", arguments: ["frobnicate"], mentions: "frobnicate"),
        Case(
            label: "an unknown flag", arguments: ["verify", "{box}/x.mlpack", "--no-such-flag"],
            mentions: "--no-such-flag"),
    ]

    @Test("exit 2 with one error message, nothing written", arguments: cases)
    func usageError(_ usage: Case) async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box)
            try box.mkdir("empty")
            let output = box.path("out.mlpack")
            let arguments = usage.arguments.map {
                $0.replacingOccurrences(of: "{out}", with: output)
                    .replacingOccurrences(of: "{code}", with: project.directory)
                    .replacingOccurrences(of: "{box}", with: box.root)
            }
            let before = treeListing(box.root)
            let result = try await mlpack(arguments, cwd: box.root)
            #expect(result.status == 2, "expected exit 2: \(result)")
            #expect(result.stdout.isEmpty, "nothing belongs on standard output: \(result)")
            // One message: its first line states the problem; anything after it may only be
            // the usage synopsis that the argument parser appends.
            let lines = result.errLines
            let first = lines.first ?? ""
            #expect(first.contains(usage.mentions), "the message does not mention \(usage.mentions): \(result)")
            #expect(first.lowercased().contains("error"), "\(result)")
            let extra = lines.dropFirst().filter { line in
                !(line.hasPrefix("Usage:") || line.hasPrefix("Help:")
                    || line.trimmingCharacters(in: .whitespaces).hasPrefix("See '"))
            }
            #expect(extra.isEmpty, "more than a one-line message: \(result)")
            #expect(treeListing(box.root) == before, "a failed command changed files")
        }
    }

    @Test(
        "--atol, --rtol and --metric-tolerance: the same rules for create, compare, diff and verify --rebuild",
        arguments: ["acc=inf", "acc=-1", "=0.1", "acc", "acc=nan"])
    func toleranceRules(_ entry: String) async throws {
        try await withSandbox { box in
            let commands = [
                ["create", "--output", box.path("x.mlpack"), "--code", box.root, "--unsigned"],
                ["compare", box.path("a.json"), box.path("b.json")],
                ["diff", box.path("a.mlpack"), box.path("b.mlpack")],
                ["verify", box.path("a.mlpack"), "--rebuild", "--python-env", "host"],
            ]
            for command in commands {
                let result = try await mlpack(command + ["--metric-tolerance", entry])
                #expect(result.status == 2, "\(command[0]): \(result)")
                #expect(
                    result.err.contains("--metric-tolerance \(entry): expected NAME=X with X a finite number ≥ 0"),
                    "\(command[0]): \(result)")
                let atol = try await mlpack(command + ["--atol=-1"])
                #expect(
                    atol.status == 2 && atol.err.contains("--atol must be a finite number ≥ 0"),
                    "\(command[0]): \(atol)")
            }
            #expect(!exists(box.path("x.mlpack")))
        }
    }

    @Test("create over an existing output: exit 2 and the file is untouched, unless --force")
    func existingOutput() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box)
            let output = try box.write("out.mlpack", "precious\n")
            let arguments = [
                "create", "--output", output, "--code", project.directory, "--unsigned", "--created", Fixture.created,
            ]
            let refused = try await mlpack(arguments)
            #expect(refused.status == 2, "\(refused)")
            #expect(refused.errLines.count == 1, "\(refused)")
            #expect(refused.err.contains("already exists") && refused.err.contains("--force"), "\(refused)")
            #expect(try readBytes(output) == Array("precious\n".utf8))

            let forced = try await mlpack(arguments + ["--force"])
            #expect(forced.status == 0, "\(forced)")
            let verify = try await mlpack(["verify", output, "--allow-unsigned"])
            #expect(verify.status == 0, "\(verify)")
            // No temporary files left next to the output.
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: box.root).filter { $0.hasPrefix(".mlpack") }.isEmpty
            )
        }
    }

    @Test("create --json prints the result as JSON on standard output")
    func createJSON() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box)
            let output = box.path("p.mlpack")
            let result = try await mlpack([
                "create", "--output", output, "--code", project.directory, "--name", "named",
                "--unsigned", "--created", "2026-01-02", "--json",
            ])
            #expect(result.status == 0, "\(result)")
            let object = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
            #expect(object?["name"] as? String == "named")
            #expect(object?["created"] as? String == "2026-01-02T00:00:00Z")
            #expect(object?["items"] as? Int == project.files.count + 2 + EnvironmentItems.count)
            #expect(object?["signer"] == nil || object?["signer"] is NSNull, "an unsigned pack has no signer")
            #expect((object?["packBytes"] as? Int).map(UInt64.init) == fileInfo(output)?.size)
        }
    }

    @Test("--help and --version exit 0")
    func helpAndVersion() async throws {
        for arguments in [["--help"], ["create", "--help"], ["--version"]] {
            let result = try await mlpack(arguments)
            #expect(result.status == 0, "\(result)")
            #expect(!result.out.isEmpty, "\(result)")
        }
    }
}
