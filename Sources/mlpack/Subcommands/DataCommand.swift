import ArgumentParser
import Foundation
import MLPack

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Publish a pack's data references.",
        subcommands: [Push.self])

    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload a data reference's files to an object store, checking each against the pack.",
            discussion: """
                For a folder reference give a prefix (s3://BUCKET/PREFIX/): each listed file becomes \\
                the object PREFIX/PATH; for a file reference give the object's key. The files come \\
                from the data cache, from --data NAME=PATH, or from where they were when the pack \\
                was made; each is hashed as it is sent, and one that no longer matches the pack's \\
                SHA-256 is not uploaded (the push stops, exit 1). Eight uploads run at once. \\
                Give the same URI to `create --data-uri NAME=…` so that the pack says where the \\
                data is.
                """)

        @Argument(help: ArgumentHelp("The pack.", valueName: "P.mlpack"))
        var pack: String

        @Argument(help: ArgumentHelp("The data reference's name (as `inspect` lists it).", valueName: "NAME"))
        var name: String

        @Argument(help: ArgumentHelp("Where to: s3://BUCKET/PREFIX/ (a folder) or s3://BUCKET/KEY.", valueName: "URI"))
        var destination: String

        @Option(
            help: ArgumentHelp("The data cache to take files from (default: $XDG_CACHE_HOME/mlpack).", valueName: "DIR")
        )
        var cache: String?

        @Option(
            help: ArgumentHelp("Take the reference's files from here (a file or folder you hold).", valueName: "PATH"))
        var data: String?

        @OptionGroup(title: "Object stores") var s3: S3Options
        @OptionGroup var format: OutputOptions
        @OptionGroup(title: "Limits") var limits: LimitOptions

        func run() throws {
            let cache = DataCache(root: cache, localCopies: data.map { [name: $0] } ?? [:], s3: try s3.settings())
            let report = try ProgressBar.drawing(unless: format.quiet) {
                try DataPublisher.push(
                    pack, name: name, to: destination, cache: cache, limits: limits.limits, progress: $0)
            }
            if format.json { return try Terminal.printJSON(report) }
            print(
                "pushed \(report.name): \(report.files) \(report.files == 1 ? "file" : "files"), \(Terminal.bytes(report.bytes)), to \(report.destination)"
            )
            if !report.namedByPack && !format.quiet {
                Terminal.warning(
                    "\(pack) does not name \(report.destination) for \(report.name): a reviewer will not look there (give it to create --data-uri \(report.name)=…)"
                )
            }
        }
    }
}
