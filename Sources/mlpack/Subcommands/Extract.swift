import ArgumentParser
import MLPack

struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Extract a pack's checked payload (the files under data/) into a folder.",
        discussion: """
            Everything is written to a staging folder inside DIR and moved into place only \
            after every check passed: a damaged or hostile pack leaves nothing behind. With \
            --only, just the frames holding the chosen files are decompressed.
            """)

    @Argument(
        help: ArgumentHelp(
            "The pack: a file, '-' for standard input, or https://… or s3://BUCKET/KEY (read by range).",
            valueName: "P.mlpack"))
    var pack: String

    @Option(help: ArgumentHelp("The folder to extract into (created if missing).", valueName: "DIR"))
    var to: String

    @Option(
        help: ArgumentHelp(
            "Extract only items matching GLOB, e.g. 'code/*' or '*.safetensors' (repeatable).", valueName: "GLOB"))
    var only: [String] = []

    @Flag(help: "Extract into a folder that is not empty, replacing files of the same name.")
    var force = false

    @OptionGroup(title: "Trust") var trust: TrustOptions
    @OptionGroup var format: OutputOptions
    @OptionGroup(title: "Limits") var limits: LimitOptions

    func run() throws {
        var options = ExtractOptions(destination: to)
        options.trusted = try trust.load()
        options.only = only
        options.force = force
        options.limits = limits.limits
        let result = try ProgressBar.drawing(unless: format.quiet) {
            try PackExtractor.extract(pack, options: options, progress: $0)
        }
        if !format.quiet {
            result.warnings.forEach(Terminal.warning)
            if !result.trusted {
                Terminal.warning("\(pack): \(result.signature): nobody you trust vouches for its content")
            }
        }
        if format.json { return try Terminal.printJSON(result) }
        print("extracted \(result.files) files (\(Terminal.bytes(result.bytes))) to \(result.destination)")
        if result.withheld > 0 { print("  \(result.withheld) items are withheld from this pack") }
    }
}
