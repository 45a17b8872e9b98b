import ArgumentParser
import Foundation
import MLPack

struct Env: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Capture this machine's environment, or compare two captures (env diff).",
        discussion: """
            `mlpack env` prints what can change numerical results: OS, kernel, libc, CPU \
            model and flags, memory, GPUs and CUDA (from nvidia-smi), the Python interpreter \
            and its installed packages, the conda environment, and an allow-list of \
            environment variables (never one that looks like a secret). Host name, user and \
            home folder are kept apart and shown only with --private. \
            `mlpack env --json > env.json` saves the platform record that `mlpack env diff` reads.
            """,
        subcommands: [Diff.self, Build.self])

    @Option(help: ArgumentHelp("The Python interpreter to ask (default: python3 on PATH).", valueName: "PATH"))
    var python: String?

    @Flag(help: "Print the platform record as JSON (with --private: {platform, host}).")
    var json = false

    @Flag(
        name: .customLong("private"),
        help: "Also show the private host record: host name, user, home, interpreter path.")
    var showPrivate = false

    @Option(
        help: ArgumentHelp(
            "Build the record from a folder of saved command outputs (os-release.txt, lscpu.txt, nvidia-smi-query.csv, python.txt, pip-list.json, …) instead of probing.",
            valueName: "DIR"))
    var rawCaptures: String?

    func run() throws {
        if rawCaptures != nil && python != nil {
            throw MLPackError.usage("--python and --raw-captures cannot be combined")
        }
        let (platform, host) =
            try rawCaptures.map { try RawCaptures(folder: $0).build() } ?? EnvironmentCapture.capture(python: python)
        if let python, platform.python == nil {
            throw MLPackError.io(path: python, reason: "did not answer as a Python interpreter")
        }
        if json {
            if showPrivate { return try Terminal.printJSON(Captured(platform: platform, host: host)) }
            // The exact bytes of platform.json, so a saved file has the pack's id.
            FileHandle.standardOutput.write(Data(platform.platformJSON()))
            return
        }
        for line in EnvironmentSummary.lines(platform) { print(line) }
        if showPrivate {
            print("")
            print("host (private)")
            print("  hostname  \(host.hostname ?? "unknown")")
            print("  user      \(host.user ?? "unknown")")
            print("  home      \(host.home ?? "unknown")")
            print("  python    \(host.pythonExecutable ?? "none")")
        }
    }

    struct Captured: Encodable {
        var platform: EnvironmentCapture
        var host: HostRecord
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two environment captures, each difference marked major or minor.",
            usage: "mlpack env diff <A> <B> [--json] [--python <PATH>] [--max-metadata-size <BYTES>] ...",
            discussion: """
                A and B are each a pack (its env/<id>/platform.json; PACK#ID chooses one of \
                several), a JSON file saved from `mlpack env --json`, or `current` for this \
                machine. Major: Python minor version, ML frameworks (torch, jax, tensorflow, \
                numpy, scipy, scikit-learn, ...), CUDA, GPU model or count, CPU architecture, \
                numerics environment variables. Everything else is minor. A value missing on \
                one side shows as "absent". Exits 0 whenever the comparison was made. \
                Options: --json prints the differences as JSON; --python PATH is the \
                interpreter `current` asks.
                """)

        @Argument(help: ArgumentHelp("The first capture: a pack, an env JSON file, or `current`.", valueName: "A"))
        var a: String

        @Argument(help: ArgumentHelp("The second capture.", valueName: "B"))
        var b: String

        // --json and --python are env's own (given after `diff` too): `--json` prints the
        // differences as JSON, `--python` is the interpreter `current` asks.
        @ParentCommand var env: Env

        @OptionGroup(title: "Limits") var limits: LimitOptions

        func run() throws {
            if env.showPrivate || env.rawCaptures != nil {
                throw MLPackError.usage("env diff takes neither --private nor --raw-captures")
            }
            let (python, json) = (env.python, env.json)
            let first = try EnvironmentSource.load(a, python: python, limits: limits.limits)
            let second = try EnvironmentSource.load(b, python: python, limits: limits.limits)
            let diff = EnvironmentDiff(first, second)
            if json {
                return try Terminal.printJSON(
                    Report(
                        a: .init(source: a, id: first.id), b: .init(source: b, id: second.id), entries: diff.entries,
                        major: diff.majorCount, minor: diff.minorCount))
            }
            print("a  \(a) (env \(first.id))")
            print("b  \(b) (env \(second.id))")
            guard !diff.entries.isEmpty else { return print("no differences") }
            print("")
            let width = min(32, diff.entries.map(\.field.count).max() ?? 0)
            for entry in diff.entries {
                print(pad(entry.severity.rawValue, 7) + pad(entry.field, width + 2) + "\(entry.a)  →  \(entry.b)")
            }
            print("")
            print(
                "\(diff.entries.count) difference\(diff.entries.count == 1 ? "" : "s"): \(diff.majorCount) major, \(diff.minorCount) minor"
            )
        }

        struct Report: Encodable {
            struct Side: Encodable {
                var source: String
                var id: String
            }

            var a: Side
            var b: Side
            var entries: [EnvironmentDiff.Entry]
            var major: Int
            var minor: Int
        }
    }
}

extension Env {
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build the Python environment of one of a pack's environment captures, with uv.",
            discussion: """
                Makes, at DIR, the environment `verify --rebuild` would build: a venv with an \
                interpreter of the recorded major.minor (this machine's, else one uv installs) \
                and every recorded package at its exact version, wheels only, without \
                dependencies (the capture is the whole set). PACK#ID chooses one of several \
                captures. The project itself, when it was installed editable, is left to you: \
                install your copy with `uv pip install --python DIR/bin/python -e PATH`.
                """)

        @Argument(help: ArgumentHelp("The pack (PACK#ID for one of several captures).", valueName: "PACK[#ID]"))
        var pack: String

        @Option(help: ArgumentHelp("The folder to make (must not exist).", valueName: "DIR"))
        var to: String

        @OptionGroup(title: "Python environment") var python: PythonEnvironmentFlags
        @OptionGroup(title: "Limits") var limits: LimitOptions

        // --json is env's own (given after `build` too).
        @ParentCommand var env: Env

        func validate() throws {
            if python.pythonEnv == .host { throw ValidationError("--python-env host builds nothing") }
        }

        func run() throws {
            let report = try PythonEnvironmentBuilder.build(
                pack, to: to, options: python.options, limits: limits.limits,
                progress: { Terminal.standardError("mlpack: " + $0) })
            if env.json { return try Terminal.printJSON(report) }
            print("environment \(report.environment): \(RebuildText.pythonSummary(report))")
            print("  python    \(report.interpreter ?? "none")")
            report.notInstalled.forEach { print("  ! not installed: \($0.name) \($0.version): \($0.reason)") }
            report.notes.forEach { print("  · \($0)") }
        }
    }
}

/// The readable form of a platform record.
enum EnvironmentSummary {
    static func lines(_ env: EnvironmentCapture) -> [String] {
        var out = ["environment \(env.id)"]
        func row(_ label: String, _ value: String) { out.append("  " + pad(label, 10) + value) }
        row("os", env.os.prettyName ?? [env.os.id, env.os.versionId].compactMap { $0 }.joined(separator: " "))
        row("kernel", [env.kernel, env.arch].compactMap { $0 }.joined(separator: " "))
        row("libc", env.libc ?? "unknown")
        var cpu = env.cpu.model ?? "unknown"
        if let cores = env.cpu.cores { cpu += ", \(cores) CPUs" }
        row("cpu", cpu + ", \(env.cpu.flags.count) flags")
        row("memory", env.memoryBytes.map { Terminal.bytes($0) } ?? "unknown")
        if env.gpus.isEmpty { row("gpu", "none") }
        for gpu in env.gpus {
            let details = [
                gpu.memoryMiB.map { "\($0) MiB" }, gpu.computeCapability.map { "compute \($0)" },
                gpu.driverVersion.map { "driver \($0)" },
            ]
            .compactMap { $0 }
            row("gpu", gpu.name + (details.isEmpty ? "" : " (" + details.joined(separator: ", ") + ")"))
        }
        if let cuda = env.cuda {
            row("cuda", [cuda.version, cuda.toolkit.map { "toolkit \($0)" }].compactMap { $0 }.joined(separator: ", "))
        }
        if let python = env.python {
            row(
                "python", "\(python.version) (\(python.implementation ?? "unknown")), \(python.packages.count) packages"
            )
            let frameworks = python.packages.filter {
                ["torch", "jax", "tensorflow", "numpy", "scipy", "scikit-learn"].contains($0.name.lowercased())
            }
            for package in frameworks {
                let version =
                    package.name.lowercased() == "torch" ? python.torch?.version ?? package.version : package.version
                row("", "\(package.name) \(version)")
            }
        } else {
            row("python", "none")
        }
        if let conda = env.conda { row("conda", conda) }
        for lock in env.lockFiles { row("lockfile", "\(lock.path) (sha256 \(lock.sha256.prefix(12)))") }
        for name in env.environment.keys.sorted() { row("env", "\(name)=\(env.environment[name]!)") }
        return out
    }
}
