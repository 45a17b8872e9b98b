import ArgumentParser
import MLPack

struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch a pack's data references into the local cache, verifying every byte.",
        discussion: """
            Each reference is fetched from its URIs in turn (the author's file:// path, then \
            its https:// and s3:// mirrors; http:// only on loopback), eight files at a time, into a content-addressed cache, \
            $XDG_CACHE_HOME/mlpack/blobs/sha256/ by default. Bytes become visible only after \
            their SHA-256 matched; a reference that fails leaves nothing in the cache.
            """)

    @Argument(help: ArgumentHelp("The pack: a file, or https://… or s3://BUCKET/KEY.", valueName: "P.mlpack"))
    var pack: String

    @Option(help: ArgumentHelp("The cache folder (default: $XDG_CACHE_HOME/mlpack).", valueName: "DIR"))
    var cache: String?

    @Option(
        help: ArgumentHelp(
            "Fill the cache for reference NAME from a file or folder you hold (repeatable; checked against the pack's digests).",
            valueName: "NAME=PATH"))
    var data: [String] = []

    @OptionGroup(title: "Object stores") var s3: S3Options
    @OptionGroup var format: OutputOptions
    @OptionGroup(title: "Limits") var limits: LimitOptions

    func run() throws {
        let cache = DataCache(root: cache, localCopies: try NameValue.dictionary(data, "--data"), s3: try s3.settings())
        let report = try ProgressBar.drawing(unless: format.quiet) {
            try DataFetcher.fetch(pack, cache: cache, limits: limits.limits, progress: $0)
        }
        if format.json { return try Terminal.printJSON(report) }
        if report.references.isEmpty { print("\(pack) names no data references") }
        for reference in report.references {
            print(DataLines.line(reference))
        }
    }
}

enum DataLines {
    static func line(_ reference: DataReport.Reference) -> String {
        let what = reference.kind == .file ? "file" : "\(reference.files) files"
        let from = reference.sources.isEmpty ? "" : " from \(reference.sources.joined(separator: ", "))"
        return
            "  \(pad(reference.name, 16)) \(pad(reference.status, 12)) \(what), \(Terminal.bytes(reference.size)), sha256 \(reference.digest.prefix(16))…\(from)"
    }
}
