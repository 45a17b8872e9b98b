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

    @Option(
        help: ArgumentHelp(
            "Largest metadata file (manifest, disclosures, index) read into memory; also the most bytes all entry names may total.",
            valueName: "BYTES")
    )
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

/// --atol, --rtol and --metric-tolerance: one rule set for `create` (the card's tolerance),
/// `compare`, `diff` and `verify --rebuild` (the reviewer's, on top of the card's).
struct ToleranceOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Absolute tolerance for float tensors and numeric metrics (default 0: exact, or the card's on rebuild).",
            valueName: "X"))
    var atol: Double?

    @Option(
        help: ArgumentHelp(
            "Relative tolerance for float tensors and numeric metrics (default 0: exact, or the card's on rebuild).",
            valueName: "Y"))
    var rtol: Double?

    @Option(
        help: ArgumentHelp("Absolute tolerance for one metric, e.g. accuracy=0.01 (repeatable).", valueName: "NAME=X"))
    var metricTolerance: [String] = []

    var given: Bool { atol != nil || rtol != nil || !metricTolerance.isEmpty }

    /// Per metric, the last value given for a name winning.
    var metrics: [String: Double] { Dictionary(metricTolerance.compactMap(Self.parse), uniquingKeysWith: { $1 }) }

    /// The flags alone, exact where they say nothing.
    var tolerance: ComparisonTolerance { ComparisonTolerance(atol: atol ?? 0, rtol: rtol ?? 0, metrics: metrics) }

    /// What `create` writes into the card: nil when no flag was given.
    var card: Card.Tolerance? {
        given ? Card.Tolerance(atol: atol, rtol: rtol, metrics: metricTolerance.isEmpty ? nil : metrics) : nil
    }

    func validate() throws {
        for (flag, value) in [("--atol", atol), ("--rtol", rtol)] where value.map({ $0 < 0 || !$0.isFinite }) == true {
            throw ValidationError("\(flag) must be a finite number ≥ 0")
        }
        for entry in metricTolerance where Self.parse(entry) == nil {
            throw ValidationError("--metric-tolerance \(entry): expected NAME=X with X a finite number ≥ 0")
        }
    }

    /// NAME=X, split at the last `=` (a metric name may hold one), X finite and ≥ 0.
    private static func parse(_ entry: String) -> (String, Double)? {
        guard let equals = entry.lastIndex(of: "="), equals != entry.startIndex,
            let value = Double(entry[entry.index(after: equals)...]), value.isFinite, value >= 0
        else { return nil }
        return (String(entry[..<equals]), value)
    }
}

/// `NAME=VALUE` flag values (`--data`, `--data-uri`, `--secret`…). An error names the flag
/// and the name only: the value may be a secret.
enum NameValue {
    static func split(_ given: String, _ flag: String) throws -> (name: String, value: String) {
        guard let equals = given.firstIndex(of: "="), equals != given.startIndex,
            given.index(after: equals) != given.endIndex
        else {
            throw ValidationError("\(flag) \(given.prefix { $0 != "=" }): expected NAME=VALUE")
        }
        return (String(given[..<equals]), String(given[given.index(after: equals)...]))
    }

    /// By name; a name given twice is an error.
    static func dictionary(_ values: [String], _ flag: String) throws -> [String: String] {
        var found: [String: String] = [:]
        for given in values {
            let (name, value) = try split(given, flag)
            guard found.updateValue(value, forKey: name) == nil else {
                throw ValidationError("\(flag) \(name) given twice")
            }
        }
        return found
    }
}

/// `--data` is both a flag of `verify` (check the data references) and, with a value, a
/// copy of one (`--data NAME=PATH`). The parser has no option whose value is optional, so
/// a value that names a copy (`NAME=…`, not an option) is handed to the hidden
/// `--data-copy` before parsing.
enum DataCopyArguments {
    static func spelled(_ arguments: [String]) -> [String] {
        guard arguments.first == "verify" else { return arguments }
        var result: [String] = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            if argument.hasPrefix("--data=") {
                result += ["--data-copy", String(argument.dropFirst("--data=".count))]
            } else if argument == "--data", index + 1 < arguments.endIndex, isCopy(arguments[index + 1]) {
                result += ["--data-copy", arguments[index + 1]]
                index += 1
            } else {
                result.append(argument)
            }
            index += 1
        }
        return result
    }

    private static func isCopy(_ value: String) -> Bool {
        guard !value.hasPrefix("-"), let equals = value.firstIndex(of: "=") else { return false }
        return !value[..<equals].contains("/")
    }
}

/// Where `s3://` data lives when it is not AWS (an S3-compatible store).
struct S3Options: ParsableArguments {
    @Option(
        name: .customLong("s3-endpoint"),
        help: ArgumentHelp(
            "The S3-compatible store to ask for s3:// URIs (default: $AWS_ENDPOINT_URL, else AWS). Credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws/credentials; the region from AWS_REGION.",
            valueName: "URL"))
    var endpoint: String?

    /// Nil without the flag: the environment is read when an s3:// URI is first used.
    func settings() throws -> S3Settings? { try endpoint.map { try S3Settings(endpoint: $0) } }
}
