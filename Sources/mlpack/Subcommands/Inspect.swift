import ArgumentParser
import Foundation
import MLPack

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a pack holds, reading only its index and metadata.",
        discussion: """
            A valid signature vouches for the manifest and the disclosures, and each item shown \
            (card, runs, data references) is checked against them; the other files are not \
            read through the index, so they are not checked: `mlpack verify` hashes every file.
            """)

    @Argument(
        help: ArgumentHelp(
            "The pack: a file, '-' for standard input, or https://… or s3://BUCKET/KEY (read by range).",
            valueName: "P.mlpack"))
    var pack: String

    @Flag(help: "List every file instead of collapsing long folders.")
    var all = false

    @Option(
        help: ArgumentHelp(
            "Write the lineage graph here: .svg (laid out by Graphviz's dot when installed, else by mlpack), or .dot for Graphviz.",
            valueName: "FILE"))
    var graph: String?

    @OptionGroup var format: OutputOptions
    @OptionGroup(title: "Trust") var trust: TrustOptions
    @OptionGroup(title: "Limits") var limits: LimitOptions

    func validate() throws {
        if let graph, !graph.lowercased().hasSuffix(".svg") && !graph.lowercased().hasSuffix(".dot") {
            throw ValidationError("--graph \(graph): name a .svg or a .dot file")
        }
    }

    func run() throws {
        let report = try PackInspector.inspect(pack, limits: limits.limits, trusted: try trust.load())
        if let graph {
            guard !report.lineage.isEmpty else {
                throw MLPackError.usage("\(pack) holds no recorded runs: there is no lineage graph to write")
            }
            let lineage = LineageGraph(steps: report.lineage)
            let text =
                graph.lowercased().hasSuffix(".dot")
                ? GraphLayout.dot(lineage, labels: true)
                : GraphDrawing.svg(lineage, layout: GraphLayout.make(lineage), standalone: true)
            try Terminal.write(Data(text.utf8), to: graph, what: "the graph")
            if !format.quiet {
                print("wrote the lineage graph of \(pack) (\(report.lineage.count) runs) to \(graph)")
            }
            return
        }
        if !format.quiet { report.warnings.forEach(Terminal.warning) }
        if format.json { return try Terminal.printJSON(report) }
        print(pack)
        print("  name      \(report.name)")
        if let title = report.title { print("  title     \(title)") }
        print("  created   \(report.created)")
        if let publicKey = report.signerPublicKey {
            // A key id is a label anyone can give their key: only the key itself identifies the signer.
            print(
                "  signer    "
                    + (report.signerTrusted
                        ? "\(report.signer), a key you trust (signature \(report.signature) over the manifest and disclosures)"
                        : "key id \(report.signer), NOT a key you trust: public key \(publicKey) (signature \(report.signature) over the manifest and disclosures; compare the key with the author's, or give --key)")
            )
        } else {
            print("  signer    unsigned")
        }
        print(
            "  files     "
                + (report.filesChecked
                    ? "every file checked against its disclosure"
                    : "not checked: the signature covers the manifest and disclosures (mlpack verify hashes every file)")
        )
        print("  pack id   \(report.packId)")
        print(
            "  items     \(report.items) (\(Terminal.bytes(report.payloadBytes)))\(report.packBytes.map { ", \(Terminal.bytes($0)) compressed" } ?? "")"
        )
        print("  withheld  \(report.withheld) items")
        for output in report.outputs { print("  output    \(output.path) (\(output.role.rawValue))") }
        if !report.lineage.isEmpty {
            print("")
            print(
                "lineage (\(report.lineage.count) run\(report.lineage.count == 1 ? "" : "s"), oldest first; ← read, → wrote)"
            )
            for line in LineageText.lines(report.lineage) { print("  " + line) }
        }
        print("")
        print("  role            items        size")
        for role in report.roles {
            print(
                "  " + pad(role.role.rawValue, 14) + padLeft("\(role.items)", 7)
                    + padLeft(Terminal.bytes(role.bytes), 12))
        }
        print("")
        print("files (under data/)")
        for line in FileTree(report.files).lines(limit: all ? Int.max : 40) { print("  " + line) }
    }
}

/// The file list of `inspect` as an indented tree; when it is too long, the deepest folders
/// are collapsed into one summary line each until it fits.
struct FileTree {
    final class Node {
        var name: String
        var children: [String: Node] = [:]
        var file: InspectReport.File?
        init(name: String) { self.name = name }

        // Asked for again and again while the tree is fitted to the limit: computed once.
        lazy var fileCount: Int = file == nil ? children.values.reduce(0) { $0 + $1.fileCount } : 1
        lazy var bytes: UInt64 = file?.size ?? children.values.reduce(0) { $0 + $1.bytes }
        lazy var depth: Int = children.isEmpty ? 0 : 1 + children.values.map(\.depth).max()!
    }

    let root = Node(name: "")

    init(_ files: [InspectReport.File]) {
        for file in files {
            var node = root
            for part in file.path.split(separator: "/").map(String.init) {
                if node.children[part] == nil { node.children[part] = Node(name: part) }
                node = node.children[part]!
            }
            node.file = file
        }
    }

    func lines(limit: Int) -> [String] {
        guard root.depth >= 1 else { return render(root, level: 0, collapseAt: Int.max) }
        let collapseAt =
            stride(from: root.depth, to: 1, by: -1).first { lineCount(root, level: 0, collapseAt: $0) <= limit } ?? 1
        return render(root, level: 0, collapseAt: collapseAt)
    }

    /// How many lines `render` would return.
    private func lineCount(_ node: Node, level: Int, collapseAt: Int) -> Int {
        node.children.values.reduce(0) { count, child in
            count + 1
                + (child.file == nil && level + 1 < collapseAt
                    ? lineCount(child, level: level + 1, collapseAt: collapseAt) : 0)
        }
    }

    private func render(_ node: Node, level: Int, collapseAt: Int) -> [String] {
        var out: [String] = []
        for child in node.children.values.sorted(by: { $0.name < $1.name }) {
            let indent = String(repeating: "  ", count: level)
            if let file = child.file {
                out.append(
                    pad(indent + child.name, 52) + padLeft(Terminal.bytes(file.size), 10) + "  " + file.role.rawValue)
            } else if level + 1 >= collapseAt {
                out.append(
                    pad(indent + child.name + "/", 52) + padLeft(Terminal.bytes(child.bytes), 10)
                        + "  (\(child.fileCount) files)")
            } else {
                out.append(indent + child.name + "/")
                out += render(child, level: level + 1, collapseAt: collapseAt)
            }
        }
        return out
    }
}

/// The lineage as a text graph: run → output → run.
enum LineageText {
    static func lines(_ steps: [LineageView.Step]) -> [String] {
        var out: [String] = []
        for step in steps {
            let exit = step.exitCode.map { " (exit \($0))" } ?? ""
            out.append(
                "run \(step.run)\(step.name.map { "  \"\($0)\"" } ?? "")  \(step.status.rawValue)\(exit)  code \(step.codeSnapshot)  env \(step.environment)"
            )
            let directory = step.workingDirectory == "." ? "" : "(in \(step.workingDirectory)) "
            out.append("  $ \(directory)\(step.command.map(quoted).joined(separator: " "))")
            let width = min(40, (step.inputs + step.outputs).map(\.path.count).max() ?? 0)
            for input in step.inputs {
                let source =
                    input.producedBy.map { "from run \($0)" }
                    ?? input.reference.map { "data reference \($0)" } ?? input.item.map { "in the pack: \($0)" }
                    ?? "not in the pack"
                out.append("  ← " + pad(input.path, width) + "  " + source)
            }
            for output in step.outputs {
                out.append(
                    "  → " + pad(output.path, width) + "  "
                        + (output.item.map { "in the pack: \($0)" } ?? "not in the pack"))
            }
        }
        return out
    }

    private static func quoted(_ argument: String) -> String {
        argument.contains(where: { " \"'$\\".contains($0) }) || argument.isEmpty
            ? "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'" : argument
    }
}
