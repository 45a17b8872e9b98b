import ArgumentParser
import MLPack

struct OutputOptions: ParsableArguments {
    @Flag(help: "Print the result as JSON on standard output.")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress bar and no warnings on standard error.")
    var quiet = false
}

/// Reader limits against hostile packs; the defaults are safe, raise them for huge packs.
struct LimitOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Most entries a pack may hold.", valueName: "N"))
    var maxEntries = ReaderLimits().maxEntries

    @Option(help: ArgumentHelp("Most bytes the pack may expand to.", valueName: "BYTES"))
    var maxTotalSize = ReaderLimits().maxTotalBytes

    @Option(help: ArgumentHelp("Largest metadata file (manifest, disclosures, index) read into memory.", valueName: "BYTES"))
    var maxMetadataSize = ReaderLimits().maxMetadataBytes

    @Option(help: ArgumentHelp("Largest ratio of expanded to compressed size.", valueName: "RATIO"))
    var maxExpansionRatio = ReaderLimits().maxExpansionRatio

    var limits: ReaderLimits {
        var limits = ReaderLimits()
        limits.maxEntries = maxEntries
        limits.maxTotalBytes = maxTotalSize
        limits.maxMetadataBytes = maxMetadataSize
        limits.maxExpansionRatio = maxExpansionRatio
        return limits
    }
}
