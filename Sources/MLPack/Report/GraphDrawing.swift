/// A laid-out lineage graph as SVG: boxes for runs, rounded boxes for files, dashed ones for
/// data references, edges with arrow heads. Colours come from CSS classes (`ReportStyle`).
public enum GraphDrawing {
    /// The `<svg>` element. `standalone` adds the namespace and the style sheet, for a `.svg`
    /// file of its own; inside the HTML report the page's style applies.
    public static func svg(_ graph: LineageGraph, layout: GraphLayout, standalone: Bool = false) -> String {
        let width = Markup.number(layout.width)
        let height = Markup.number(layout.height)
        var out =
            standalone
            ? "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">\n<style>\(ReportStyle.graph)</style>\n"
            : "<svg class=\"graph\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"lineage graph\">\n"
        out +=
            "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" class=\"arrowhead\"/></marker></defs>\n"
        for route in layout.routes where !route.points.isEmpty {
            out += "<path class=\"edge\" d=\"\(path(route))\" marker-end=\"url(#arrow)\"/>\n"
        }
        for (node, box) in zip(graph.nodes, layout.boxes) {
            let classes = ["node", node.kind.rawValue, node.tone.rawValue] + (node.highlighted ? ["highlighted"] : [])
            out += "<g class=\"\(classes.joined(separator: " "))\"><title>\(Markup.escape(node.title))</title>"
            out +=
                "<rect x=\"\(Markup.number(box.x))\" y=\"\(Markup.number(box.y))\" width=\"\(Markup.number(box.width))\" height=\"\(Markup.number(box.height))\" rx=\"\(node.kind == .run ? 3 : 9)\"/>"
            for (index, line) in node.lines.enumerated() {
                let y = box.y + 5 + GraphLayout.lineHeight * Double(index + 1) - 3
                out +=
                    "<text x=\"\(Markup.number(box.x + box.width / 2))\" y=\"\(Markup.number(y))\"\(index == 0 ? " class=\"first\"" : "")>\(Markup.escape(line))</text>"
            }
            out += "</g>\n"
        }
        return out + "</svg>\n"
    }

    private static func path(_ route: GraphLayout.Route) -> String {
        let points = route.points
        var d = "M\(Markup.number(points[0].x)),\(Markup.number(points[0].y))"
        if route.curved {
            for start in stride(from: 1, to: points.count - 2, by: 3) {
                d +=
                    " C"
                    + points[start..<(start + 3)].map { "\(Markup.number($0.x)),\(Markup.number($0.y))" }.joined(
                        separator: " ")
            }
        } else {
            for point in points.dropFirst() { d += " L\(Markup.number(point.x)),\(Markup.number(point.y))" }
        }
        return d
    }
}
