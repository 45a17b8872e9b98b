import ArgumentParser
import Foundation
import MLPack

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pack code and weights into a .mlpack file.",
        discussion: """
            Code: inside a git work tree, the files git tracks (with their uncommitted edits), \
            plus --include, minus --exclude. Outside git: every file except .git, __pycache__, \
            *.pyc, virtualenvs and .ipynb_checkpoints. Files named like secrets (.env, .netrc, \
            *.pem, *.key, id_rsa…) are left out, with a warning, unless --include names them. \
            Credentials in a --data-uri are taken out. Patterns in DIR/.mlpackignore are \
            always excluded. A pattern without '/' matches any path component ('*.ckpt', \
            'wandb'); with '/' it matches from DIR ('configs/*.yaml'); '**' spans folders.

            The same inputs and --created give the same tar members and payload bytes.
            """)

    @Option(name: .shortAndLong, help: ArgumentHelp("The pack to write.", valueName: "P.mlpack"))
    var output: String

    @Option(
        help: ArgumentHelp(
            "Pack the lineage of this file: the runs recorded with `mlpack run` that produced it, their code, environments, checkpoints and data references.",
            valueName: "PATH"))
    var outputOf: String?

    @Option(
        name: .customLong("run"),
        help: ArgumentHelp(
            "Also pack this recorded run as history (its record, code and environment); redact --public withholds it unless it is in the outputs' lineage (repeatable; an id prefix).",
            valueName: "ID"))
    var runs: [String] = []

    @Flag(help: "With --output-of: leave intermediate checkpoints out; a rebuild regenerates them.")
    var noCheckpoints = false

    @OptionGroup(title: "Tolerance a rebuild compares the outputs with (the card's)")
    var tolerance: ToleranceOptions

    @Option(help: ArgumentHelp("The code folder to snapshot.", valueName: "DIR"))
    var code: String?

    @Option(help: ArgumentHelp("Also pack code files matching GLOB (repeatable).", valueName: "GLOB"))
    var include: [String] = []

    @Option(help: ArgumentHelp("Leave out code files matching GLOB (repeatable).", valueName: "GLOB"))
    var exclude: [String] = []

    @Option(help: ArgumentHelp("A weights file or folder, stored under artifacts/ (repeatable).", valueName: "PATH"))
    var weights: [String] = []

    @Option(
        help: ArgumentHelp(
            "A free-form note to carry along, private by default: redact --public withholds it (repeatable).",
            valueName: "PATH"))
    var note: [String] = []

    @Option(
        help: ArgumentHelp(
            "Data the pack names by hash, not by copy: a file or folder (repeatable). Folders get a sha256sum listing.",
            valueName: "NAME=PATH"))
    var data: [String] = []

    @Option(
        help: ArgumentHelp(
            "A public place to fetch data NAME from, https://… (repeatable). NAME is a --data name, or that of a reference --output-of makes of a run's input (create warns with it).",
            valueName: "NAME=URI"))
    var dataUri: [String] = []

    @Option(
        help: ArgumentHelp(
            "Where a rebuild puts data NAME, relative to the run's folder (default: PATH's name).",
            valueName: "NAME=RELPATH"))
    var dataMount: [String] = []

    @Option(help: ArgumentHelp("Store data NAME inside the pack too (for small data).", valueName: "NAME"))
    var inlineData: [String] = []

    @Option(
        help: ArgumentHelp(
            "The Python whose version and packages are recorded (default: python3 on PATH).", valueName: "PATH"))
    var python: String?

    @Option(
        name: .customLong("env"),
        help: ArgumentHelp(
            "Record this saved environment instead of probing the machine now: a JSON file from `mlpack env --json` (made where the result was trained), or a pack (PACK#ID picks one of its captures); `current`, the default, probes. Lock files are taken from this pack's code; no host record is stored.",
            valueName: "SOURCE"))
    var environment: String?

    @Option(help: "The pack's name: its top-level folder (default: the output file's name).")
    var name: String?

    @Option(help: ArgumentHelp("A human title, shown by inspect.", valueName: "TEXT"))
    var title: String?

    @Option(
        help: ArgumentHelp(
            "Creation time recorded in the pack (default: $SOURCE_DATE_EPOCH, else now).", valueName: "ISO8601"))
    var created: String?

    @Option(
        help: ArgumentHelp(
            "Sign with this minisign secret key (password from $MLPACK_PASSWORD or a prompt).", valueName: "BASE.key"))
    var key: String?

    @Flag(help: "Write an unsigned pack (verify then needs --allow-unsigned).")
    var unsigned = false

    @Flag(help: "Replace the output file if it exists.")
    var force = false

    @OptionGroup var format: OutputOptions

    func validate() throws {
        if outputOf == nil && code == nil && weights.isEmpty && data.isEmpty && runs.isEmpty {
            throw ValidationError("give --output-of PATH, --code DIR, --weights PATH and/or --data NAME=PATH")
        }
        if noCheckpoints && outputOf == nil { throw ValidationError("--no-checkpoints goes with --output-of") }
        _ = try dataInputs()
        if let contradiction = CreateOptions.environmentContradiction(
            environment: environment, outputOf: outputOf, python: python)
        {
            throw ValidationError(Flags.render(contradiction))
        }
        if key == nil && !unsigned { throw ValidationError("give --key BASE.key to sign the pack, or --unsigned") }
        if key != nil && unsigned { throw ValidationError("--key and --unsigned contradict each other") }
        _ = try creationTime()
    }

    private func creationTime() throws -> Date {
        if let created {
            guard let date = Timestamp.parse(created) else {
                throw ValidationError("--created \(created): expected an ISO 8601 time such as 2026-11-27T12:00:00Z")
            }
            return date
        }
        if let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"] {
            guard let seconds = Int64(epoch), seconds >= 0 else {
                throw ValidationError("SOURCE_DATE_EPOCH=\(epoch): expected seconds since 1970")
            }
            return Date(timeIntervalSince1970: TimeInterval(seconds))
        }
        return Date()
    }

    /// Joins `--data`, `--data-uri`, `--data-mount` and `--inline-data` by name; a
    /// `--data-uri` for no `--data` goes to `referenceURIs`.
    private func dataInputs() throws -> (inputs: [DataInput], referenceURIs: [String: [String]]) {
        var referenceURIs: [String: [String]] = [:]
        let split = NameValue.split
        var inputs: [DataInput] = []
        for value in data {
            let (name, path) = try split(value, "--data")
            guard !inputs.contains(where: { $0.name == name }) else {
                throw ValidationError("--data \(name) given twice")
            }
            inputs.append(DataInput(name: name, path: path))
        }
        func index(_ name: String, _ flag: String) throws -> Int {
            guard let i = inputs.firstIndex(where: { $0.name == name }) else {
                throw ValidationError("\(flag) \(name): no --data \(name)=PATH")
            }
            return i
        }
        for value in dataUri {
            let (name, uri) = try split(value, "--data-uri")
            // Without --data NAME, a reference the lineage makes (checked when it is made).
            if let i = inputs.firstIndex(where: { $0.name == name }) {
                inputs[i].uris.append(uri)
            } else {
                referenceURIs[name, default: []].append(uri)
            }
        }
        for value in dataMount {
            let (name, mount) = try split(value, "--data-mount")
            inputs[try index(name, "--data-mount")].mountPath = mount
        }
        for name in inlineData { inputs[try index(name, "--inline-data")].inline = true }
        return (inputs, referenceURIs)
    }

    func run() throws {
        var options = CreateOptions(output: output, created: try creationTime())
        options.codeDirectory = code
        options.outputOf = outputOf
        options.runs = runs
        options.includeCheckpoints = !noCheckpoints
        options.tolerance = tolerance.card
        options.includes = include
        options.excludes = exclude
        options.weights = weights
        options.notes = note
        (options.data, options.referenceURIs) = try dataInputs()
        options.python = python
        options.environment = environment
        options.name = name
        options.title = title
        options.force = force
        if let key {
            options.signingKey = try SecretKey.load(path: key) {
                try Password.read(prompt: "Password for \(key): ", confirm: false)
            }
        }
        let result = try ProgressBar.drawing(unless: format.quiet) { try PackCreator.create(options, progress: $0) }
        if !format.quiet {
            result.warnings.forEach(Terminal.warning)
            for name in result.unfetchableReferences {
                Terminal.warning(Flags.render(DataReference.unfetchableWarning(name: name)))
            }
        }
        if format.json { return try Terminal.printJSON(result) }
        print(
            "created \(result.output) (\(Terminal.bytes(result.packBytes))): \(result.items) items, \(Terminal.bytes(result.payloadBytes)) of payload, \(result.signer.map { "signed by key \($0)" } ?? "unsigned")"
        )
        print("  name \(result.name), created \(result.created), pack id \(result.packId)")
    }
}
