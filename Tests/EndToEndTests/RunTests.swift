import Foundation
import TestSupport
import Testing

/// `mlpack run -- CMD` and `mlpack runs`, run as the built binary in throwaway git projects.
@Suite("run and runs")
struct RunTests {
    // MARK: The record, as `runs show --json` prints it

    struct FileRecord: Decodable, Equatable {
        var path: String
        var kind: String
        var sha256: String
        var size: UInt64
        var fileCount: Int?
        var producedBy: String?
    }

    struct CodeFile: Decodable {
        var path: String
        var sha256: String
        var size: UInt64
        var mode: UInt32
    }

    struct Git: Decodable {
        var commit: String?
        var dirty: Bool
    }

    struct Code: Decodable {
        var treeDigest: String
        var files: [CodeFile]
        var git: Git?
    }

    struct Record: Decodable {
        var id: String
        var name: String?
        var argv: [String]
        var workingDirectory: String
        var started: String
        var ended: String
        var status: String
        var exitCode: Int32?
        var signal: Int32?
        var code: Code
        var environment: String
        var setVariables: [String: String]
        var inputs: [FileRecord]
        var outputs: [FileRecord]
        var metrics: [String: Double]?

        func output(_ path: String) -> FileRecord? { outputs.first { $0.path == path } }
        func input(_ path: String) -> FileRecord? { inputs.first { $0.path == path } }
    }

    struct Listing: Decodable {
        struct Summary: Decodable {
            var id: String
            var name: String?
            var status: String
            var exitCode: Int32?
            var started: String
            var durationSeconds: Double?
            var argv: [String]
            var command: String
            var outputs: Int
        }

        var runs: [Summary]
    }

    // MARK: Helpers

    /// A git repository `proj/` with three tracked files; `checkpoints/` and `data/` are
    /// git-ignored.
    static func makeRepository(in box: Sandbox) async throws -> String {
        let project = try box.mkdir("proj")
        try box.write("proj/train.py", "print('train')\n")
        try box.write("proj/lib/model.py", "WIDTH = 8\n")
        try box.write("proj/.gitignore", "checkpoints/\ndata/\n")
        try await must("git", ["init", "-q"], cwd: project)
        try await must("git", ["add", "."], cwd: project)
        try await must(
            "git", ["-c", "user.email=test@example.com", "-c", "user.name=test", "commit", "-qm", "init"], cwd: project)
        return project
    }

    /// `mlpack run ARGS -- COMMAND` in `project`; returns the result and the recorded run's id
    /// (from the summary line), if any.
    static func record(
        _ command: [String], options: [String] = [], in project: String, environment: [String: String] = [:]
    ) async throws -> (result: ProcessResult, id: String?) {
        let result = try await mlpack(["run"] + options + ["--"] + command, cwd: project, environment: environment)
        let line = result.errLines.last { $0.hasPrefix("mlpack: recorded run ") }
        let id = line.map { String($0.dropFirst("mlpack: recorded run ".count).prefix { $0 != " " }) }
        return (result, id)
    }

    /// `runs show ID --json`, required to succeed.
    static func show(_ id: String, in project: String) async throws -> Record {
        let result = try await mlpack(["runs", "show", id, "--json"], cwd: project)
        guard result.status == 0 else { throw TestError("runs show failed: \(result)") }
        return try decodeJSON(Record.self, result)
    }

    static func runs(in project: String) async throws -> [Listing.Summary] {
        let result = try await mlpack(["runs", "--json"], cwd: project)
        guard result.status == 0 else { throw TestError("runs failed: \(result)") }
        return try decodeJSON(Listing.self, result).runs
    }

    // MARK: Exit status and status

    @Test("exit statuses pass through, and the run is recorded as succeeded or failed", arguments: [0, 3])
    func exitStatusPassesThrough(_ status: Int32) async throws {
        try await withSandbox { box in
            let project = try await Self.makeRepository(in: box)
            let (result, id) = try await Self.record(
                ["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit \(status)"], in: project)
            #expect(result.status == status, "\(result)")
            #expect(result.out == "to-stdout\n", "the command's output reaches mlpack's standard output")
            #expect(result.err.hasPrefix("to-stderr\n"), "\(result)")
            let run = try await Self.show(try #require(id, "\(result)"), in: project)
            #expect(run.status == (status == 0 ? "succeeded" : "failed"))
            #expect(run.exitCode == status && run.signal == nil)
            #expect(run.argv == ["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit \(status)"])
            #expect(run.workingDirectory == ".")
            #expect(result.errLines.last == "mlpack: recorded run \(run.id) (\(run.status), 0 outputs) in .mlpack/")
        }
    }

    @Test("a command killed by a signal is recorded as killed, and mlpack dies by the same signal")
    func signalPassesThrough() async throws {
        try await withSandbox { box in
            let project = try await Self.makeRepository(in: box)
            // Python reports death by a signal as a negative return code; a shell as 128 + N.
            let probe = try await run(
                "python3",
                [
                    "-c", "import subprocess, sys; print(subprocess.run(sys.argv[1:]).returncode)",
                    try Repo.mlpackBinary(),
                    "run", "--", "sh", "-c", "kill -TERM $$",
                ], cwd: project)
            #expect(probe.out == "-15\n", "mlpack itself must end by SIGTERM: \(probe)")
            let shell = try await sh(
                #""$1" run -- sh -c 'kill -TERM $$'; echo "status=$?""#, [try Repo.mlpackBinary()], cwd: project)
            #expect(shell.out.hasSuffix("status=143\n"), "\(shell)")
            let all = try await Self.runs(in: project)
            #expect(all.count == 2 && all.allSatisfy { $0.status == "killed" && $0.exitCode == nil }, "\(all)")
            let run = try await Self.show(all[0].id, in: project)
            #expect(run.signal == 15)
        }
    }

    @Test(
        "SIGTERM sent to mlpack reaches the command, and mlpack survives to record it",
        arguments: ["--no-trace", "--trace=preload", "--trace=ptrace"])
    func forwardsSignals(options: String) async throws {
        try await withSandbox { box in
            let project = try await Self.makeRepository(in: box)
            // The command traps SIGTERM and exits 7 (0 after 10 s without it); the script
            // kills only mlpack. The harness starts mlpack with most signals blocked (the mask
            // of the test runner's thread), as a careless parent would.
            let script = #"""
                "$1" run $2 -- sh -c 'trap "echo got-term; exit 7" TERM; touch started; n=0; while [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done' &
                pid=$!
                n=0; while [ ! -e started ] && [ $n -lt 400 ]; do sleep 0.05; n=$((n+1)); done
                sleep 0.2
                kill -TERM $pid
                wait $pid
                echo "status=$?"
                """#
            let result = try await sh(script, [try Repo.mlpackBinary(), options], cwd: project)
            #expect(result.out.contains("got-term\n") && result.out.hasSuffix("status=7\n"), "\(result)")
            let all = try await Self.runs(in: project)
            #expect(all.map(\.status) == ["failed"] && all.first?.exitCode == 7, "\(all)")
        }
    }

    @Test("Ctrl-C on a terminal reaches the command once; mlpack records it and exits as the command did")
    func terminalInterrupt() async throws {
        try await withSandbox { box in
            let project = try await Self.makeRepository(in: box)
            let driver = #"""
                import os, pty, select, sys, time
                mlpack = sys.argv[1]
                child = (
                    "import sys, time\n"
                    "open('started', 'w').close()\n"
                    "try:\n"
                    "    time.sleep(30)\n"
                    "except KeyboardInterrupt:\n"
                    "    open('interrupts.txt', 'a').write('interrupt\\n')\n"
                    "    time.sleep(0.3)\n"
                    "    sys.exit(130)\n")
                pid, fd = pty.fork()
                if pid == 0:
                    os.execv(mlpack, [mlpack, "run", "--", "python3", "-c", child])
                deadline = time.time() + 20
                while not os.path.exists("started") and time.time() < deadline:
                    time.sleep(0.05)
                time.sleep(0.3)
                os.write(fd, b"\x03")
                while True:
                    ready, _, _ = select.select([fd], [], [], 20)
                    if not ready:
                        break
                    try:
                        if not os.read(fd, 1024):
                            break
                    except OSError:
                        break
                _, status = os.waitpid(pid, 0)
                print("exit", os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status))
                """#
            let result = try await run("python3", ["-c", driver, try Repo.mlpackBinary()], cwd: project)
            #expect(result.out == "exit 130\n", "\(result)")
            #expect(
                try String(contentsOfFile: project + "/interrupts.txt", encoding: .utf8) == "interrupt\n",
                "one SIGINT, not two")
            let all = try await Self.runs(in: project)
            #expect(all.map(\.status) == ["failed"] && all.first?.exitCode == 130, "\(all)")
        }
    }

    @Test("a command that cannot be found exits 127 with one line, and records nothing")
    func missingProgram() async throws {
        try await withSandbox { box in
            let project = try await Self.makeRepository(in: box)
            let result = try await mlpack(["run", "--", "no-such-program-xyz", "--flag"], cwd: project)
            #expect(result.status == 127)
            #expect(result.errLines == ["mlpack: error: no-such-program-xyz: command not found"], "\(result)")
            try box.write("proj/not-executable.sh", "echo hi\n")
            let denied = try await mlpack(["run", "--", "./not-executable.sh"], cwd: project)
            #expect(denied.status == 126, "\(denied)")
            #expect(try await Self.runs(in: project).isEmpty)
            let usage = try await mlpack(["run", "-i", "missing.csv", "--", "true"], cwd: project)
            #expect(usage.status == 2 && usage.errLines.count == 1 && usage.err.contains("missing.csv"), "\(usage)")
        }
    }

    // MARK: Outputs and inputs

    @Test("outputs are found without -o: a new file in a git-ignored folder and a modified file, not untouched ones")
    func outputsFoundByScanning() async throws {
        try await withSandbox { box in
            let project = try await Self.makeRepository(in: box)
            try box.write("proj/notes.txt", "old\n")
            try box.write("proj/untouched.txt", "same\n")
            try box.write("proj/.venv/pyvenv.cfg", "home = /usr/bin\n")
            let command =
                "mkdir -p checkpoints __pycache__ && printf weights > checkpoints/step-1.bin && echo new >> notes.txt"
                + " && echo cache > __pycache__/x.pyc && echo env > .venv/lib.py && cat untouched.txt > /dev/null"
            let (result, id) = try await Self.record(["sh", "-c", command], in: project)
            #expect(result.status == 0, "\(result)")
            let run = try await Self.show(try #require(id), in: project)
            #expect(run.outputs.map(\.path) == ["checkpoints/step-1.bin", "notes.txt"])
            let weights = try #require(run.output("checkpoints/step-1.bin"))
            let weightsDigest = try await sha256sum(project + "/checkpoints/step-1.bin")
            #expect(weights.size == 7 && weights.sha256 == weightsDigest)
            #expect(run.output("notes.txt")?.size == 8)
            #expect(result.errLines.last == "mlpack: recorded run \(run.id) (succeeded, 2 outputs) in .mlpack/")
            // Outputs are not copied into the store: only code and listings are objects.
            let objects = try FileManager.default.contentsOfDirectory(atPath: project + "/.mlpack/objects/sha256")
            #expect(!objects.contains(weights.sha256))
        }
    }

    @Test(
        "-o names outputs (a folder as a listing), and an -o written outside the project is recorded by absolute path")
    func declaredOutputs() async throws {
        try await withSandbox { box in
            let project = try await Self.makeRepository(in: box)
            let outside = box.path("elsewhere.bin")
            let (result, id) = try await Self.record(
                [
                    "sh", "-c", "mkdir -p export && echo a > export/a.txt && echo b > export/b.txt && echo x > \"$0\"",
                    outside,
                ],
                options: ["-o", "export", "-o", outside], in: project)
            #expect(result.status == 0, "\(result)")
            let run = try await Self.show(try #require(id), in: project)
            let folder = try #require(run.output("export"))
            #expect(folder.kind == "directory" && folder.fileCount == 2 && folder.size == 4)
            let listing = try readBytes(project + "/.mlpack/objects/sha256/" + folder.sha256)
            #expect(
                String(decoding: listing, as: UTF8.self).split(separator: "\n").map { $0.dropFirst(66) } == [
                    "a.txt", "b.txt",
                ])
            let outsideDigest = try await sha256sum(outside)
            #expect(run.output(outside)?.sha256 == outsideDigest)
            #expect(run.output("export/a.txt") != nil, "files the scan finds stay listed one by one")
        }
    }

    @Test("-i inputs are hashed (a folder by its listing), and a run reading an earlier run's output is linked to it")
    func inputsAndLineage() async throws {
        try await withSandbox { box in
            let project = try await Self.makeRepository(in: box)
            try box.write("proj/data/train/part-0.csv", "x,y\n1,2\n")
            try box.write("proj/data/train/part-1.csv", "x,y\n3,4\n")
            let first = try await Self.record(
                ["sh", "-c", "mkdir -p checkpoints && cat data/train/*.csv > checkpoints/model.bin"],
                options: ["-i", "data/train"], in: project)
            let producer = try await Self.show(try #require(first.id, "\(first.result)"), in: project)
            let data = try #require(producer.input("data/train"))
            #expect(data.kind == "directory" && data.fileCount == 2 && data.size == 16 && data.producedBy == nil)
            // The listing is kept, and `sha256sum -c` accepts it inside the folder.
            let listing = project + "/.mlpack/objects/sha256/" + data.sha256
            #expect(try await sha256sum(listing) == data.sha256)
            try await must("sh", ["-c", "sha256sum -c --quiet \"$0\"", listing], cwd: project + "/data/train")

            let second = try await Self.record(
                ["sh", "-c", "cat checkpoints/model.bin > /dev/null && echo 0.9 > score.txt"],
                options: ["-i", "checkpoints/model.bin", "-i", "train.py"], in: project)
            let consumer = try await Self.show(try #require(second.id, "\(second.result)"), in: project)
            let model = try #require(consumer.input("checkpoints/model.bin"))
            #expect(model.producedBy == producer.id)
            #expect(model.sha256 == producer.output("checkpoints/model.bin")?.sha256)
            #expect(consumer.input("train.py")?.producedBy == nil)
        }
    }

    // MARK: Code and metadata

    @Test("the code snapshot keeps uncommitted edits, and a later edit does not touch what the run stored")
    func codeSnapshot() async throws {
        try await withSandbox { box in
            let project = try await Self.makeRepository(in: box)
            try box.write("proj/train.py", "print('edited, not committed')\n")
            try box.write("proj/untracked.py", "print('not tracked')\n")
            let (_, id) = try await Self.record(["true"], in: project)
            let run = try await Self.show(try #require(id), in: project)
            #expect(run.code.files.map(\.path) == [".gitignore", "lib/model.py", "train.py"])
            #expect(run.code.git?.dirty == true && run.code.git?.commit?.count == 40)
            let train = try #require(run.code.files.first { $0.path == "train.py" })
            let object = project + "/.mlpack/objects/sha256/" + train.sha256
            #expect(try readBytes(object) == Array("print('edited, not committed')\n".utf8))

            try box.write("proj/train.py", "print('edited again')\n")
            try await must("git", ["checkout", "--", "lib/model.py"], cwd: project)
            #expect(try readBytes(object) == Array("print('edited, not committed')\n".utf8))
            #expect(
                try await Self.show(run.id, in: project).code.files.first { $0.path == "train.py" }?.sha256
                    == train.sha256)
            // The tree digest is the SHA-256 of the snapshot's sha256sum listing.
            let listing = run.code.files.map { "\($0.sha256)  \($0.path)\n" }.joined()
            try box.write("listing.txt", listing)
            #expect(try await sha256sum(box.path("listing.txt")) == run.code.treeDigest)
        }
    }

    @Test("--metrics records the JSON object and the file as an output; --name is kept")
    func metrics() async throws {
        try await withSandbox { box in
            let project = try await Self.makeRepository(in: box)
            let (result, id) = try await Self.record(
                ["sh", "-c", #"echo '{"accuracy": 0.93, "loss": 0.25}' > metrics.json"#],
                options: ["--metrics", "metrics.json", "--name", "baseline"], in: project)
            #expect(result.status == 0, "\(result)")
            let run = try await Self.show(try #require(id), in: project)
            #expect(run.metrics == ["accuracy": 0.93, "loss": 0.25])
            #expect(run.name == "baseline")
            #expect(run.output("metrics.json") != nil)
        }
    }

    @Test("--deterministic sets PYTHONHASHSEED and the others for the command, and records them")
    func deterministic() async throws {
        try await withSandbox { box in
            let project = try await Self.makeRepository(in: box)
            let mlpackBinary = try Repo.mlpackBinary()
            let printSeed = [
                "python3", "-c",
                "import os; print(os.environ.get('PYTHONHASHSEED'), os.environ.get('CUBLAS_WORKSPACE_CONFIG'))",
            ]
            let result = try await run(
                "/usr/bin/env", ["-u", "PYTHONHASHSEED", mlpackBinary, "run", "--deterministic", "--"] + printSeed,
                cwd: project)
            #expect(result.status == 0 && result.out == "0 :4096:8\n", "\(result)")
            let first = try #require(try await Self.runs(in: project).last)
            let record = try await Self.show(first.id, in: project)
            #expect(
                record.setVariables["PYTHONHASHSEED"] == "0"
                    && record.setVariables["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8")
            #expect(
                record.setVariables["TF_DETERMINISTIC_OPS"] == "1"
                    && record.setVariables["TF_CUDNN_DETERMINISTIC"] == "1")

            // A value the user set is a choice: kept, and recorded as what the command saw.
            let chosen = try await Self.record(
                printSeed, options: ["--deterministic"], in: project, environment: ["PYTHONHASHSEED": "42"])
            #expect(chosen.result.out == "42 :4096:8\n", "\(chosen.result)")
            #expect(try await Self.show(try #require(chosen.id), in: project).setVariables["PYTHONHASHSEED"] == "42")

            let plain = try await run(
                "/usr/bin/env", ["-u", "PYTHONHASHSEED", mlpackBinary, "run", "--"] + printSeed, cwd: project)
            #expect(plain.out == "None None\n" || plain.out.hasPrefix("None "), "\(plain)")
            let last = try #require(try await Self.runs(in: project).last)
            #expect(try await Self.show(last.id, in: project).setVariables.isEmpty)
        }
    }

    static let hasStrace = ["/usr/bin/strace", "/bin/strace", "/usr/local/bin/strace"].contains {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    @Test(
        "tracing records a file the command read without -i, but not code, system files or outputs",
        .enabled(if: hasStrace, "strace is not installed (scripts/setup.sh installs it)"),
        arguments: [[], ["--trace=ptrace"]])
    func trace(options: [String]) async throws {
        try await withSandbox { box in
            let project = try await Self.makeRepository(in: box)
            try box.write("proj/data/labels.csv", "a,1\n")
            let outside = try box.write("outside/vocab.txt", "hello\n")
            let script =
                "import sys; open('data/labels.csv').read(); open(sys.argv[1]).read(); open('train.py').read(); "
                + "open('/etc/hostname').read() if __import__('os').path.exists('/etc/hostname') else None; open('out.txt', 'w').write('x'); open('out.txt').read()"
            let (result, id) = try await Self.record(
                ["python3", "-c", script, outside], options: options, in: project)
            #expect(result.status == 0, "\(result)")
            #expect(!result.err.contains("warning"), "\(result)")
            let run = try await Self.show(try #require(id), in: project)
            #expect(run.inputs.map(\.path) == ["data/labels.csv", outside], "\(run.inputs)")
            let labelsDigest = try await sha256sum(project + "/data/labels.csv")
            #expect(run.input("data/labels.csv")?.sha256 == labelsDigest)
            #expect(run.outputs.map(\.path) == ["out.txt"])
        }
    }

    @Test("the store ignores itself: git status stays clean after a run")
    func storeIsIgnored() async throws {
        try await withSandbox { box in
            let project = try await Self.makeRepository(in: box)
            let (result, _) = try await Self.record(["true"], in: project)
            #expect(result.status == 0, "\(result)")
            #expect(try readBytes(project + "/.mlpack/.gitignore") == Array("*\n".utf8))
            let status = try await must("git", ["status", "--porcelain", "--untracked-files=all"], cwd: project)
            #expect(status.out.isEmpty, "\(status)")
            // A run from a subfolder lands in the same store, with its folder recorded.
            let sub = try await mlpack(["run", "--", "pwd"], cwd: project + "/lib")
            #expect(sub.out == project + "/lib\n", "\(sub)")
            #expect(!exists(project + "/lib/.mlpack"))
            let last = try #require(try await Self.runs(in: project).last)
            #expect(try await Self.show(last.id, in: project).workingDirectory == "lib")
        }
    }

    // MARK: runs

    @Test("runs lists oldest first, in text and JSON; runs show takes a unique prefix")
    func runsListAndShow() async throws {
        try await withSandbox { box in
            let project = try await Self.makeRepository(in: box)
            let empty = try await mlpack(["runs"], cwd: project)
            #expect(empty.status == 0 && empty.out.hasPrefix("no runs recorded"), "\(empty)")
            let first = try await Self.record(
                ["sh", "-c", "echo 1 > a.txt"], options: ["--name", "first"], in: project)
            let second = try await Self.record(["sh", "-c", "exit 4"], in: project)
            let (a, b) = (try #require(first.id), try #require(second.id))
            #expect(a.range(of: #"^\d{8}T\d{6}Z-[0-9a-f]{6}$"#, options: .regularExpression) != nil, "\(a)")

            let listing = try await Self.runs(in: project)
            #expect(listing.map(\.id) == [a, b])
            #expect(listing[0].name == "first" && listing[0].status == "succeeded" && listing[0].outputs == 1)
            #expect(listing[1].status == "failed" && listing[1].exitCode == 4 && listing[1].command == "sh -c 'exit 4'")
            #expect((listing[0].durationSeconds ?? -1) >= 0)

            let text = try await mlpack(["runs"], cwd: project)
            let lines = text.out.split(separator: "\n")
            #expect(
                lines.count == 3 && lines[0].hasPrefix("ID ") && lines[1].hasPrefix(a) && lines[2].hasPrefix(b),
                "\(text)")
            #expect(
                lines[1].contains("first") && lines[1].contains("succeeded")
                    && lines[1].hasSuffix("sh -c 'echo 1 > a.txt'"))
            #expect(lines[2].contains("failed") && lines[2].contains(" 4 "))

            let show = try await mlpack(["runs", "show", String(b.prefix(b.count - 2))], cwd: project)
            #expect(show.status == 0, "\(show)")
            #expect(show.out.hasPrefix("run \(b)\n"))
            for expected in [
                "  command      sh -c 'exit 4'", "  status       failed (exit 4)", "  directory    .", "inputs (0)",
                "outputs (0)",
            ] {
                #expect(show.out.contains(expected), "missing \(expected) in\n\(show.out)")
            }
            let record = try await Self.show(a, in: project)
            let environment = try await Self.show(b, in: project).environment
            #expect(show.out.contains("  environment  \(environment)"))
            #expect(record.environment.count == 12)
            #expect(exists(project + "/.mlpack/env/\(record.environment)/platform.json"))
            #expect(
                record.started.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#, options: .regularExpression)
                    != nil)

            let ambiguous = try await mlpack(["runs", "show", String(a.prefix(4))], cwd: project)
            #expect(ambiguous.status == 2 && ambiguous.err.contains("ambiguous"), "\(ambiguous)")
            let missing = try await mlpack(["runs", "show", "nope"], cwd: project)
            #expect(missing.status == 2 && missing.errLines.count == 1, "\(missing)")
        }
    }
}
