import Foundation

/// What a publishing redaction scrubs from run records: absolute paths outside the project
/// (renamed `external/<name>`, in the argv too), home folders (`~`) and host names
/// (`<host>`), learnt from the pack's host records and from this machine.
struct PrivateText {
    private var homes: [String]
    private var hosts: [String]

    init(contents: PackContents, bytes: (String) throws -> [UInt8]) throws {
        var homes = Set<String>()
        var hosts = Set<String>()
        for item in contents.items where item.role == .host && item.path.hasSuffix("/host.json") {
            guard let host = try? JSONText.decode(HostRecord.self, from: try bytes(item.path)) else { continue }
            if let home = host.home { homes.insert(home) }
            if let name = host.hostname { hosts.insert(name) }
        }
        homes.insert(Host.current.home)
        hosts.insert(ProcessInfo.processInfo.hostName)
        // Longest first, so /home/alice/work is not half-replaced by /home/alice; never "/".
        self.homes = homes.filter { $0.count > 1 }.sorted { $0.count > $1.count }
        self.hosts = hosts.filter { $0.count >= 3 && $0 != "localhost" }.sorted { $0.count > $1.count }
    }

    func scrub(_ record: RunRecord) -> RunRecord {
        var run = record
        // The interpreter by its file name (`python3.11`), never `~/…`, which nothing expands:
        // a path on the author's machine names nothing on a reviewer's, and a rebuild maps
        // the name to the pack's own environment (spec/FORMAT.md, "The Python environment of a rebuild").
        if let program = run.argv.first, program.hasPrefix("/"), RunRecorder.isPython(program) {
            run.argv[0] = (program as NSString).lastPathComponent
        }
        var renamed: [(from: String, to: String)] = []
        var used = Set<String>()
        func rename(_ file: inout RunRecord.FileRecord) {
            guard file.path.hasPrefix("/") else { return }
            if let known = renamed.first(where: { $0.from == file.path }) {
                file.path = known.to
                return
            }
            let base = (file.path as NSString).lastPathComponent
            var name = "external/" + base
            var suffix = 2
            while used.contains(name) { name = "external/\(suffix)-" + base; suffix += 1 }
            used.insert(name)
            renamed.append((file.path, name))
            file.path = name
        }
        for i in run.inputs.indices { rename(&run.inputs[i]) }
        for i in run.outputs.indices { rename(&run.outputs[i]) }
        renamed.sort { $0.from.count > $1.from.count }
        run.argv = run.argv.map { argument in
            scrub(renamed.reduce(argument) { $0.replacingOccurrences(of: $1.from, with: $1.to) })
        }
        run.name = run.name.map(scrub)
        run.workingDirectory = scrub(run.workingDirectory)
        for i in run.inputs.indices { run.inputs[i].path = scrub(run.inputs[i].path) }
        for i in run.outputs.indices { run.outputs[i].path = scrub(run.outputs[i].path) }
        run.privateReads = run.privateReads?.map(scrub)
        run.setVariables = run.setVariables.mapValues(scrub)
        run.metrics = run.metrics.map(scrub)
        return run
    }

    func scrub(_ text: String) -> String {
        var out = homes.reduce(text) { $0.replacingOccurrences(of: $1, with: "~") }
        for host in hosts {
            // Whole names only: a short host name can hide inside ordinary words.
            let pattern = "(?<![A-Za-z0-9-])" + NSRegularExpression.escapedPattern(for: host) + "(?![A-Za-z0-9-])"
            out = out.replacingOccurrences(of: pattern, with: "<host>", options: .regularExpression)
        }
        return out
    }

    private func scrub(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text): .string(scrub(text))
        case .array(let values): .array(values.map(scrub))
        case .object(let fields): .object(fields.mapValues(scrub))
        default: value
        }
    }
}
