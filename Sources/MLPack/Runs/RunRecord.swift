/// One recorded run (`mlpack run -- CMD`): what ran, on which code and platform, what it read
/// and wrote. Stored as `.mlpack/runs/<id>.json` in the project and as `data/runs/<id>.json`
/// (role `run`) in a pack.
public struct RunRecord: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        /// Exited with status 0.
        case succeeded
        /// Exited with another status.
        case failed
        /// Ended by a signal.
        case killed
    }

    /// A file or folder the run read or wrote, identified by content.
    public struct FileRecord: Codable, Sendable, Equatable {
        /// Relative to the project root when inside it, else absolute (private: redaction
        /// rewrites it).
        public var path: String
        public var kind: DataReference.Kind
        /// A file's SHA-256, or a folder's tree digest (SHA-256 of its `sha256sum` listing,
        /// kept as an object in the run store).
        public var sha256: String
        public var size: UInt64
        public var fileCount: Int?
        /// For inputs: the run whose output had this content (lineage by content).
        public var producedBy: String?

        public init(
            path: String, kind: DataReference.Kind, sha256: String, size: UInt64, fileCount: Int? = nil,
            producedBy: String? = nil
        ) {
            self.path = path
            self.kind = kind
            self.sha256 = sha256
            self.size = size
            self.fileCount = fileCount
            self.producedBy = producedBy
        }
    }

    /// The exact code the run saw: every file with its content's digest (contents are kept
    /// in the run store's objects, so later edits cannot lose them).
    public struct Code: Codable, Sendable, Equatable {
        public struct File: Codable, Sendable, Equatable {
            public var path: String
            public var sha256: String
            public var size: UInt64
            public var mode: UInt32
        }

        /// SHA-256 of the snapshot's listing, as for a pack's code snapshot.
        public var treeDigest: String
        public var files: [File]
        public var git: CodeSnapshotDescriptor.Git?
    }

    public var formatVersion = 1
    /// `<UTC start time>-<6 random hex>`, e.g. `20261128T003512Z-a1b2c3`: sorts by time.
    public var id: String
    public var name: String?
    public var argv: [String]
    /// Relative to the project root ("." for the root itself).
    public var workingDirectory: String
    /// RFC 3339 UTC with milliseconds.
    public var started: String
    public var ended: String
    public var status: Status
    public var exitCode: Int32?
    public var signal: Int32?
    public var code: Code
    /// Id of the environment capture (`.mlpack/env/<id>/`, `data/env/<id>/` in a pack).
    public var environment: String
    /// Variables `--deterministic` set for the run.
    public var setVariables: [String: String]
    public var inputs: [FileRecord]
    public var outputs: [FileRecord]
    /// Files the run was seen reading (`--trace`) that are recorded by path only, without
    /// size or digest (a digest of a secret is as good as the secret to a guesser): those
    /// under the home folder outside the project (`~/.netrc`) and those named like secrets.
    public var privateReads: [String]?
    /// The JSON object of `--metrics FILE`, when given.
    public var metrics: JSONValue?
    /// Where that file is (an output of the run), so a rebuild knows which output to
    /// compare metric by metric.
    public var metricsPath: String?
    /// Files that changed during the run without being claimed as its outputs: another run
    /// of the project was active meanwhile (which wrote them is ambiguous), or, traced, the
    /// run's processes did not write them. Absent when there are none.
    public var unclaimed: [String]?
    /// Which tracer saw the files the run opened: `preload` or `ptrace`; absent when none did.
    public var tracer: String?
    /// Programs of the run that the tracer did not see (static binaries; `the command` for
    /// the command itself): their reads are missing from the inputs.
    public var untraced: [String]?
    /// The run's PYTHONPATH entries that lie in the project, relative to its root (`.` for
    /// the root), in order: a rebuild sets PYTHONPATH to them in its workspace. Absent when
    /// PYTHONPATH named none.
    public var pythonPath: [String]?

    public init(
        id: String, name: String?, argv: [String], workingDirectory: String, started: String, ended: String,
        status: Status, exitCode: Int32?, signal: Int32?, code: Code, environment: String,
        setVariables: [String: String], inputs: [FileRecord], outputs: [FileRecord], metrics: JSONValue?
    ) {
        self.id = id
        self.name = name
        self.argv = argv
        self.workingDirectory = workingDirectory
        self.started = started
        self.ended = ended
        self.status = status
        self.exitCode = exitCode
        self.signal = signal
        self.code = code
        self.environment = environment
        self.setVariables = setVariables
        self.inputs = inputs
        self.outputs = outputs
        self.metrics = metrics
    }

    /// The run id's shape: safe as a file and item name.
    static func isValidId(_ id: String) -> Bool { PackPath.isValidTopDirectory(id) && id.count <= 64 }
}

/// Any JSON value (metrics files hold whatever the training script wrote).
public indirect enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
