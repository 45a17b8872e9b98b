import ArgumentParser
import Foundation
import MLPack

@main
struct MLPackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlpack",
        abstract:
            "Make machine-learning results rebuildable: record runs; create, inspect, extract, redact, verify and rebuild .mlpack bundles.",
        discussion: """
            A .mlpack file is a zstd-compressed tar holding the chosen code, weights and metadata, \
            with a manifest that lists a salted SHA-256 of every item. Anyone can check one \
            without mlpack: tar --zstd -xf, then sha256sum -c manifest-sha256.txt inside it.

            Exit codes: 0 verified or done; 1 invalid pack (integrity or signature); \
            2 usage or I/O error; 3 no trusted signature; 4 not reproduced (verify --rebuild) \
            or different (compare).
            """,
        version: MLPackInfo.version,
        subcommands: [
            Key.self, Env.self, Create.self, Inspect.self, Extract.self, Verify.self, Fetch.self, Run.self, Runs.self,
            Redact.self, Compare.self, Diff.self, DataCommand.self,
        ])

    static func main() {
        do {
            var command = try parseAsRoot(DataCopyArguments.spelled(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch {
            Foundation.exit(ExitStatus.report(error))
        }
    }
}
