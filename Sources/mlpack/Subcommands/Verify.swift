import ArgumentParser
import MLPack

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a pack: every digest, the disclosures, the manifest, the BagIt view.",
        discussion: """
            Exit codes: 0 verified; 1 invalid (a digest, size, listing or signature is wrong, \
            or an entry breaks a reader rule); 2 usage or I/O error (missing file, not a pack); \
            3 no trusted signature (unsigned without --allow-unsigned, or signed by a key that \
            is neither given with --key nor in the keyring); 4 not reproduced (--rebuild).

            --rebuild then replays the runs that produced the card's outputs, in lineage order, \
            each in a fresh workspace (its code snapshot, its inputs: data references from the \
            cache or their URIs, earlier runs' rebuilt outputs), inside bubblewrap with no \
            network, the system read-only and only the workspace writable; and compares every \
            recorded output with the rebuilt one: identical (same SHA-256), equivalent \
            (bitwise-equal tensors, other bytes), within tolerance (floats within \
            atol + rtol·|expected|, from the card or --atol/--rtol), different, or missing.
            """)

    @Argument(
        help: ArgumentHelp(
            "The pack to check: a file, '-' for standard input, or https://… or s3://BUCKET/KEY (streamed once).",
            valueName: "P.mlpack"))
    var pack: String

    @Flag(help: "Accept a pack without a signature (exit 0 instead of 3).")
    var allowUnsigned = false

    @Flag(
        help: ArgumentHelp(
            "Also check the data references: fetch what the cache lacks, re-hash the rest. --data NAME=PATH (repeatable; implies the check, and serves --rebuild) gives a reference from a file or folder you hold, checked against the pack's digests: the way to rebuild with data that has no public URI."
        ))
    var data = false

    /// `--data NAME=PATH`, as `DataCopyArguments` hands it over.
    @Option(name: .customLong("data-copy"), help: .hidden)
    var dataCopies: [String] = []

    @Option(
        help: ArgumentHelp(
            "The data cache for --data and --rebuild (default: $XDG_CACHE_HOME/mlpack).", valueName: "DIR"))
    var cache: String?

    @OptionGroup(title: "Rebuild") var rebuild: RebuildFlags
    @OptionGroup(title: "Object stores") var s3: S3Options

    @OptionGroup(title: "Trust") var trust: TrustOptions
    @OptionGroup var format: OutputOptions
    @OptionGroup(title: "Limits") var limits: LimitOptions

    func run() throws {
        if rebuild.rebuild { return try runRebuild() }
        var options = VerifyOptions()
        options.allowUnsigned = allowUnsigned
        options.trusted = try trust.load()
        let copies = try NameValue.dictionary(dataCopies, "--data")
        if data || !copies.isEmpty {
            options.dataCache = DataCache(root: cache, localCopies: copies, s3: try s3.settings())
        }
        options.limits = limits.limits
        let report: VerifyReport
        do {
            report = try ProgressBar.drawing(unless: format.quiet) {
                try PackVerifier.verify(pack, options: options, progress: $0)
            }
        } catch let error as MLPackError {
            if format.json {
                let verdict =
                    error.category == .invalid ? "invalid" : error.category == .untrusted ? "untrusted" : "error"
                try Terminal.printJSON(Failure(pack: pack, verdict: verdict, error: error.description))
            }
            throw error
        }
        if !format.quiet { report.warnings.forEach(Terminal.warning) }
        if format.json {
            try Terminal.printJSON(report)
        } else {
            print("\(report.verdict == .verified ? "verified" : "intact but not trusted"): \(pack)")
            print("  name        \(report.name)\(report.title.map { " — \($0)" } ?? "")")
            print("  created     \(report.created)")
            print("  items       \(report.items) (\(Terminal.bytes(report.payloadBytes))), every sha256 checked")
            if report.withheld > 0 { print("  withheld    \(report.withheld) items withheld") }
            if let provenance = report.provenance {
                print(
                    "  redacted    from the pack whose manifest has sha256 \(provenance.derivedFrom.prefix(16))…, \(provenance.withheldFromOriginal) of its items withheld or rewritten"
                )
                print(
                    "  covered by  the author's signature (\(provenance.author)): \(provenance.authorItems.count) items"
                )
                print(
                    "              the redactor's signature only (\(provenance.redactor)): \(provenance.redactorItems.count) items"
                )
                for path in provenance.redactorItems { print("                \(path)") }
            }
            print("  signature   \(report.signature)")
            print("  bagit       valid")
            print("  seek index  \(report.seekIndex)")
            if !report.data.isEmpty {
                print(
                    "  data        \(report.data.count) references\(data ? "" : " (not checked: pass --data to fetch and verify them)")"
                )
                report.data.forEach { print("  " + DataLines.line($0)) }
            }
        }
        if report.verdict == .untrusted {
            if let signer = report.signer, let publicKey = report.signerPublicKey {
                Terminal.error("\(pack) is signed by key \(signer), which you do not trust yet")
                Terminal.standardError(
                    """
                    Check this public key with the pack's author, then trust it with:
                      mlpack key trust \(publicKey)
                    or accept it for one run with: --key \(publicKey)
                    """)
            } else {
                Terminal.error("\(pack) is unsigned (pass --allow-unsigned to accept unsigned packs)")
            }
            throw ExitCode(ExitStatus.untrusted)
        }
    }

    private func runRebuild() throws {
        var options = RebuildOptions()
        options.verify.allowUnsigned = allowUnsigned
        options.verify.trusted = try trust.load()
        options.verify.limits = limits.limits
        options.cache = DataCache(
            root: cache, localCopies: try NameValue.dictionary(dataCopies, "--data"), s3: try s3.settings())
        options.workdir = rebuild.workdir
        options.keep = rebuild.keep
        options.from = rebuild.from
        if rebuild.follow {
            options.follow = { Terminal.standardError(bytes: $0) }
        }
        options.allowNetwork = rebuild.allowNetwork
        options.unsafeNoSandbox = rebuild.unsafeNoSandbox
        if let timeout = rebuild.timeout { options.limits.timeout = timeout }
        if let size = rebuild.maxWorkspaceSize { options.limits.maxWorkspaceBytes = size.bytes }
        if let processes = rebuild.maxProcesses { options.limits.maxProcesses = processes }
        if let memory = rebuild.maxMemory { options.limits.maxMemory = memory.bytes }
        options.atol = rebuild.tolerance.atol
        options.rtol = rebuild.tolerance.rtol
        options.metricTolerances = rebuild.tolerance.metrics
        options.secrets = try rebuild.secrets()
        options.python = rebuild.python.options
        if let run = rebuild.replayRun {
            options.stage = .run(run)
        } else if rebuild.collect {
            options.stage = .collect
        }
        let quiet = format.quiet || format.json
        let report = try Rebuilder.rebuild(pack, options: options) { line in
            // Progress names what a pack says (commands, names): shown without control characters.
            if !quiet { Terminal.standardError("mlpack: " + RebuildText.printable(line)) }
        }
        if case .run = options.stage {
            // One run of a rebuild in parts: its result is in the workdir for `--collect`.
            if let run = report.runs.last, !format.quiet { print("run \(run.id): \(run.status)") }
            if report.verdict != .reproduced { throw ExitCode(ExitStatus.notReproduced) }
            return
        }
        for path in rebuild.report { try RebuildText.write(report, to: path) }
        if format.json {
            try Terminal.printJSON(report)
        } else {
            RebuildText.lines(report).forEach { print($0) }
        }
        if report.verdict != .reproduced { throw ExitCode(ExitStatus.notReproduced) }
    }

    private struct Failure: Encodable {
        var pack: String
        var verdict: String
        var error: String
    }
}

struct RebuildFlags: ParsableArguments {
    @Flag(help: "Replay the lineage in a sandbox and compare the outputs (exit 4 when not reproduced).")
    var rebuild = false

    @Option(
        help: ArgumentHelp(
            "Where the runs' workspaces go (default: a temporary folder, removed unless --keep).", valueName: "DIR"))
    var workdir: String?

    @Flag(help: "Keep the workspaces and logs.")
    var keep = false

    @Flag(help: "Show each run's output on standard error as it runs (control characters shown as '?').")
    var follow = false

    @Option(
        help: ArgumentHelp(
            "Start at this run (id, id prefix or name): earlier runs are not replayed, what later runs read of theirs comes from the pack's checkpoints.",
            valueName: "RUN"))
    var from: String?

    @Option(
        help: ArgumentHelp(
            "Also write the report here, by extension: .html (one self-contained page with the lineage graph and difference charts), .json, else Markdown. Repeat for several.",
            valueName: "FILE"))
    var report: [String] = []

    @Flag(help: "Let the runs use the network (default: none; the pack's code is a stranger's).")
    var allowNetwork = false

    // A rebuild in parts, each a job of a batch scheduler: one run replayed alone in the
    // shared --workdir, then everything compared. Generated into job scripts, not typed.
    @Option(help: ArgumentHelp(visibility: .hidden))
    var replayRun: String?

    @Flag(help: ArgumentHelp(visibility: .hidden))
    var collect = false

    @Flag(help: "Run without bubblewrap, unconfined. Only for code you trust.")
    var unsafeNoSandbox = false

    @Option(help: ArgumentHelp("Seconds each run may take (default: 21600, six hours).", valueName: "SECONDS"))
    var timeout: Double?

    @Option(
        help: ArgumentHelp(
            "Disk a run's workspace (and any one file) may take, e.g. 500M, 20G (default: 32G).", valueName: "SIZE"))
    var maxWorkspaceSize: ByteSize?

    @Option(
        help: ArgumentHelp("Processes a run may have at once (default: 4096; needs a control group).", valueName: "N"))
    var maxProcesses: Int?

    @Option(
        help: ArgumentHelp(
            "Memory a run may use, e.g. 8G (default: three quarters of this machine's; needs a control group).",
            valueName: "SIZE"))
    var maxMemory: ByteSize?

    @Option(
        help: ArgumentHelp(
            "A secret the recorded command line needs, placeholder ${NAME} (repeatable; an environment variable NAME works too and stays out of the process list).",
            valueName: "NAME=VALUE"))
    var secret: [String] = []

    @OptionGroup(title: "Python environment")
    var python: PythonEnvironmentFlags

    @OptionGroup(title: "Tolerance (on top of the card's)")
    var tolerance: ToleranceOptions

    /// `--secret NAME=VALUE`, by name.
    func secrets() throws -> [String: String] {
        try NameValue.dictionary(secret, "--secret")
    }

    func validate() throws {
        let limits = timeout != nil || maxWorkspaceSize != nil || maxProcesses != nil || maxMemory != nil
        if !rebuild
            && (workdir != nil || keep || follow || from != nil || !report.isEmpty || replayRun != nil || collect
                || allowNetwork || unsafeNoSandbox
                || limits
                || tolerance.given
                || !secret.isEmpty || python.given)
        {
            throw ValidationError(
                "--workdir, --keep, --follow, --from, --report, --allow-network, --unsafe-no-sandbox, --timeout, --max-*, --atol, --rtol, --metric-tolerance, --secret, --python-env, --index-url, --find-links and --offline go with --rebuild"
            )
        }
        _ = try secrets()
        if let timeout, timeout <= 0 || !timeout.isFinite {
            throw ValidationError("--timeout must be a finite number of seconds > 0")
        }
        if let maxProcesses, maxProcesses < 1 { throw ValidationError("--max-processes must be at least 1") }
    }
}

/// A size flag's value: "20G", "512M", "4096" (bytes).
struct ByteSize: ExpressibleByArgument {
    let bytes: UInt64

    init?(argument: String) {
        guard let bytes = ByteCount.parse(argument), bytes > 0 else { return nil }
        self.bytes = bytes
    }
}

/// `--python-env`, `--index-url`, `--find-links`, `--offline`: where a rebuild's (or `env
/// build`'s) Python environment comes from.
struct PythonEnvironmentFlags: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "pack: build each recorded Python environment with uv (default); host: use this machine's Python as PATH finds it.",
            valueName: "pack|host"))
    var pythonEnv: PythonEnvironmentOptions.Source?

    @Option(help: ArgumentHelp("The package index to install from (default: uv's, PyPI).", valueName: "URL"))
    var indexURL: String?

    @Option(help: ArgumentHelp("A folder of wheels to install from too (repeatable).", valueName: "DIR"))
    var findLinks: [String] = []

    @Flag(help: "Build environments without the network: uv's cache and --find-links only.")
    var offline = false

    var given: Bool { pythonEnv != nil || indexURL != nil || !findLinks.isEmpty || offline }

    var options: PythonEnvironmentOptions {
        var options = PythonEnvironmentOptions()
        options.source = pythonEnv ?? .pack
        options.indexURL = indexURL
        options.findLinks = findLinks.map { $0.hasPrefix("/") ? $0 : Host.current.workingDirectory + "/" + $0 }
        options.offline = offline
        return options
    }

    func validate() throws {
        if pythonEnv == .host && (indexURL != nil || !findLinks.isEmpty || offline) {
            throw ValidationError(
                "--index-url, --find-links and --offline build a pack's environment: not with --python-env host")
        }
    }
}

extension PythonEnvironmentOptions.Source: ExpressibleByArgument {}
