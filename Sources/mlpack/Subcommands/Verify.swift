import ArgumentParser
import MLPack

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a pack: every digest, the disclosures, the manifest, the BagIt view.",
        discussion: """
            Exit codes: 0 verified; 1 invalid (a digest, size, listing or signature is wrong, \
            or an entry breaks a reader rule); 2 usage or I/O error (missing file, not a pack); \
            3 no trusted signature (unsigned without --allow-unsigned, or signed by a key that \
            is neither given with --key nor in the keyring).
            """)

    @Argument(help: ArgumentHelp("The pack to check ('-' reads standard input).", valueName: "P.mlpack"))
    var pack: String

    @Flag(help: "Accept a pack without a signature (exit 0 instead of 3).")
    var allowUnsigned = false

    @Flag(help: "Also check the data references: fetch what the cache lacks, re-hash the rest.")
    var data = false

    @Option(help: ArgumentHelp("The data cache for --data (default: $XDG_CACHE_HOME/mlpack).", valueName: "DIR"))
    var cache: String?

    @OptionGroup(title: "Trust") var trust: TrustOptions
    @OptionGroup var format: OutputOptions
    @OptionGroup(title: "Limits") var limits: LimitOptions

    func run() throws {
        var options = VerifyOptions()
        options.allowUnsigned = allowUnsigned
        options.trusted = try trust.load()
        if data { options.dataCache = DataCache(root: cache) }
        options.limits = limits.limits
        let report: VerifyReport
        do {
            report = try ProgressBar.drawing(unless: format.quiet) { try PackVerifier.verify(pack, options: options, progress: $0) }
        } catch let error as MLPackError {
            if format.json {
                let verdict = error.category == .invalid ? "invalid" : error.category == .untrusted ? "untrusted" : "error"
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
                print("  redacted    from the pack whose manifest has sha256 \(provenance.derivedFrom.prefix(16))…, \(provenance.withheldFromOriginal) of its items withheld or rewritten")
                print("  covered by  the author's signature (\(provenance.author)): \(provenance.authorItems.count) items")
                print("              the redactor's signature only (\(provenance.redactor)): \(provenance.redactorItems.count) items")
                for path in provenance.redactorItems { print("                \(path)") }
            }
            print("  signature   \(report.signature)")
            print("  bagit       valid")
            print("  seek index  \(report.seekIndex)")
            if !report.data.isEmpty {
                print("  data        \(report.data.count) references\(data ? "" : " (not checked: pass --data to fetch and verify them)")")
                report.data.forEach { print("  " + DataLines.line($0)) }
            }
        }
        if report.verdict == .untrusted {
            if let signer = report.signer, let publicKey = report.signerPublicKey {
                Terminal.error("\(pack) is signed by key \(signer), which you do not trust yet")
                Terminal.standardError("""
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

    private struct Failure: Encodable {
        var pack: String
        var verdict: String
        var error: String
    }
}
