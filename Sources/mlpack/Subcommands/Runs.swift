import ArgumentParser
import Foundation
import MLPack

struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the runs recorded in the project's .mlpack/ folder, or show one (runs show ID).",
        usage: "mlpack runs [--json] | mlpack runs show <ID> [--json] | mlpack runs link <ID> -i <PATH> ...",
        subcommands: [List.self, Show.self, Link.self],
        defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the recorded runs, oldest first (the default).")

        @Flag(help: "Print the list as JSON on standard output.")
        var json = false

        func run() throws {
            let store = RunStore.locate(from: FileManager.default.currentDirectoryPath)
            let runs = try store.runs()
            if json { return try Terminal.printJSON(Listing(store: store.root, runs: runs.map(Summary.init))) }
            guard !runs.isEmpty else { return print("no runs recorded in \(store.root)") }
            let rows = runs.map { run in
                [
                    run.id, run.name ?? "-", RunText.status(run), RunText.exit(run), RunText.shortTime(run.started),
                    RunText.duration(run), "\(run.outputs.count)", RunText.command(run.argv),
                ]
            }
            let header = ["ID", "NAME", "STATUS", "EXIT", "STARTED (UTC)", "DURATION", "OUTPUTS", "COMMAND"]
            let widths = (0..<header.count - 1).map { column in ([header] + rows).map { $0[column].count }.max()! }
            for row in [header] + rows {
                print(zip(row.dropLast(), widths).map { pad($0, $1 + 2) }.joined() + row.last!)
            }
        }

        struct Listing: Encodable {
            var store: String
            var runs: [Summary]
        }

        struct Summary: Encodable {
            var id: String
            var name: String?
            var status: RunRecord.Status
            var exitCode: Int32?
            var signal: Int32?
            var started: String
            var ended: String
            var durationSeconds: Double?
            var argv: [String]
            var command: String
            var outputs: Int

            init(_ run: RunRecord) {
                id = run.id
                name = run.name
                status = run.status
                exitCode = run.exitCode
                signal = run.signal
                started = run.started
                ended = run.ended
                durationSeconds = run.durationSeconds.map { ($0 * 1000).rounded() / 1000 }
                argv = run.argv
                command = RunText.command(run.argv)
                outputs = run.outputs.count
            }
        }
    }

    struct Link: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add inputs a recorded run read to its record (and link them to the runs that wrote them).",
            discussion: """
                For a read the record lacks: an untraced run, or a program the tracer did not \
                see. Each path is recorded by its content now, so link it before it changes; a \
                file git tracks is code and is not added; a folder whose files earlier runs \
                wrote is added as those files.
                """)

        @Argument(help: ArgumentHelp("The run's id, or a prefix of it that names one run.", valueName: "ID"))
        var id: String

        @Option(
            name: [.customShort("i"), .customLong("input")],
            help: ArgumentHelp("A file or folder the run read (repeatable).", valueName: "PATH"))
        var inputs: [String] = []

        @OptionGroup var format: OutputOptions

        func validate() throws {
            if inputs.isEmpty { throw ValidationError("give the inputs to add with -i PATH") }
        }

        func run() throws {
            let (run, added) = try RunLinking.link(id, inputs: inputs) { if !format.quiet { Terminal.warning($0) } }
            if format.json { return try Terminal.printJSON(run) }
            if added.isEmpty { return print("run \(run.id): nothing to add (already inputs, or code)") }
            for file in added {
                print(
                    "run \(run.id): added input \(file.path) (\(Terminal.bytes(file.size))\(file.producedBy.map { ", from run \($0)" } ?? ""))"
                )
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one recorded run in full.")

        @Argument(help: ArgumentHelp("The run's id, or a prefix of it that names one run.", valueName: "ID"))
        var id: String

        @Flag(help: "Print the run record itself as JSON on standard output.")
        var json = false

        func run() throws {
            let run = try RunStore.locate(from: FileManager.default.currentDirectoryPath).run(id)
            if json { return try Terminal.printJSON(run) }
            print("run \(run.id)" + (run.name.map { " (\($0))" } ?? ""))
            func row(_ label: String, _ value: String) { print("  " + pad(label, 13) + value) }
            row("command", RunText.command(run.argv))
            row("directory", run.workingDirectory)
            row("started", run.started)
            row("ended", run.ended + " (" + RunText.duration(run) + ")")
            row("status", RunText.status(run) + (run.exitCode.map { " (exit \($0))" } ?? ""))
            var code =
                "tree \(run.code.treeDigest.prefix(12)), \(run.code.files.count) file\(run.code.files.count == 1 ? "" : "s")"
            code += " (\(Terminal.bytes(run.code.files.reduce(0) { $0 + $1.size })))"
            if let git = run.code.git {
                code +=
                    ", git \(git.commit.map { String($0.prefix(12)) } ?? "(no commit)")\(git.dirty ? " with uncommitted edits" : "")"
            }
            row("code", code)
            row("environment", run.environment)
            if let entries = run.pythonPath { row("PYTHONPATH", entries.joined(separator: ":") + " (in the project)") }
            let untraced = run.untraced.map { "; not seen: " + $0.joined(separator: ", ") } ?? ""
            row("traced", (run.tracer.map { "by \($0)" } ?? "no (inputs are the -i paths only)") + untraced)
            for (index, name) in run.setVariables.keys.sorted().enumerated() {
                row(index == 0 ? "set" : "", "\(name)=\(run.setVariables[name]!)")
            }
            section("inputs", run.inputs)
            section("outputs", run.outputs)
            if case .object(let metrics) = run.metrics {
                print("")
                print("metrics")
                let width = min(24, metrics.keys.map(\.count).max() ?? 0)
                for key in metrics.keys.sorted() { print("  " + pad(key, width + 2) + RunText.json(metrics[key]!)) }
            }
        }

        private func section(_ title: String, _ files: [RunRecord.FileRecord]) {
            print("")
            print("\(title) (\(files.count))")
            let width = min(48, files.map(\.path.count).max() ?? 0)
            for file in files {
                let what =
                    file.kind == .directory
                    ? "folder, \(file.fileCount ?? 0) files, \(Terminal.bytes(file.size)), tree \(file.sha256.prefix(12))"
                    : "\(Terminal.bytes(file.size)), sha256 \(file.sha256.prefix(12))"
                print("  " + pad(file.path, width + 2) + what + (file.producedBy.map { ", from run \($0)" } ?? ""))
            }
        }
    }
}

/// How runs read in text.
enum RunText {
    static func status(_ run: RunRecord) -> String {
        guard run.status == .killed, let signal = run.signal else { return run.status.rawValue }
        return "killed (\(signalName(signal)))"
    }

    static func exit(_ run: RunRecord) -> String {
        run.exitCode.map { "\($0)" } ?? "-"
    }

    static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGABRT: "SIGABRT",
            SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM",
            SIGTERM: "SIGTERM", SIGBUS: "SIGBUS", SIGUSR1: "SIGUSR1", SIGUSR2: "SIGUSR2", SIGXCPU: "SIGXCPU",
        ]
        return names[signal] ?? "signal \(signal)"
    }

    /// "2026-11-28T00:35:12.345Z" → "2026-11-28 00:35:12".
    static func shortTime(_ timestamp: String) -> String {
        String(timestamp.prefix(19)).replacingOccurrences(of: "T", with: " ")
    }

    static func duration(_ run: RunRecord) -> String {
        guard let seconds = run.durationSeconds else { return "?" }
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        if seconds < 10 { return String(format: "%.1f s", seconds) }
        if seconds < 60 { return String(format: "%.0f s", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
        return "\(whole / 3600) h \(whole % 3600 / 60) min"
    }

    /// The command line as a shell would take it back.
    static func command(_ argv: [String]) -> String {
        argv.map { argument in
            let safe =
                !argument.isEmpty
                && argument.unicodeScalars.allSatisfy {
                    CharacterSet.alphanumerics.contains($0) || "-_./=:,+@%".unicodeScalars.contains($0)
                }
            return safe ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }

    /// A metric's value in compact JSON.
    static func json(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }
}
