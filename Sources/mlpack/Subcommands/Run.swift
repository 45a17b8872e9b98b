import ArgumentParser
import Foundation
import MLPack

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command and record the run in the project's .mlpack/ folder.",
        usage:
            "mlpack run [-i <PATH>]... [-o <PATH>]... [--metrics <FILE>] [--name <NAME>] [--deterministic] [--trace <preload|ptrace>] [--no-trace] [--quiet] -- <CMD> [<ARGS>...]",
        discussion: """
            The command runs in the foreground, with this terminal, and mlpack exits with its \
            status (or dies by the same signal). The record holds the command line, working \
            folder, times, status, the exact code (every file git tracks, uncommitted edits \
            included, kept by content in .mlpack/objects/), the environment, inputs and outputs \
            by size and SHA-256, and metrics. Outputs are the -o paths plus every file created \
            or changed under the project while the command ran (git-ignored folders included; \
            .git, .mlpack, __pycache__, *.pyc, virtualenvs and .ipynb_checkpoints excluded). \
            An input with the content of an earlier run's output is linked to that run. \
            Every file the command and its children open is traced by default, at almost no \
            cost: a library mlpack carries is preloaded (LD_PRELOAD) into each process. A \
            file read in the project that git does not track becomes an input, files read \
            outside it become one folder input per dataset, and an input another run wrote \
            links the two runs; traced, only files the run's processes wrote are its \
            outputs. Static binaries and programs that bypass the C library are not seen \
            (mlpack warns): --trace ptrace follows them with strace, more slowly. \
            Secrets in the command line (the value of an option named like --api-key, \
            --token, --password or --auth…, a token such as sk-…, credentials in a URL) are \
            recorded as ${MLPACK_SECRET_…} placeholders, with a warning; files named like \
            secrets (.env, *.key…) stay out of the code, and traced reads of them or of the \
            home folder are recorded by path only. \
            A command that cannot be started exits 127 (not found) or 126 (not executable), \
            and no run is recorded.
            """)

    @Option(
        name: [.customShort("i"), .customLong("input")],
        help: ArgumentHelp(
            "A file or folder the command reads (repeatable); hashed before the command starts.", valueName: "PATH"))
    var inputs: [String] = []

    @Option(
        name: [.customShort("o"), .customLong("output")],
        help: ArgumentHelp(
            "A file or folder the command writes (repeatable), also outside the project.", valueName: "PATH"))
    var outputs: [String] = []

    @Option(
        help: ArgumentHelp(
            "A JSON object file of metrics the command writes; recorded, and an output.", valueName: "FILE"))
    var metrics: String?

    @Option(help: ArgumentHelp("A name for the run.", valueName: "NAME"))
    var name: String?

    @Flag(
        help:
            "Set and record PYTHONHASHSEED=0, CUBLAS_WORKSPACE_CONFIG=:4096:8, TF_DETERMINISTIC_OPS=1, TF_CUDNN_DETERMINISTIC=1 and TF_ENABLE_ONEDNN_OPTS=0 (a value already set is kept)."
    )
    var deterministic = false

    @Option(
        help: ArgumentHelp(
            "How to see the files the command opens: preload (the default) or ptrace (strace: also static binaries, slower).",
            valueName: "TRACER"))
    var trace: TraceMode?

    @Flag(help: "Do not trace: inputs are only the -i paths, outputs whatever changed under the project.")
    var noTrace = false

    @Flag(name: .shortAndLong, help: "No warnings and no summary line on standard error.")
    var quiet = false

    @Argument(
        parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "CMD"))
    var command: [String] = []

    func validate() throws {
        if noTrace, trace != nil { throw ValidationError("--trace and --no-trace contradict each other") }
        if trace == .off { throw ValidationError("--trace takes preload or ptrace (--no-trace turns tracing off)") }
    }

    func run() throws {
        let request = RunRequest(
            command: command, inputs: inputs, outputs: outputs, metrics: metrics, name: name,
            deterministic: deterministic,
            trace: noTrace ? .off : trace ?? .preload)
        let outcome = try RunRecorder.run(request) { if !quiet { Terminal.warning(Flags.render($0)) } }
        switch outcome.record {
        case .success(let record):
            if !quiet {
                let count = record.outputs.count
                Terminal.standardError(
                    "mlpack: recorded run \(record.id) (\(record.status.rawValue), \(count) output\(count == 1 ? "" : "s")) in \(RunStore.directoryName)/"
                )
            }
        case .failure(let error):
            Terminal.error(error.description)
            // The command's own failure says more than ours; a success must not hide ours.
            if outcome.termination == .exited(0) { Foundation.exit(ExitStatus.usage) }
        }
        ChildExit.exit(like: outcome.termination)
    }
}

extension TraceMode: ExpressibleByArgument {}
