/// A pack's lineage as a picture: runs as boxes, the files between them as smaller nodes
/// (read → run → wrote). Built from what `inspect` reads, and coloured by a rebuild's
/// verdicts when there is one. Layout (`GraphLayout`) and drawing (`GraphDrawing`) are apart
/// so that Graphviz and the layered layout of our own draw the same picture.
public struct LineageGraph: Sendable {
    /// How a node is coloured.
    public enum Tone: String, Sendable {
        /// Nothing to say (no rebuild, or a file not compared).
        case neutral
        /// Ran and exited 0, or an output identical, equivalent or within tolerance.
        case good
        /// Not replayed: taken from the pack (`--from`), or a within-tolerance output.
        case fair
        /// Failed, timed out, or an output different or missing.
        case bad
        /// Not run (an earlier run failed).
        case skipped
    }

    public enum Kind: String, Sendable {
        case run, file, data
    }

    public struct Node: Sendable {
        public var kind: Kind
        /// Shown in the box, first line bold. Text of the pack: escape before drawing.
        public var lines: [String]
        /// The full text, shown on hover.
        public var title: String
        public var tone: Tone
        /// One of the card's outputs: drawn with a heavy border.
        public var highlighted: Bool
    }

    public struct Edge: Sendable, Equatable {
        public var from: Int
        public var to: Int
    }

    public var nodes: [Node] = []
    public var edges: [Edge] = []

    /// The graph of `steps` (oldest first). Each run's inputs and the outputs that matter
    /// (shipped, read by a later run, or compared by the rebuild) are nodes; an input that an
    /// earlier run wrote is that run's output node, so the edge runs through it.
    public init(steps: [LineageView.Step], rebuild: RebuildReport? = nil) {
        let cardOutputs = Set(rebuild?.cardOutputs ?? [])
        let compared = Dictionary(
            (rebuild?.outputs ?? []).map { ($0.run + "\u{0}" + $0.path, $0) }, uniquingKeysWith: { first, _ in first })
        let replayed = Dictionary(
            (rebuild?.runs ?? []).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let readDigests = Set(steps.flatMap { step in step.inputs.filter { $0.producedBy != nil }.map(\.sha256) })
        var fileNodes: [String: Int] = [:]  // "run \0 sha256" of an output, or "sha256 \0 path" of a source
        var edgeSet = Set<[Int]>()
        func connect(_ from: Int, _ to: Int) {
            if edgeSet.insert([from, to]).inserted { edges.append(Edge(from: from, to: to)) }
        }
        for step in steps {
            let runNode = nodes.count
            let run = replayed[step.run]
            var lines = [step.name ?? "run", step.run]
            var status = step.status.rawValue
            if let run {
                status = run.status
                if let seconds = run.seconds { status += String(format: ", %.1f s", seconds) }
            }
            lines.append(status)
            let tone: Tone =
                run.map { run in
                    switch run.status {
                    case "ok": .good
                    case "from the pack": .fair
                    case "not run": .skipped
                    default: .bad
                    }
                } ?? .neutral
            nodes.append(
                Node(
                    kind: .run, lines: lines, title: "run \(step.run): " + step.command.joined(separator: " "),
                    tone: tone, highlighted: false))
            // Plain files a run read by the dozen (a traced data loader's) are one node.
            let plain = step.inputs.filter { $0.producedBy == nil && $0.reference == nil && $0.item == nil }
            if plain.count > Self.plainInputsShown {
                nodes.append(
                    Node(
                        kind: .file,
                        lines: ["\(plain.count) files read", Self.shortPath(Self.commonFolder(plain.map(\.path)))],
                        title: plain.map(\.path).joined(separator: "\n"), tone: .neutral, highlighted: false))
                connect(nodes.count - 1, runNode)
            }
            for input in step.inputs {
                if let producer = input.producedBy, let node = fileNodes[producer + "\u{0}" + input.sha256] {
                    connect(node, runNode)
                    continue
                }
                if plain.count > Self.plainInputsShown && input.producedBy == nil && input.reference == nil
                    && input.item == nil
                {
                    continue
                }
                let key = input.sha256 + "\u{0}" + input.path
                let node =
                    fileNodes[key]
                    ?? {
                        let kind: Kind = input.reference == nil ? .file : .data
                        let label =
                            input.reference.map { "data: \($0)" } ?? (input.item == nil ? "input" : "in the pack")
                        nodes.append(
                            Node(
                                kind: kind, lines: [Self.shortPath(input.path), label],
                                title: input.path + " (sha256 " + input.sha256 + ")", tone: .neutral,
                                highlighted: false))
                        fileNodes[key] = nodes.count - 1
                        return nodes.count - 1
                    }()
                connect(node, runNode)
            }
            for output in step.outputs {
                let result = compared[step.run + "\u{0}" + output.path]
                guard output.item != nil || readDigests.contains(output.sha256) || result != nil else { continue }
                let checkpoint = output.item?.hasPrefix("artifacts/checkpoints/") ?? false
                var label = checkpoint ? "checkpoint" : output.item == nil ? "rebuilt, not packed" : "in the pack"
                var tone = Tone.neutral
                if let result {
                    label = (checkpoint ? "checkpoint, " : "") + result.verdict.rawValue
                    tone =
                        switch result.verdict {
                        case .identical, .equivalent: .good
                        case .withinTolerance: .fair
                        case .different, .missing: .bad
                        }
                }
                nodes.append(
                    Node(
                        kind: .file, lines: [Self.shortPath(output.path), label],
                        title: output.path + " (sha256 " + output.sha256 + ")", tone: tone,
                        highlighted: output.item.map(cardOutputs.contains) ?? false))
                fileNodes[step.run + "\u{0}" + output.sha256] = nodes.count - 1
                connect(runNode, nodes.count - 1)
            }
        }
    }

    /// Plain inputs of a run drawn one by one; more are one node.
    static let plainInputsShown = 4

    /// The folder that holds all of `paths` ("." for none in common).
    static func commonFolder(_ paths: [String]) -> String {
        guard var common = paths.first?.split(separator: "/").dropLast() else { return "." }
        for path in paths.dropFirst() {
            let parts = path.split(separator: "/").dropLast()
            common = common.prefix(zip(common, parts).prefix { $0 == $1 }.count)
        }
        let absolute = paths.first?.hasPrefix("/") == true
        guard !common.isEmpty else { return absolute ? "/" : "." }
        return (absolute ? "/" : "") + common.joined(separator: "/") + "/"
    }

    /// A long path as its last components: boxes stay narrow; the title keeps the whole.
    static func shortPath(_ path: String, limit: Int = 36) -> String {
        guard path.count > limit else { return path }
        var kept: [Substring] = []
        var length = 1
        for component in path.split(separator: "/").reversed() {
            if !kept.isEmpty && length + component.count + 1 > limit { break }
            kept.insert(component, at: 0)
            length += component.count + 1
        }
        let tail = kept.joined(separator: "/")
        return "…/" + (tail.count > limit ? String(tail.suffix(limit - 1)) : tail)
    }
}
