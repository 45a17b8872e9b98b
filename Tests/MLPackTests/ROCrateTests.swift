import Foundation
import TestSupport
import Testing

@testable import MLPack

/// A small pack's worth of inputs for the RO-Crate view, made of real bytes so that a crate
/// folder written from it passes rocrate-validator: a code snapshot, weights, a checkpoint
/// folder, a data reference, an environment capture, a note with an awkward name, and three
/// runs (prepare → train, linked by content, and a failed run on code the pack lacks).
/// `fixtures/ro-crate/example/` is this crate on disk (see `ROCrateTests.golden`).
struct ExampleCrate {
    var files: [(path: String, role: Role, bytes: [UInt8])] = []
    var card: Card
    var runs: [RunRecord] = []
    var references: [DataReference] = []

    var items: [Item] {
        files.map {
            Item(path: $0.path, role: $0.role, size: UInt64($0.bytes.count), sha256: sha256Hex($0.bytes), mode: 0o644)
        }
    }

    func metadata() throws -> [UInt8] {
        try ROCrate.metadata(card: card, items: items, runs: runs, dataReferences: references)
    }

    /// The crate folder: every item file plus `ro-crate-metadata.json`.
    func write(to folder: String, metadata: [UInt8]? = nil) throws {
        let dir = TempDir(path: folder)
        for file in files { try dir.write(file.path, file.bytes) }
        try dir.write(ROCrate.metadataPath, try metadata ?? self.metadata())
    }

    static let codeFiles: [(path: String, bytes: [UInt8])] = [
        ("configs/base.yaml", Array("lr: 0.01\nepochs: 3\n".utf8)),
        ("données.py", Array("CLASSES = 2\n".utf8)),
        ("prepare.py", Array("import numpy as np\nnp.save('features.npy', np.zeros(4))\n".utf8)),
        ("train.py", Array("import numpy as np\nprint(np.load('features.npy'))\n".utf8)),
    ]
    static let codeTreeDigest = SHA256Hasher.hex(Listing.sha256sum(codeFiles.map { ($0.path, sha256Hex($0.bytes)) }))
    static var snapshot: String { String(codeTreeDigest.prefix(12)) }

    static let dataFiles: [(path: String, bytes: [UInt8])] = [
        ("README", Array("two spirals\n".utf8)), ("test.csv", Array("x,y,c\n0,1,0\n".utf8)),
        ("train.csv", Array("x,y,c\n1,0,1\n".utf8)),
    ]
    static let dataListing = Listing.sha256sum(dataFiles.map { ($0.path, sha256Hex($0.bytes)) })

    static let features = Array("NUMPY features v1\n".utf8)
    static let weights = Array("safetensors weights v1\n".utf8)
    static let checkpoints: [(path: String, bytes: [UInt8])] = [
        ("step-1.bin", Array("checkpoint 1\n".utf8)), ("step-2.bin", Array("checkpoint 2\n".utf8)),
    ]
    static let platform = Array("{\n  \"arch\" : \"x86_64\",\n  \"formatVersion\" : 1\n}\n".utf8)
    static var environment: String { String(sha256Hex(platform).prefix(12)) }
    static let prepareLog = Array("prepared 4 rows\n".utf8)
    static let cacheTreeDigest = String(repeating: "c", count: 64)
    static let otherCodeTreeDigest = String(repeating: "d", count: 64)
    static let note = "notes/read me #1?.md"

    static func make() throws -> ExampleCrate {
        let card = Card(
            name: "spirals", title: "Two-spirals MLP", created: "2026-11-27T12:00:00Z",
            codeSnapshots: ["code/" + snapshot],
            outputs: [.init(path: "artifacts/weights.safetensors", role: .weights)],
            dataReferences: ["spirals"])
        var crate = ExampleCrate(card: card)
        crate.files.append(("pack.json", .card, try JSONText.encode(card)))
        for file in codeFiles { crate.files.append(("code/\(snapshot)/\(file.path)", .code, file.bytes)) }
        let git = CodeSnapshotDescriptor.Git(commit: String(repeating: "0123456789", count: 4), dirty: true)
        let descriptor = CodeSnapshotDescriptor(
            treeDigest: codeTreeDigest, fileCount: codeFiles.count,
            size: UInt64(codeFiles.reduce(0) { $0 + $1.bytes.count }), git: git)
        crate.files.append(("code/\(snapshot).json", .codeSnapshot, try JSONText.encode(descriptor)))
        crate.files.append(("artifacts/features.npy", .output, features))
        crate.files.append(("artifacts/weights.safetensors", .weights, weights))
        for file in checkpoints { crate.files.append(("artifacts/ckpt/\(file.path)", .checkpoint, file.bytes)) }
        crate.files.append(("env/\(environment)/platform.json", .env, platform))
        crate.files.append(("env/\(environment)/host.json", .host, Array("{\"hostname\":\"lab-1\"}\n".utf8)))
        crate.files.append((note, .note, Array("# Notes\n".utf8)))

        let reference = DataReference(
            name: "spirals", kind: .directory, treeDigest: SHA256Hasher.hex(dataListing),
            size: UInt64(dataFiles.reduce(0) { $0 + $1.bytes.count }), fileCount: dataFiles.count,
            uris: ["https://example.org/spirals"], mountPath: "dataset")
        crate.references = [reference]
        crate.files.append(("refs/spirals.json", .dataRef, try JSONText.encode(reference)))
        crate.files.append(("refs/spirals.sha256", .dataRef, dataListing))
        crate.files.append(
            ("refs/spirals.local.json", .host, Array("{\"uris\":[\"file:///home/lab/spirals\"]}\n".utf8)))

        let code = RunRecord.Code(
            treeDigest: codeTreeDigest,
            files: codeFiles.map {
                .init(path: $0.path, sha256: sha256Hex($0.bytes), size: UInt64($0.bytes.count), mode: 0o644)
            },
            git: git)
        let ckptDigest = SHA256Hasher.hex(Listing.sha256sum(checkpoints.map { ($0.path, sha256Hex($0.bytes)) }))
        func file(_ path: String, _ bytes: [UInt8], producedBy: String? = nil) -> RunRecord.FileRecord {
            .init(path: path, kind: .file, sha256: sha256Hex(bytes), size: UInt64(bytes.count), producedBy: producedBy)
        }
        let prepare = RunRecord(
            id: "20261127T100000Z-aaaaaa", name: "prepare features",
            argv: ["python", "prepare.py", "--data", "dataset"],
            workingDirectory: ".", started: "2026-11-27T10:00:00.000Z", ended: "2026-11-27T10:00:05.250Z",
            status: .succeeded, exitCode: 0, signal: nil, code: code, environment: environment, setVariables: [:],
            inputs: [
                .init(path: "dataset", kind: .directory, sha256: reference.digest, size: reference.size, fileCount: 3)
            ],
            outputs: [
                file("features.npy", features), file("logs/prepare.log", prepareLog),
                .init(path: "cache", kind: .directory, sha256: cacheTreeDigest, size: 10, fileCount: 2),
            ],
            metrics: nil)
        let train = RunRecord(
            id: "20261127T110000Z-bbbbbb", name: nil,
            argv: ["python", "train.py", "--config", "configs/base.yaml", "--note", "it's fine"],
            workingDirectory: ".", started: "2026-11-27T11:00:00.000Z", ended: "2026-11-27T11:30:00.000Z",
            status: .succeeded, exitCode: 0, signal: nil, code: code, environment: environment,
            setVariables: ["PYTHONHASHSEED": "0", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"],
            inputs: [
                file("features.npy", features, producedBy: prepare.id), file("configs/base.yaml", codeFiles[0].bytes),
            ],
            outputs: [
                file("weights.safetensors", weights),
                .init(path: "ckpt", kind: .directory, sha256: ckptDigest, size: 26, fileCount: 2),
            ],
            metrics: .object(["accuracy": .number(0.98)]))
        let failed = RunRecord(
            id: "20261127T120000Z-cccccc", name: "bad learning rate",
            argv: ["python", "train.py", "--lr", "not a number"],
            workingDirectory: "experiments", started: "2026-11-27T12:00:00.000Z", ended: "2026-11-27T12:00:01.000Z",
            status: .failed, exitCode: 2, signal: nil,
            code: .init(treeDigest: otherCodeTreeDigest, files: [], git: nil), environment: environment,
            setVariables: [:],
            inputs: [file("features.npy", features, producedBy: prepare.id)], outputs: [], metrics: nil)
        crate.runs = [prepare, train, failed]
        for run in crate.runs { crate.files.append(("runs/\(run.id).json", .run, try JSONText.encode(run))) }
        crate.files.sort { Manifest.bytewise($0.path, $1.path) }
        return crate
    }
}

/// The parsed view, for looking entities up by `@id`.
struct ParsedCrate {
    let document: [String: Any]
    let graph: [[String: Any]]
    let byId: [String: [String: Any]]

    init(_ bytes: [UInt8]) throws {
        document = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        graph = try #require(document["@graph"] as? [[String: Any]])
        var byId: [String: [String: Any]] = [:]
        for entity in graph { byId[entity["@id"] as? String ?? ""] = entity }
        self.byId = byId
    }

    subscript(id: String) -> [String: Any]? { byId[id] }

    /// The `@id`s a property references (one object or an array of them).
    static func ids(_ value: Any?) -> [String] {
        if let one = value as? [String: Any] { return [one["@id"] as? String ?? ""] }
        if let many = value as? [[String: Any]] { return many.map { $0["@id"] as? String ?? "" } }
        return []
    }

    static func types(_ entity: [String: Any]?) -> [String] {
        if let one = entity?["@type"] as? String { return [one] }
        return entity?["@type"] as? [String] ?? []
    }

    var actions: [[String: Any]] { graph.filter { Self.types($0).contains("CreateAction") } }
}

@Suite("RO-Crate view")
struct ROCrateTests {
    let crate: ExampleCrate
    let bytes: [UInt8]
    let parsed: ParsedCrate

    init() throws {
        crate = try ExampleCrate.make()
        bytes = try crate.metadata()
        parsed = try ParsedCrate(bytes)
    }

    var prepare: RunRecord { crate.runs[0] }
    var train: RunRecord { crate.runs[1] }
    var failed: RunRecord { crate.runs[2] }

    @Test("the same inputs in any order give the same bytes, written like every mlpack JSON")
    func deterministic() throws {
        #expect(try crate.metadata() == bytes)
        let shuffled = try ROCrate.metadata(
            card: crate.card, items: crate.items.reversed(), runs: crate.runs.reversed(),
            dataReferences: crate.references.reversed())
        #expect(shuffled == bytes)
        #expect(bytes.last == 0x0a)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(!text.contains("\\/"), "slashes are not escaped")
        #expect(text.hasPrefix("{\n  \"@context\" : ["), "sorted keys, two-space indent:\n\(text.prefix(80))")
        // Nothing of this machine: the clock or the local folder cannot leak in.
        #expect(!text.contains(FileManager.default.currentDirectoryPath))
    }

    @Test("the direct serialiser writes what JSONEncoder writes, for the example crate and awkward values")
    func serialiserMatchesJSONEncoder() throws {
        let document = try JSONDecoder().decode(ROCrate.Node.self, from: Data(bytes))
        #expect(document.jsonText == bytes)
        #expect(try JSONText.encode(document) == bytes)
        let awkward = ROCrate.Node.object([
            "b": .string("quote \" backslash \\ slash / tab \t newline \n bell \u{07} del \u{7f} é 日本 \u{2028}"),
            "a": .array([.string(""), .object([:]), .array([])]),
            "B": .object(["z": .string("1"), "@id": .string("x"), "Z": .array([.string("y")])]),
            "": .string("empty key"),
        ])
        #expect(
            String(decoding: awkward.jsonText, as: UTF8.self)
                == String(decoding: try JSONText.encode(awkward), as: UTF8.self))
    }

    @Test("descriptor, root, then every entity sorted bytewise by @id, each once")
    func graphOrder() throws {
        let ids = parsed.graph.map { $0["@id"] as? String ?? "" }
        #expect(ids.prefix(2) == ["ro-crate-metadata.json", "./"])
        let rest = Array(ids.dropFirst(2))
        #expect(rest == rest.sorted(by: Manifest.bytewise))
        #expect(Set(ids).count == ids.count, "duplicate @id")
        #expect(parsed.graph.allSatisfy { !ParsedCrate.types($0).isEmpty }, "every entity has a @type")

        let context = try #require(parsed.document["@context"] as? [Any])
        #expect(context.first as? String == "https://w3id.org/ro/crate/1.1/context")
        #expect(context.dropFirst().first as? [String: String] == ROCrate.localTerms)

        let descriptor = try #require(parsed["ro-crate-metadata.json"])
        #expect(ParsedCrate.types(descriptor) == ["CreativeWork"])
        #expect(ParsedCrate.ids(descriptor["about"]) == ["./"])
        #expect(ParsedCrate.ids(descriptor["conformsTo"]) == ["https://w3id.org/ro/crate/1.1"])
    }

    @Test("the root: name, title, date, license, the Process Run Crate profile, runs and data mentioned")
    func root() throws {
        let root = try #require(parsed["./"])
        #expect(ParsedCrate.types(root) == ["Dataset"])
        #expect(root["name"] as? String == "spirals")
        #expect(root["description"] as? String == "Two-spirals MLP")
        #expect(root["datePublished"] as? String == "2026-11-27T12:00:00Z")
        #expect(ParsedCrate.ids(root["conformsTo"]) == ["https://w3id.org/ro/wfrun/process/0.5"])
        let profile = try #require(parsed["https://w3id.org/ro/wfrun/process/0.5"])
        #expect(profile["version"] as? String == "0.5")
        let license = try #require(parsed[ParsedCrate.ids(root["license"]).first ?? ""])
        #expect(license["name"] as? String == "No license stated")
        #expect(
            ParsedCrate.ids(root["mentions"])
                == ["#data-spirals", "#run-" + prepare.id, "#run-" + train.id, "#run-" + failed.id])
    }

    @Test("every item is a File in the root's hasPart, with size, SHA-256 and media type; folders are Datasets")
    func hasPartCoversEveryItem() throws {
        let root = try #require(parsed["./"])
        let parts = Set(ParsedCrate.ids(root["hasPart"]))
        for item in crate.items {
            let id = ROCrate.Builder.uri(item.path)
            #expect(parts.contains(id), "\(item.path) is not in hasPart")
            let file = try #require(parsed[id], "no entity for \(item.path)")
            #expect(ParsedCrate.types(file) == ["File"])
            #expect(file["contentSize"] as? String == String(item.size))
            #expect(file["sha256"] as? String == item.sha256)
            #expect(file["encodingFormat"] is String)
        }
        #expect(parsed["pack.json"]?["encodingFormat"] as? String == "application/json")
        #expect(parsed["artifacts/weights.safetensors"]?["encodingFormat"] as? String == "application/octet-stream")
        // Awkward names are percent-encoded URI paths.
        #expect(parts.contains("notes/read%20me%20%231%3F.md"))
        #expect(parts.contains("code/\(ExampleCrate.snapshot)/donn%C3%A9es.py"))

        // The code snapshot is a folder of code, holding exactly its files.
        let codeId = "code/\(ExampleCrate.snapshot)/"
        #expect(parts.contains(codeId))
        let code = try #require(parsed[codeId])
        #expect(Set(ParsedCrate.types(code)) == ["Dataset", "SoftwareSourceCode"])
        #expect(
            Set(ParsedCrate.ids(code["hasPart"]))
                == Set(ExampleCrate.codeFiles.map { ROCrate.Builder.uri("code/\(ExampleCrate.snapshot)/\($0.path)") }))
        #expect((code["description"] as? String)?.contains("git commit 0123456789") == true)
        // The checkpoint folder a run wrote is a Dataset too; no other folder is.
        let folders = parsed.graph.filter {
            ParsedCrate.types($0).contains("Dataset") && ($0["@id"] as? String)?.hasSuffix("/") == true
        }
        #expect(Set(folders.map { $0["@id"] as? String ?? "" }) == ["./", codeId, "artifacts/ckpt/"])
        #expect(parts.contains("artifacts/ckpt/"))
    }

    @Test("one CreateAction per run: command, times with an offset, status, instrument, object, result")
    func actions() throws {
        #expect(parsed.actions.count == crate.runs.count)
        for run in crate.runs {
            let action = try #require(parsed["#run-" + run.id])
            #expect(action["name"] is String)
            #expect(action["description"] is String)
            #expect(action["startTime"] as? String == String(run.started.dropLast()) + "+00:00")
            #expect(action["endTime"] as? String == String(run.ended.dropLast()) + "+00:00")
            #expect(ParsedCrate.ids(action["instrument"]).count == 1)
            #expect(ParsedCrate.ids(action["subjectOf"]) == ["runs/\(run.id).json"])
        }
        let train = try #require(parsed["#run-" + self.train.id])
        #expect(train["name"] as? String == "python train.py --config configs/base.yaml --note 'it'\\''s fine'")
        #expect(train["actionStatus"] as? String == "http://schema.org/CompletedActionStatus")
        #expect(train["error"] == nil)
        #expect(ParsedCrate.ids(train["instrument"]) == ["code/\(ExampleCrate.snapshot)/"])
        #expect(
            ParsedCrate.ids(train["object"])
                == ["artifacts/features.npy", "code/\(ExampleCrate.snapshot)/configs/base.yaml"])
        #expect(ParsedCrate.ids(train["result"]) == ["artifacts/ckpt/", "artifacts/weights.safetensors"])
        let variables = ParsedCrate.ids(train["environment"]).compactMap { parsed[$0] }
        #expect(
            ParsedCrate.ids(train["environment"])
                == ["#run-\(self.train.id)/env/CUBLAS_WORKSPACE_CONFIG", "#run-\(self.train.id)/env/PYTHONHASHSEED"])
        #expect(variables.map { $0["name"] as? String ?? "" } == ["CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED"])
        #expect(variables.map { $0["value"] as? String ?? "" } == [":4096:8", "0"])
        #expect(variables.allSatisfy { ParsedCrate.types($0) == ["PropertyValue"] })

        let failed = try #require(parsed["#run-" + self.failed.id])
        #expect(failed["actionStatus"] as? String == "http://schema.org/FailedActionStatus")
        #expect(failed["error"] as? String == "Exited with status 2")
        #expect(failed["result"] == nil, "no outputs, no result")
        // Its code is not in the pack: a contextual SoftwareSourceCode, not a folder.
        let instrument = try #require(parsed[ParsedCrate.ids(failed["instrument"]).first ?? ""])
        #expect(instrument["@id"] as? String == "#code-" + String(ExampleCrate.otherCodeTreeDigest.prefix(12)))
        #expect(ParsedCrate.types(instrument) == ["SoftwareSourceCode"])
        #expect((instrument["description"] as? String)?.contains(ExampleCrate.otherCodeTreeDigest) == true)
    }

    @Test("lineage: what one run wrote and the next read is one entity; data references and absent files too")
    func lineage() throws {
        let prepare = try #require(parsed["#run-" + self.prepare.id])
        let train = try #require(parsed["#run-" + self.train.id])
        let failed = try #require(parsed["#run-" + self.failed.id])
        let features = "artifacts/features.npy"
        #expect(ParsedCrate.ids(prepare["result"]).contains(features))
        #expect(ParsedCrate.ids(train["object"]).contains(features))
        #expect(ParsedCrate.ids(failed["object"]) == [features])

        // The input that is a data reference is its entity: name, URIs, size, its descriptor.
        #expect(ParsedCrate.ids(prepare["object"]) == ["#data-spirals"])
        let data = try #require(parsed["#data-spirals"])
        #expect(ParsedCrate.types(data) == ["Dataset"])
        #expect(data["name"] as? String == "spirals")
        #expect(data["url"] as? String == "https://example.org/spirals")
        #expect(data["contentSize"] as? String == String(crate.references[0].size))
        #expect(ParsedCrate.ids(data["subjectOf"]) == ["refs/spirals.json"])

        // Outputs the pack does not hold are contextual entities named by content.
        let log = "#file-" + sha256Hex(ExampleCrate.prepareLog)
        let cache = "#directory-" + ExampleCrate.cacheTreeDigest
        #expect(ParsedCrate.ids(prepare["result"]) == [cache, log, features])
        #expect(parsed[log]?["name"] as? String == "logs/prepare.log")
        #expect(parsed[log]?["sha256"] as? String == sha256Hex(ExampleCrate.prepareLog))
        #expect(ParsedCrate.types(parsed[cache]) == ["Dataset"])
        let root = try #require(parsed["./"])
        #expect(!ParsedCrate.ids(root["hasPart"]).contains(log), "absent files are not parts of the crate")
    }

    @Test("a pack without runs, title or references still has a description, a license and every item")
    func minimal() throws {
        let card = Card(
            name: "bare", title: nil, created: "2026-01-02T03:04:05Z", codeSnapshots: [], outputs: [],
            dataReferences: nil)
        let items = [
            Item(path: "pack.json", role: .card, size: 2, sha256: String(repeating: "a", count: 64), mode: 0o644)
        ]
        let view = try ParsedCrate(ROCrate.metadata(card: card, items: items, runs: [], dataReferences: []))
        let root = try #require(view["./"])
        #expect(root["description"] as? String == "The mlpack pack bare.")
        #expect(root["mentions"] == nil)
        #expect(ParsedCrate.ids(root["hasPart"]) == ["pack.json"], "a single part is an object, not an array")
        #expect(root["hasPart"] is [String: Any])
        #expect(view.actions.isEmpty)
        #expect(view[ParsedCrate.ids(root["license"]).first ?? ""] != nil)
    }

    @Test("inputs it cannot describe consistently are refused")
    func refusals() throws {
        let twice = expectMLPackError {
            _ = try ROCrate.metadata(
                card: crate.card, items: crate.items, runs: crate.runs + [prepare], dataReferences: crate.references)
        }
        #expect(twice?.description.contains("two run records have the id") == true)
        var clash = crate.items
        clash.append(Item(path: "ro-crate-metadata.json", role: .note, size: 0, sha256: sha256Hex([]), mode: 0o644))
        expectMLPackError {
            _ = try ROCrate.metadata(card: crate.card, items: clash, runs: [], dataReferences: [])
        }
    }

    @Test("keys taken from run records cannot make two entities share an @id")
    func hostileKeys() throws {
        var a = prepare
        a.id = "x"
        a.setVariables = ["B": "1"]
        var b = prepare
        b.id = "x/env/B"
        b.code.treeDigest = "../../evil #1"
        let view = try ParsedCrate(
            ROCrate.metadata(card: crate.card, items: crate.items, runs: [a, b], dataReferences: crate.references))
        #expect(view["#run-x/env/B"].map(ParsedCrate.types) == ["PropertyValue"])
        #expect(view["#run-x%2Fenv%2FB"].map(ParsedCrate.types) == ["CreateAction"])
        #expect(
            ParsedCrate.ids(view["#run-x%2Fenv%2FB"]?["instrument"]) == ["#code-..%2F..%2Fevil%20%23"],
            "the first 12 characters, encoded")
    }

    @Test("percent-encoding, shell quoting and time offsets")
    func spelling() {
        #expect(ROCrate.Builder.uri("a b/c#d?e:f%") == "a%20b/c%23d%3Fe%3Af%25")
        #expect(ROCrate.Builder.uri("Straße/ü.txt") == "Stra%C3%9Fe/%C3%BC.txt")
        #expect(ROCrate.Builder.fragment("a/b c") == "a%2Fb%20c")
        #expect(
            ROCrate.Builder.shellCommand(["python", "-c", "print('x')", ""]) == "python -c 'print('\\''x'\\'')' ''")
        #expect(ROCrate.Builder.timestamp("2026-11-28T00:35:12.345Z") == "2026-11-28T00:35:12.345+00:00")
        #expect(ROCrate.Builder.mediaType("code/ab/README") == "application/octet-stream")
        #expect(ROCrate.Builder.mediaType("code/ab/Train.PY") == "text/x-python")
    }

    /// `fixtures/ro-crate/example/` is this example written out; the end-to-end tests validate
    /// it with outside tools. Set MLPACK_UPDATE_FIXTURES=1 to rewrite it after a change.
    @Test("fixtures/ro-crate/example is the example crate, byte for byte")
    func golden() throws {
        let folder = EnvironmentFixtures.repository + "/fixtures/ro-crate/example"
        if ProcessInfo.processInfo.environment["MLPACK_UPDATE_FIXTURES"] == "1" {
            try? FileManager.default.removeItem(atPath: folder)
            try crate.write(to: folder, metadata: bytes)
        }
        var expected: [String: [UInt8]] = [ROCrate.metadataPath: bytes]
        for file in crate.files { expected[file.path] = file.bytes }
        var found: [String: [UInt8]] = [:]
        let enumerator = FileManager.default.enumerator(atPath: folder)
        while let relative = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder + "/" + relative, isDirectory: &isDirectory),
                !isDirectory.boolValue
            {
                found[relative.precomposedStringWithCanonicalMapping] = try readBytes(folder + "/" + relative)
            }
        }
        #expect(
            found.keys.sorted() == expected.keys.sorted(), "run with MLPACK_UPDATE_FIXTURES=1 to refresh the fixture")
        for (path, bytes) in expected where found[path] != bytes {
            Issue.record("fixtures/ro-crate/example/\(path) differs; run with MLPACK_UPDATE_FIXTURES=1 to refresh it")
        }
    }
}

/// The view checked by the reference validator (rocrate-validator, PyPI roc-validator) for
/// the Process Run Crate 0.5 profile at the REQUIRED severity, offline: the RO-Crate 1.1
/// context is inlined from fixtures/ro-crate/context-1.1.jsonld by validate-offline.py.
@Suite("RO-Crate view: rocrate-validator")
struct ROCrateValidatorTests {
    static let script = EnvironmentFixtures.repository + "/fixtures/ro-crate/validate-offline.py"

    /// Runs the validator on `folder`: its exit status (0 valid, 1 not valid, 2 error,
    /// 3 not installed) and what it printed.
    static func validate(_ folder: String, severity: String = "required") throws -> (status: Int, output: String) {
        let script = #"python3 "$1" "$2" --severity "$3" 2>&1; echo "exit=$?""#
        let output = try #require(
            ChildProcess.run(["/bin/sh", "-c", script, "sh", Self.script, folder, severity], timeout: 300),
            "the validator did not finish")
        let lines = output.split(separator: "\n")
        let status = lines.last.flatMap { Int($0.dropFirst("exit=".count)) } ?? -1
        if status == 3 { Issue.record("roc-validator is not installed: run scripts/setup.sh") }
        return (status, lines.dropLast().joined(separator: "\n"))
    }

    @Test("the example crate is a valid Process Run Crate 0.5, as a folder and as a BagIt bag")
    func valid() throws {
        let crate = try ExampleCrate.make()
        try withTemporaryDirectory { dir in
            try crate.write(to: dir.path("crate"))
            let folder = try Self.validate(dir.path("crate"))
            #expect(folder.status == 0, "\(folder.output)")
            #expect(folder.output.contains(": valid as process-run-crate-0.5"), "\(folder.output)")

            // The layout of an extracted pack: the bag's data/ is the crate root.
            try crate.write(to: dir.path("bag/data"))
            try dir.write("bag/bagit.txt", BagIt.declaration)
            let bag = try Self.validate(dir.path("bag"))
            #expect(bag.status == 0, "\(bag.output)")
        }
    }

    @Test("a CreateAction without instrument, or an item missing from the folder, is not valid")
    func invalid() throws {
        let crate = try ExampleCrate.make()
        let bytes = try crate.metadata()
        var document = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        var graph = try #require(document["@graph"] as? [[String: Any]])
        for index in graph.indices where graph[index]["@type"] as? String == "CreateAction" {
            graph[index]["instrument"] = nil
        }
        document["@graph"] = graph
        let broken = Array(try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]))
        try withTemporaryDirectory { dir in
            try crate.write(to: dir.path("no-instrument"), metadata: broken)
            let result = try Self.validate(dir.path("no-instrument"))
            #expect(result.status == 1, "\(result.output)")
            #expect(result.output.contains("NOT valid"), "\(result.output)")
            #expect(result.output.contains("instrument"), "\(result.output)")

            try crate.write(to: dir.path("missing"))
            try FileManager.default.removeItem(atPath: dir.path("missing/artifacts/weights.safetensors"))
            let missing = try Self.validate(dir.path("missing"))
            #expect(missing.status == 1, "\(missing.output)")
            #expect(missing.output.contains("weights.safetensors"), "\(missing.output)")
        }
    }
}

/// Reads a crate back into nodes, to compare serialisers on the real document.
extension ROCrate.Node: Decodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([ROCrate.Node].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: ROCrate.Node].self))
        }
    }
}
