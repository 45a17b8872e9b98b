import Foundation

/// Where each node of a `LineageGraph` goes, in pixels, top to bottom (sources first). Laid
/// out by Graphviz's `dot` when it is installed, else by a layered layout of our own
/// (Sugiyama's: layers by longest path, long edges through dummy points, crossings reduced
/// by barycentres); the two give the same kind of picture, drawn by the same code.
public struct GraphLayout: Sendable {
    public struct Point: Sendable, Equatable {
        public var x: Double
        public var y: Double
    }

    /// A node's box: top-left corner and size.
    public struct Box: Sendable, Equatable {
        public var x: Double
        public var y: Double
        public var width: Double
        public var height: Double

        public func overlaps(_ other: Box) -> Bool {
            x < other.x + other.width && other.x < x + width && y < other.y + other.height && other.y < y + height
        }
    }

    public struct Route: Sendable {
        public var edge: LineageGraph.Edge
        /// From the source's border to the target's: a polyline, or with `curved` the
        /// control points of cubic Bézier segments (1 + 3k points, as Graphviz gives them).
        public var points: [Point]
        public var curved: Bool
    }

    public enum Engine: String, Sendable {
        case graphviz, layered
    }

    public var engine: Engine
    public var boxes: [Box]
    public var routes: [Route]
    public var width: Double
    public var height: Double

    static let margin = 12.0
    static let columnGap = 24.0
    static let rowGap = 34.0
    static let lineHeight = 15.0

    /// A node's size from its text: monospace, so the width is known without a font.
    static func size(of node: LineageGraph.Node) -> (width: Double, height: Double) {
        let characterWidth = node.kind == .run ? 7.3 : 6.7
        let longest = Double(node.lines.map(\.count).max() ?? 0)
        return (
            max(node.kind == .run ? 120 : 90, longest * characterWidth + 20), Double(node.lines.count) * lineHeight + 10
        )
    }

    /// Graphviz when `dot` is found (and `engine` allows), else the layered layout.
    public static func make(_ graph: LineageGraph, engine: Engine? = nil) -> GraphLayout {
        if engine != .layered, let dot = ChildProcess.locate("dot"), let laidOut = graphviz(graph, dot: dot) {
            return laidOut
        }
        return layered(graph)
    }

    // MARK: Graphviz

    /// The graph in the DOT language: fixed-size boxes so that dot places what we draw.
    /// With `labels`, for people who render it themselves (`inspect --graph FILE.dot`).
    public static func dot(_ graph: LineageGraph, labels: Bool) -> String {
        var out = "digraph lineage {\n  graph [rankdir=TB, nodesep=0.35, ranksep=0.45];\n"
        out += "  node [shape=box, fixedsize=true, fontname=\"monospace\", fontsize=11];\n"
        for (index, node) in graph.nodes.enumerated() {
            let (width, height) = size(of: node)
            var attributes = [
                "width=\(inches(width))", "height=\(inches(height))",
                "label=\"\(labels ? node.lines.map(dotEscaped).joined(separator: "\\n") : "")\"",
            ]
            if labels {
                attributes.append("tooltip=\"\(dotEscaped(node.title))\"")
                if node.kind != .run { attributes.append("style=rounded") }
                if node.highlighted { attributes.append("penwidth=3") }
            }
            out += "  n\(index) [\(attributes.joined(separator: ", "))];\n"
        }
        for edge in graph.edges { out += "  n\(edge.from) -> n\(edge.to);\n" }
        return out + "}\n"
    }

    /// A DOT string's content: quotes and backslashes escaped, control characters dropped.
    static func dotEscaped(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.properties.generalCategory == .control {
                    out += "?"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    private static func inches(_ pixels: Double) -> String { String(format: "%.3f", pixels / 72) }

    /// dot's `-Tplain` placement: centres in inches from the bottom left, edges as B-spline
    /// control points. Nil when dot fails or says something unexpected.
    static func graphviz(_ graph: LineageGraph, dot: String) -> GraphLayout? {
        let input = FileSystem.temporaryName(in: FileManager.default.temporaryDirectory.path, prefix: "mlpack-graph-")
        guard (try? Data(self.dot(graph, labels: false).utf8).write(to: URL(fileURLWithPath: input))) != nil else {
            return nil
        }
        defer { unlink(input) }
        guard let plain = ChildProcess.run([dot, "-Tplain", input], timeout: 30) else { return nil }
        var boxes = [Box?](repeating: nil, count: graph.nodes.count)
        var routes: [Route] = []
        var height = 0.0
        var width = 0.0
        for line in plain.split(separator: "\n") {
            let fields = line.split(separator: " ")
            switch fields.first {
            case "graph":
                guard fields.count >= 4, let w = Double(fields[2]), let h = Double(fields[3]) else { return nil }
                (width, height) = (w * 72, h * 72)
            case "node":
                guard fields.count >= 6, fields[1].hasPrefix("n"), let index = Int(fields[1].dropFirst()),
                    boxes.indices.contains(index), let x = Double(fields[2]), let y = Double(fields[3]),
                    let w = Double(fields[4]), let h = Double(fields[5])
                else { return nil }
                boxes[index] = Box(x: (x - w / 2) * 72, y: height - (y + h / 2) * 72, width: w * 72, height: h * 72)
            case "edge":
                guard fields.count >= 4, let from = Int(fields[1].dropFirst()), let to = Int(fields[2].dropFirst()),
                    let count = Int(fields[3]), fields.count >= 4 + 2 * count
                else { return nil }
                let numbers = fields[4..<(4 + 2 * count)].compactMap { Double($0) }
                guard numbers.count == 2 * count else { return nil }
                let points = stride(from: 0, to: numbers.count, by: 2).map {
                    Point(x: numbers[$0] * 72, y: height - numbers[$0 + 1] * 72)
                }
                routes.append(Route(edge: .init(from: from, to: to), points: points, curved: count % 3 == 1))
            default: continue
            }
        }
        let placed = boxes.compactMap { $0 }
        guard placed.count == graph.nodes.count else { return nil }
        var layout = GraphLayout(engine: .graphviz, boxes: placed, routes: routes, width: width, height: height)
        layout.shift(by: margin)
        return layout
    }

    private mutating func shift(by offset: Double) {
        boxes = boxes.map { Box(x: $0.x + offset, y: $0.y + offset, width: $0.width, height: $0.height) }
        routes = routes.map { route in
            var moved = route
            moved.points = route.points.map { Point(x: $0.x + offset, y: $0.y + offset) }
            return moved
        }
        width += 2 * offset
        height += 2 * offset
    }

    // MARK: The layered layout

    /// Layers by longest path from the sources (a source sits just above its first reader),
    /// a dummy point per layer an edge crosses, four barycentre sweeps against crossings,
    /// then each layer centred on its neighbours without two boxes closer than `columnGap`.
    static func layered(_ graph: LineageGraph) -> GraphLayout {
        let count = graph.nodes.count
        guard count > 0 else { return GraphLayout(engine: .layered, boxes: [], routes: [], width: 0, height: 0) }
        var successors = [[Int]](repeating: [], count: count)
        var predecessors = [[Int]](repeating: [], count: count)
        for edge in graph.edges where edge.from != edge.to {
            successors[edge.from].append(edge.to)
            predecessors[edge.to].append(edge.from)
        }
        // Kahn's order; whatever a (malformed) cycle leaves goes last.
        var incoming = predecessors.map(\.count)
        var order = (0..<count).filter { incoming[$0] == 0 }
        var head = 0
        while head < order.count {
            for next in successors[order[head]] {
                incoming[next] -= 1
                if incoming[next] == 0 { order.append(next) }
            }
            head += 1
        }
        let ordered = Set(order)
        order += (0..<count).filter { !ordered.contains($0) }
        var layer = [Int](repeating: 0, count: count)
        for node in order {
            for next in successors[node] where layer[next] <= layer[node] { layer[next] = layer[node] + 1 }
        }
        for node in 0..<count where predecessors[node].isEmpty && !successors[node].isEmpty {
            layer[node] = max(0, successors[node].map { layer[$0] }.min()! - 1)
        }

        // Real nodes, then dummies; `chains` holds each edge's points in order.
        let sizes = graph.nodes.map(size(of:))
        var widths = sizes.map(\.width)
        var heights = sizes.map(\.height)
        var layers = [[Int]](repeating: [], count: (layer.max() ?? 0) + 1)
        var up = [[Int]](repeating: [], count: count)
        var down = [[Int]](repeating: [], count: count)
        for node in 0..<count { layers[layer[node]].append(node) }
        var chains: [(edge: LineageGraph.Edge, nodes: [Int])] = []
        for edge in graph.edges where edge.from != edge.to {
            var chain = [edge.from]
            let (from, to) = (layer[edge.from], layer[edge.to])
            if to > from + 1 {
                for level in (from + 1)..<to {
                    let dummy = widths.count
                    widths.append(0)
                    heights.append(0)
                    up.append([])
                    down.append([])
                    layers[level].append(dummy)
                    chain.append(dummy)
                }
            }
            chain.append(edge.to)
            for (a, b) in zip(chain, chain.dropFirst()) {
                down[a].append(b)
                up[b].append(a)
            }
            chains.append((edge, chain))
        }

        // Crossings: order each layer by its neighbours' mean position, down then up.
        var position = [Int](repeating: 0, count: widths.count)
        func renumber(_ level: Int) { for (index, node) in layers[level].enumerated() { position[node] = index } }
        layers.indices.forEach(renumber)
        func sweep(_ level: Int, by neighbours: [[Int]]) {
            let keys = Dictionary(
                uniqueKeysWithValues: layers[level].map { node in
                    let around = neighbours[node]
                    return (
                        node,
                        around.isEmpty
                            ? Double(position[node])
                            : Double(around.map { position[$0] }.reduce(0, +)) / Double(around.count)
                    )
                })
            layers[level].sort { (keys[$0]!, position[$0]) < (keys[$1]!, position[$1]) }
            renumber(level)
        }
        for _ in 0..<4 {
            for level in layers.indices.dropFirst() { sweep(level, by: up) }
            for level in layers.indices.dropLast().reversed() { sweep(level, by: down) }
        }

        // Columns: each layer packed, then moved towards its neighbours' centres.
        var x = [Double](repeating: 0, count: widths.count)
        func pack(_ level: Int, wanted: (Int) -> Double?) {
            let nodes = layers[level]
            guard !nodes.isEmpty else { return }
            var placed: [Double] = []
            for node in nodes {
                let left = wanted(node).map { $0 - widths[node] / 2 } ?? x[node]
                let minimum =
                    placed.last.map { last in last + widths[nodes[placed.count - 1]] + columnGap } ?? -.infinity
                placed.append(max(left, minimum))
            }
            // Centred on where the nodes wanted to be, keeping their gaps.
            let wantedCentres = nodes.compactMap { wanted($0) }
            if !wantedCentres.isEmpty {
                let actual = zip(nodes, placed).filter { wanted($0.0) != nil }.map { $0.1 + widths[$0.0] / 2 }
                let shift = (wantedCentres.reduce(0, +) - actual.reduce(0, +)) / Double(wantedCentres.count)
                placed = placed.map { $0 + shift }
            }
            for (node, left) in zip(nodes, placed) { x[node] = left }
        }
        for level in layers.indices { pack(level, wanted: { _ in nil }) }
        func centre(_ node: Int) -> Double { x[node] + widths[node] / 2 }
        func mean(_ nodes: [Int]) -> Double? {
            nodes.isEmpty ? nil : nodes.map(centre).reduce(0, +) / Double(nodes.count)
        }
        for _ in 0..<4 {
            for level in layers.indices.dropFirst() { pack(level, wanted: { mean(up[$0]) }) }
            for level in layers.indices.dropLast().reversed() { pack(level, wanted: { mean(down[$0]) }) }
        }
        let left = x.indices.map { x[$0] }.min() ?? 0
        let right = x.indices.map { x[$0] + widths[$0] }.max() ?? 0

        // Rows.
        var top = [Double](repeating: 0, count: layers.count)
        var rowHeight = [Double](repeating: 0, count: layers.count)
        var y = 0.0
        for level in layers.indices {
            top[level] = y
            rowHeight[level] = layers[level].map { heights[$0] }.max() ?? 0
            y += rowHeight[level] + rowGap
        }
        var levelOf = [Int](repeating: 0, count: widths.count)
        for (level, nodes) in layers.enumerated() { for node in nodes { levelOf[node] = level } }
        func box(_ node: Int) -> Box {
            let level = levelOf[node]
            return Box(
                x: x[node] - left, y: top[level] + (rowHeight[level] - heights[node]) / 2, width: widths[node],
                height: heights[node])
        }
        let boxes = (0..<count).map(box)
        let routes = chains.map { edge, nodes -> Route in
            var points: [Point] = []
            for (index, node) in nodes.enumerated() {
                let b = box(node)
                if index == 0 {
                    points.append(Point(x: b.x + b.width / 2, y: b.y + b.height))
                } else if index == nodes.count - 1 {
                    points.append(Point(x: b.x + b.width / 2, y: b.y))
                } else {
                    // A dummy: through its row, top to bottom.
                    let level = levelOf[node]
                    points.append(Point(x: b.x, y: top[level]))
                    points.append(Point(x: b.x, y: top[level] + rowHeight[level]))
                }
            }
            return Route(edge: edge, points: points, curved: false)
        }
        var layout = GraphLayout(
            engine: .layered, boxes: boxes, routes: routes, width: right - left, height: max(0, y - rowGap))
        layout.shift(by: margin)
        return layout
    }
}
