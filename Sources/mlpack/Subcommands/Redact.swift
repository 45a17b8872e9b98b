import ArgumentParser
import MLPack

struct Redact: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a copy of a pack without private history; the author's signature still verifies.",
        discussion: """
            Withholding items (deleting files and their disclosures) keeps mlpack/manifest.json \
            and its signature byte for byte: `verify OUT --key AUTHOR.pub` still passes and \
            reports how many items are withheld. --public is the publishing preset: it \
            withholds notes and host records (host and user names, home folders, where data \
            lay locally) and every run outside the lineage of the card's outputs, with the \
            code, environments, artifacts and data references only those runs used; and it \
            rewrites run records that hold absolute paths or home folders, which needs --key: \
            the new manifest, signed by you, keeps the author's manifest and signature inside, \
            so verify shows which items the author vouches for. --public also takes out \
            secrets by the rules `run` and `create` apply now, for packs recorded before them: \
            secrets in command lines become ${MLPACK_SECRET_…} placeholders (verify --rebuild \
            --secret fills them), credentials leave data URIs, code files named like secrets \
            (.env, *.key, *.pem, id_rsa…) are withheld, inputs so named kept by path only, and \
            variables that look like secrets leave platform records. Items are \
            copied stream to stream; nothing is decompressed to disk.
            """)

    @Argument(help: ArgumentHelp("The pack to redact (a file: its seek index is used).", valueName: "IN.mlpack"))
    var input: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The redacted pack to write.", valueName: "OUT.mlpack"))
    var output: String

    @Option(help: ArgumentHelp("Withhold items whose path (below data/) matches GLOB (repeatable).", valueName: "GLOB"))
    var drop: [String] = []

    @Option(
        help: ArgumentHelp(
            "Withhold every item of this role (repeatable): \(Role.allCases.map(\.rawValue).joined(separator: ", ")).",
            valueName: "ROLE"))
    var dropRole: [String] = []

    @Option(help: ArgumentHelp("Withhold this run and what only it used (repeatable; an id prefix).", valueName: "ID"))
    var dropRun: [String] = []

    @Flag(help: "The publishing preset: no notes, no host records, only the outputs' lineage, private paths rewritten.")
    var `public` = false

    @Option(help: ArgumentHelp("Sign the new manifest when content must be rewritten.", valueName: "BASE.key"))
    var key: String?

    @Flag(help: "Show what would be withheld and rewritten, and write nothing.")
    var dryRun = false

    @Flag(help: "Replace the output file if it exists.")
    var force = false

    @OptionGroup var format: OutputOptions
    @OptionGroup(title: "Limits") var limits: LimitOptions

    func validate() throws {
        for role in dropRole where Role(rawValue: role) == nil {
            throw ValidationError(
                "--drop-role \(role): not a role (\(Role.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if drop.isEmpty && dropRole.isEmpty && dropRun.isEmpty && !`public` {
            throw ValidationError("nothing to withhold: give --public, --drop, --drop-role or --drop-run")
        }
    }

    func run() throws {
        var options = RedactOptions(output: output)
        options.drop = drop
        options.dropRoles = dropRole.compactMap(Role.init(rawValue:))
        options.dropRuns = dropRun
        options.publish = `public`
        options.dryRun = dryRun
        options.force = force
        options.limits = limits.limits
        if let key, !dryRun {
            options.signingKey = try SecretKey.load(path: key) {
                try Password.read(prompt: "Password for \(key): ", confirm: false)
            }
        }
        let report = try ProgressBar.drawing(unless: format.quiet) {
            try Redactor.redact(input, options: options, progress: $0)
        }
        if !format.quiet {
            for name in report.unfetchableReferences {
                Terminal.warning(Flags.render(DataReference.unfetchableWarning(name: name)))
            }
        }
        if format.json { return try Terminal.printJSON(report) }
        let verb = report.dryRun ? "would withhold" : "withheld"
        print(
            "\(report.dryRun ? "dry run: " : "")\(input) → \(output): kept \(report.kept) items, \(verb) \(report.withheld.count), \(report.dryRun ? "would rewrite" : "rewrote") \(report.rewritten.count)"
        )
        print(
            "  manifest  \(report.rewritten.isEmpty ? report.manifest : (report.dryRun ? "needs re-signing (--key)" : report.manifest))"
        )
        for change in report.withheld { print("  − " + pad(change.path, 56) + " " + change.reason) }
        for change in report.rewritten {
            print("  ~ " + pad(change.path, 56) + " " + change.reason)
            for secret in change.secrets ?? [] { print("      " + secret.description) }
        }
    }
}
