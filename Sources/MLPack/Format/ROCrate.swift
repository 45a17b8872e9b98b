/// The RO-Crate view of a pack: `data/ro-crate-metadata.json`, an RO-Crate 1.1 metadata file
/// whose crate root is the payload directory `data/`, conforming to the Process Run Crate
/// profile 0.5 (https://w3id.org/ro/wfrun/process/0.5). Like the BagIt files it is derived:
/// not an item, not disclosed, not signed; `verify` regenerates it from the card, the items,
/// the run records and the data references and compares bytes. So it depends on nothing else:
/// no clock, no local path, no file contents other than those four inputs.
///
/// What it holds, in `@graph` order (descriptor, root, then every other entity sorted
/// bytewise by `@id`; keys sorted, written like every other mlpack JSON):
/// - `ro-crate-metadata.json`: the descriptor, `conformsTo` RO-Crate 1.1, `about` the root.
/// - `./`: the root Dataset: `name` (the pack's name), `description` (the title), `datePublished`
///   (`created`), `license`, `conformsTo` the profile, `hasPart` every item and every folder
///   entity, `mentions` every run and data reference.
/// - one `File` per item (`@id` its item path, percent-encoded): `contentSize`, `sha256`,
///   `encodingFormat`.
/// - one `Dataset` + `SoftwareSourceCode` per code snapshot folder (`code/<12 hex>/`), with
///   `hasPart` its files: the `instrument` of the runs that used it.
/// - one `CreateAction` per run (`#run-<id>`): `name` (the command), `description`,
///   `startTime`, `endTime`, `actionStatus`, `instrument`, `object` (inputs), `result`
///   (outputs), `error` when it failed, `environment` (the variables mlpack set, as
///   `PropertyValue`s `#run-<id>/env/<NAME>`), `subjectOf` its run record. A run whose code
///   the pack lacks has a contextual `SoftwareSourceCode` `#code-<12 hex>` as instrument.
/// - inputs and outputs are resolved by content, so a file one run wrote and another read is
///   one entity (lineage): a data reference with that digest (`#data-<name>`), else an item
///   (a file with that SHA-256, or a folder with that tree digest), else a contextual entity
///   for data the pack does not hold (`#file-<sha256>`, `#directory-<tree digest>`).
/// - `#license`: no license is recorded yet, and RO-Crate 1.1 requires one on the root.
public enum ROCrate {
    /// Path of the view below `data/` (and its `@id` in the crate).
    public static let metadataPath = "ro-crate-metadata.json"
    /// The JSON-LD context the view names; offline validators need it inlined.
    public static let contextURL = "https://w3id.org/ro/crate/1.1/context"
    public static let specification = "https://w3id.org/ro/crate/1.1"
    public static let profile = "https://w3id.org/ro/wfrun/process/0.5"
    /// Terms the view uses that the RO-Crate 1.1 context lacks, defined in a local context.
    static let localTerms: [String: String] = [
        "environment": "https://w3id.org/ro/terms/workflow-run#environment",
        "sha256": "http://schema.org/sha256",
    ]

    /// `data/ro-crate-metadata.json` for a pack with these items (the ones present), card,
    /// run records and data references. Byte-deterministic; independent of input order.
    public static func metadata(
        card: Card, items: [Item], runs: [RunRecord], dataReferences: [DataReference]
    ) throws -> [UInt8] {
        var builder = try Builder(card: card, items: items, runs: runs, dataReferences: dataReferences)
        return try builder.build()
    }

    static func problem(_ text: String) -> MLPackError {
        .integrity(entry: Layout.payloadPath(metadataPath), problem: text)
    }
}

// MARK: - JSON-LD nodes

extension ROCrate {
    /// The JSON the view is made of: strings, arrays and objects (sizes are strings, as in
    /// RO-Crate's examples), so encoding is exact.
    indirect enum Node: Encodable, Equatable {
        case string(String)
        case array([Node])
        case object([String: Node])

        static func reference(_ id: String) -> Node { .object(["@id": .string(id)]) }

        /// One value as itself, several as an array (RO-Crate prefers no singleton arrays).
        static func references(_ ids: [String]) -> Node? {
            switch ids.count {
            case 0: nil
            case 1: reference(ids[0])
            default: .array(ids.map(reference))
            }
        }

        static func strings(_ values: [String]) -> Node? {
            switch values.count {
            case 0: nil
            case 1: .string(values[0])
            default: .array(values.map(Node.string))
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let value): try container.encode(value)
            case .array(let value): try container.encode(value)
            case .object(let value): try container.encode(value)
            }
        }

        /// The bytes `JSONText.encode` writes for this node (sorted keys, two-space indent,
        /// `" : "`, slashes unescaped, final newline), without Codable's cost per value: a pack
        /// of thousands of files is sealed right after its largest file is written.
        var jsonText: [UInt8] {
            var out: [UInt8] = []
            write(to: &out, indent: 0)
            out.append(0x0a)
            return out
        }

        private func write(to out: inout [UInt8], indent: Int) {
            func newline(_ level: Int) {
                out.append(0x0a)
                out += repeatElement(0x20, count: 2 * level)
            }
            switch self {
            case .string(let value):
                out += Array(JSONText.string(value).utf8)
            case .array(let values):
                out.append(UInt8(ascii: "["))
                for (index, value) in values.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    newline(indent + 1)
                    value.write(to: &out, indent: indent + 1)
                }
                if values.isEmpty { out.append(0x0a) }  // JSONEncoder's empty container: a blank line
                newline(indent)
                out.append(UInt8(ascii: "]"))
            case .object(let members):
                out.append(UInt8(ascii: "{"))
                for (index, key) in members.keys.sortedBytewise().enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    newline(indent + 1)
                    out += Array(JSONText.string(key).utf8)
                    out += Array(" : ".utf8)
                    members[key]!.write(to: &out, indent: indent + 1)
                }
                if members.isEmpty { out.append(0x0a) }
                newline(indent)
                out.append(UInt8(ascii: "}"))
            }
        }
    }

    /// An entity of `@graph` under construction.
    struct Entity {
        var id: String
        var properties: [String: Node] = [:]

        init(_ id: String, type: String...) {
            self.id = id
            properties["@id"] = .string(id)
            properties["@type"] = type.count == 1 ? .string(type[0]) : .array(type.map(Node.string))
        }

        subscript(key: String) -> Node? {
            get { properties[key] }
            set { properties[key] = newValue }
        }

        var node: Node { .object(properties) }
    }
}

// MARK: - Building the graph

extension ROCrate {
    struct Builder {
        let card: Card
        let items: [Item]
        let itemsByPath: [String: Item]
        let runs: [RunRecord]
        let references: [DataReference]
        /// Item paths by SHA-256, each list sorted bytewise.
        let itemsByDigest: [String: [String]]
        /// Folders (item-path prefixes, without the trailing `/`) by tree digest; computed
        /// only when a run names a folder.
        var foldersByDigest: [String: [String]]?

        /// Contextual entities for data the pack does not hold, by `@id`.
        var absent: [String: Entity] = [:]
        /// Folder entities (`Dataset`s with `hasPart`), by folder path without `/`.
        var folders: Set<String> = []

        init(card: Card, items: [Item], runs: [RunRecord], dataReferences: [DataReference]) throws {
            self.card = card
            var byPath: [String: Item] = [:]
            for item in items {
                guard byPath.updateValue(item, forKey: item.path) == nil else {
                    throw ROCrate.problem("item \(item.path) is listed twice")
                }
                guard item.path != ROCrate.metadataPath else {
                    throw ROCrate.problem("an item may not be at \(ROCrate.metadataPath), the RO-Crate view's path")
                }
            }
            self.itemsByPath = byPath
            self.items = items.sortedBytewise(by: \.path)
            var seenRuns = Set<String>()
            for run in runs where !seenRuns.insert(run.id).inserted {
                throw ROCrate.problem("two run records have the id \(run.id)")
            }
            self.runs = runs.sortedBytewise(by: \.id)
            var seenReferences = Set<String>()
            for reference in dataReferences where !seenReferences.insert(reference.name).inserted {
                throw ROCrate.problem("two data references are named \(reference.name)")
            }
            self.references = dataReferences.sortedBytewise(by: \.name)
            var byDigest: [String: [String]] = [:]
            for item in self.items { byDigest[item.sha256, default: []].append(item.path) }
            self.itemsByDigest = byDigest
        }

        mutating func build() throws -> [UInt8] {
            var entities: [Entity] = []

            // Code snapshot folders present in the pack: from the card and from the runs.
            var snapshots = Set(card.codeSnapshots.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 })
            for run in runs { snapshots.insert(Layout.codeSnapshot(treeDigest: run.code.treeDigest)) }
            snapshots = snapshots.filter(hasFiles(under:))
            folders.formUnion(snapshots)

            let actions = try runs.map { try action($0, snapshots: snapshots) }
            entities += actions
            entities += references.map(referenceEntity)
            entities += absent.values
            entities += items.map(fileEntity)
            entities += folders.map { folderEntity($0, snapshots: snapshots) }
            entities.append(licenseEntity)
            var profile = Entity(ROCrate.profile, type: "CreativeWork")
            profile["name"] = .string("Process Run Crate")
            profile["version"] = .string("0.5")
            entities.append(profile)

            entities = entities.sortedBytewise(by: \.id)
            for (a, b) in zip(entities, entities.dropFirst()) where a.id == b.id {
                throw ROCrate.problem("two entities have the @id \(a.id)")
            }

            var descriptor = Entity(ROCrate.metadataPath, type: "CreativeWork")
            descriptor["about"] = .reference("./")
            descriptor["conformsTo"] = .reference(ROCrate.specification)

            let parts = (items.map { Self.uri($0.path) } + folders.map { Self.uri($0) + "/" })
                .sortedBytewise()
            var root = Entity("./", type: "Dataset")
            root["name"] = .string(card.name)
            let title = card.title.flatMap { $0.isEmpty ? nil : $0 }
            root["description"] = .string(title ?? "The mlpack pack \(card.name).")
            root["datePublished"] = .string(card.created)
            root["license"] = .reference(licenseEntity.id)
            root["conformsTo"] = .reference(ROCrate.profile)
            root["hasPart"] = Node.references(parts)
            root["mentions"] = Node.references(
                (actions.map(\.id) + references.map(Self.referenceId)).sortedBytewise())

            let local = Node.object(ROCrate.localTerms.mapValues(Node.string))
            let document = Node.object([
                "@context": .array([.string(ROCrate.contextURL), local]),
                "@graph": .array([descriptor.node, root.node] + entities.map(\.node)),
            ])
            return document.jsonText
        }

        // MARK: Entities

        /// No license is recorded in the card yet; RO-Crate 1.1 requires the property, so the
        /// view says so explicitly rather than guessing one.
        var licenseEntity: Entity {
            var license = Entity("#license", type: "CreativeWork")
            license["name"] = .string("No license stated")
            license["description"] = .string(
                "The pack does not state a license for its contents; ask its authors before reusing them.")
            return license
        }

        func fileEntity(_ item: Item) -> Entity {
            var file = Entity(Self.uri(item.path), type: "File")
            file["contentSize"] = .string(String(item.size))
            file["sha256"] = .string(item.sha256)
            file["encodingFormat"] = .string(Self.mediaType(item.path))
            return file
        }

        func folderEntity(_ folder: String, snapshots: Set<String>) -> Entity {
            let files = items.filter { $0.path.hasPrefix(folder + "/") }.map { Self.uri($0.path) }
            let name = folder.split(separator: "/").last.map(String.init) ?? folder
            guard snapshots.contains(folder) else {
                var dataset = Entity(Self.uri(folder) + "/", type: "Dataset")
                dataset["name"] = .string(name)
                dataset["hasPart"] = Node.references(files)
                return dataset
            }
            var code = Entity(Self.uri(folder) + "/", type: "Dataset", "SoftwareSourceCode")
            code["name"] = .string("Code snapshot \(name)")
            code["version"] = .string(name)
            code["description"] = .string(codeDescription(snapshot: name, stored: true))
            code["hasPart"] = Node.references(files)
            return code
        }

        /// What the runs say about a code snapshot: its full tree digest and git state.
        func codeDescription(snapshot: String, stored: Bool) -> String {
            var text =
                stored
                ? "The code as the runs saw it, stored in code/\(snapshot)/."
                : "The code the run used; this pack does not hold it."
            if let code = runs.first(where: {
                Layout.codeSnapshot(treeDigest: $0.code.treeDigest) == "code/" + snapshot
            })?.code {
                text += " Tree digest \(code.treeDigest) (the SHA-256 of its sha256sum listing)"
                if let git = code.git {
                    if let commit = git.commit {
                        text += ", git commit \(commit)" + (git.dirty ? " with uncommitted edits" : "")
                    } else {
                        text += ", a git repository without commits"
                    }
                }
                text += "."
            }
            return text
        }

        func referenceEntity(_ reference: DataReference) -> Entity {
            var entity = Entity(Self.referenceId(reference), type: reference.kind == .file ? "File" : "Dataset")
            entity["name"] = .string(reference.name)
            entity["contentSize"] = .string(String(reference.size))
            if reference.kind == .file, let sha256 = reference.sha256 { entity["sha256"] = .string(sha256) }
            entity["url"] = Node.strings(reference.uris)
            var text = "Data the pack names but does not hold: "
            switch reference.kind {
            case .file: text += "a file, identified by its SHA-256"
            case .directory:
                text +=
                    "a folder of \(reference.fileCount) file\(reference.fileCount == 1 ? "" : "s"), "
                    + "identified by its tree digest \(reference.digest) (the SHA-256 of its listing, "
                    + "\(DataReference.listingPath(reference.name)))"
            }
            text += "; a rebuild mounts it at \(reference.mountPath)."
            if let inline = reference.inline { text += " A copy is stored in \(inline)/." }
            entity["description"] = .string(text)
            let descriptor = DataReference.itemPath(reference.name)
            if itemsByPath[descriptor] != nil { entity["subjectOf"] = .reference(Self.uri(descriptor)) }
            return entity
        }

        mutating func action(_ run: RunRecord, snapshots: Set<String>) throws -> Entity {
            var action = Entity(Self.runId(run.id), type: "CreateAction")
            let command = Self.shellCommand(run.argv)
            action["name"] = .string(command.isEmpty ? "Run \(run.id)" : command)
            let outcome: String
            switch run.status {
            case .succeeded: outcome = "exited with status \(run.exitCode ?? 0)"
            case .failed: outcome = "exited with status \(run.exitCode.map(String.init) ?? "unknown")"
            case .killed: outcome = "was ended by signal \(run.signal.map(String.init) ?? "unknown")"
            }
            var description = run.name.map { "\($0). " } ?? ""
            description += "Run \(run.id) in \(run.workingDirectory == "." ? "the project root" : run.workingDirectory)"
            description += " on the platform recorded in env/\(run.environment)/; it \(outcome)."
            action["description"] = .string(description)
            action["startTime"] = .string(Self.timestamp(run.started))
            action["endTime"] = .string(Self.timestamp(run.ended))
            action["actionStatus"] = .string(
                run.status == .succeeded
                    ? "http://schema.org/CompletedActionStatus" : "http://schema.org/FailedActionStatus")
            if run.status != .succeeded {
                action["error"] = .string(outcome.prefix(1).uppercased() + outcome.dropFirst())
            }

            let snapshot = Layout.codeSnapshot(treeDigest: run.code.treeDigest)
            if snapshots.contains(snapshot) {
                action["instrument"] = .reference(Self.uri(snapshot) + "/")
            } else {
                let name = String(snapshot.dropFirst("code/".count))
                var code = Entity("#code-" + Self.fragment(name), type: "SoftwareSourceCode")
                code["name"] = .string("Code snapshot \(name)")
                code["version"] = .string(name)
                code["description"] = .string(codeDescription(snapshot: name, stored: false))
                absent[code.id] = code
                action["instrument"] = .reference(code.id)
            }

            let inputs = run.inputs.map { resolve($0) }
            action["object"] = Node.references(Array(Set(inputs)).sortedBytewise())
            let outputs = run.outputs.map { resolve($0) }
            action["result"] = Node.references(Array(Set(outputs)).sortedBytewise())

            var variables: [String] = []
            for (name, value) in run.setVariables {
                var variable = Entity(Self.runId(run.id) + "/env/" + Self.fragment(name), type: "PropertyValue")
                variable["name"] = .string(name)
                variable["value"] = .string(value)
                absent[variable.id] = variable
                variables.append(variable.id)
            }
            action["environment"] = Node.references(variables.sortedBytewise())

            let record = Layout.runRecord(run.id)
            if itemsByPath[record] != nil { action["subjectOf"] = .reference(Self.uri(record)) }
            return action
        }

        // MARK: Resolving files by content

        /// The `@id` of the entity a run's input or output is: the same content always gives
        /// the same entity, which is what links a run's result to a later run's object.
        mutating func resolve(_ file: RunRecord.FileRecord) -> String {
            if let reference = references.first(where: { $0.kind == file.kind && $0.digest == file.sha256 }) {
                return Self.referenceId(reference)
            }
            let basename = file.path.split(separator: "/").last.map(String.init) ?? file.path
            func best(_ candidates: [String]) -> String? {
                candidates.first { $0.split(separator: "/").last.map(String.init) == basename } ?? candidates.first
            }
            switch file.kind {
            case .file:
                if let path = itemsByDigest[file.sha256].flatMap(best) { return Self.uri(path) }
                let id = "#file-" + Self.fragment(file.sha256)
                var entity = absent[id] ?? Entity(id, type: "File")
                entity["contentSize"] = .string(String(file.size))
                entity["sha256"] = .string(file.sha256)
                entity["description"] = .string("A file a run read or wrote; this pack does not hold it.")
                entity["name"] = .string(Self.first(entity["name"], file.path))
                if case .string(let name)? = entity["name"] { entity["encodingFormat"] = .string(Self.mediaType(name)) }
                absent[id] = entity
                return id
            case .directory:
                if let folder = folderDigests()[file.sha256].flatMap(best) {
                    folders.insert(folder)
                    return Self.uri(folder) + "/"
                }
                let id = "#directory-" + Self.fragment(file.sha256)
                var entity = absent[id] ?? Entity(id, type: "Dataset")
                entity["contentSize"] = .string(String(file.size))
                let count = file.fileCount.map { "of \($0) file\($0 == 1 ? "" : "s") " } ?? ""
                entity["description"] = .string(
                    "A folder \(count)a run read or wrote, identified by its tree digest \(file.sha256) "
                        + "(the SHA-256 of its sha256sum listing); this pack does not hold it.")
                entity["name"] = .string(Self.first(entity["name"], file.path))
                absent[id] = entity
                return id
            }
        }

        /// The bytewise-first of a name already given and a new one, so the result does not
        /// depend on the order runs are visited in.
        static func first(_ existing: Node?, _ candidate: String) -> String {
            guard case .string(let current)? = existing else { return candidate }
            return Manifest.bytewise(candidate, current) ? candidate : current
        }

        /// Tree digests of every folder holding items: the SHA-256 of the `sha256sum` listing
        /// of the files below it, paths relative to it, as for code snapshots and references.
        mutating func folderDigests() -> [String: [String]] {
            if let foldersByDigest { return foldersByDigest }
            var listings: [String: [(path: String, sha256: String)]] = [:]
            for item in items {
                let components = item.path.split(separator: "/", omittingEmptySubsequences: false)
                for depth in 1..<max(components.count, 1) {
                    let folder = components[..<depth].joined(separator: "/")
                    let relative = components[depth...].joined(separator: "/")
                    listings[folder, default: []].append((relative, item.sha256))
                }
            }
            var byDigest: [String: [String]] = [:]
            for (folder, entries) in listings {
                byDigest[SHA256Hasher.hex(Listing.sha256sum(entries)), default: []].append(folder)
            }
            let sorted = byDigest.mapValues { $0.sortedBytewise() }
            foldersByDigest = sorted
            return sorted
        }

        func hasFiles(under folder: String) -> Bool {
            items.contains { $0.path.hasPrefix(folder + "/") }
        }

        // MARK: Spelling

        // Contextual entities are `#<kind>-<key>`, the key fragment-encoded (no `/`), so no
        // two kinds or keys can spell the same `@id`, whatever a run record holds.
        static func runId(_ id: String) -> String { "#run-" + fragment(id) }
        static func referenceId(_ reference: DataReference) -> String { "#data-" + fragment(reference.name) }

        /// A path as a relative URI: every byte but unreserved characters and `/`
        /// percent-encoded (UTF-8), so spaces, `#`, `?` and `:` cannot change its meaning.
        static func uri(_ path: String) -> String { percentEncoded(path, keepingSlash: true) }

        /// A key inside a fragment: like `uri`, with `/` encoded too.
        static func fragment(_ key: String) -> String { percentEncoded(key, keepingSlash: false) }

        static func percentEncoded(_ text: String, keepingSlash: Bool) -> String {
            let hex = Array("0123456789ABCDEF".utf8)
            var out = [UInt8]()
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                    UInt8(ascii: "_"), UInt8(ascii: "~"):
                    out.append(byte)
                case UInt8(ascii: "/") where keepingSlash:
                    out.append(byte)
                default:
                    out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0f)]]
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        /// Run times are RFC 3339 UTC (`…Z`); the profile asks for an explicit offset.
        static func timestamp(_ time: String) -> String {
            time.hasSuffix("Z") ? String(time.dropLast()) + "+00:00" : time
        }

        /// argv as a POSIX shell would read it back.
        static func shellCommand(_ argv: [String]) -> String {
            argv.map { argument in
                let plain =
                    !argument.isEmpty
                    && argument.utf8.allSatisfy { byte in
                        switch byte {
                        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                            UInt8(ascii: "0")...UInt8(ascii: "9"):
                            true
                        default: Array("-_./=:,+@%".utf8).contains(byte)
                        }
                    }
                return plain ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
            }.joined(separator: " ")
        }

        /// A media type from the file name (`application/octet-stream` when unknown).
        static func mediaType(_ path: String) -> String {
            let name = path.split(separator: "/").last.map { $0.lowercased() } ?? ""
            guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "application/octet-stream" }
            return mediaTypes[String(name[name.index(after: dot)...])] ?? "application/octet-stream"
        }

        static let mediaTypes: [String: String] = [
            "json": "application/json", "jsonl": "application/jsonl", "ipynb": "application/x-ipynb+json",
            "txt": "text/plain", "log": "text/plain", "sha256": "text/plain", "cfg": "text/plain", "ini": "text/plain",
            "md": "text/markdown", "rst": "text/x-rst", "csv": "text/csv", "tsv": "text/tab-separated-values",
            "html": "text/html", "xml": "application/xml", "yaml": "application/yaml", "yml": "application/yaml",
            "toml": "application/toml", "py": "text/x-python", "sh": "application/x-sh", "c": "text/x-c",
            "h": "text/x-c", "cpp": "text/x-c++", "cu": "text/x-cuda", "swift": "text/x-swift", "r": "text/x-r",
            "jl": "text/x-julia", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "svg": "image/svg+xml",
            "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip",
        ]
    }
}
