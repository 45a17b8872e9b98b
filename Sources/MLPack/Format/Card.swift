/// `data/pack.json`, the pack's card: what a reader sees first.
public struct Card: Codable, Sendable, Equatable {
    public struct Output: Codable, Sendable, Equatable {
        /// Item path of the output, e.g. `artifacts/model.safetensors`.
        public var path: String
        public var role: Role
        /// How closely a rebuild must reproduce it; absent: the comparison's defaults.
        public var tolerance: Tolerance?

        public init(path: String, role: Role, tolerance: Tolerance? = nil) {
            self.path = path
            self.role = role
            self.tolerance = tolerance
        }
    }

    /// Float tensors match when |rebuilt − expected| ≤ atol + rtol·|expected|; each named
    /// metric when |rebuilt − expected| ≤ its value.
    public struct Tolerance: Codable, Sendable, Equatable {
        public var atol: Double?
        public var rtol: Double?
        public var metrics: [String: Double]?

        public init(atol: Double? = nil, rtol: Double? = nil, metrics: [String: Double]? = nil) {
            self.atol = atol
            self.rtol = rtol
            self.metrics = metrics
        }
    }

    public var formatVersion = 1
    public var name: String
    public var title: String?
    public var created: String
    /// Item directories of the code snapshots, e.g. `code/3f2a9c1b0e4d`.
    public var codeSnapshots: [String]
    public var outputs: [Output]
    /// Names of the data references (`refs/<name>.json`).
    public var dataReferences: [String]?
    /// Ids of the runs (`runs/<id>.json`) that produced the outputs, oldest first.
    public var runs: [String]?
}

/// `data/code/<snapshot>.json`: where a code snapshot came from.
public struct CodeSnapshotDescriptor: Codable, Sendable, Equatable {
    public struct Git: Codable, Sendable, Equatable {
        /// HEAD when the snapshot was taken, nil in a repository without commits.
        public var commit: String?
        /// True when the snapshot holds edits not committed at `commit`.
        public var dirty: Bool
    }

    /// SHA-256 of the snapshot's listing in `sha256sum` format (paths relative to the snapshot).
    public var treeDigest: String
    public var fileCount: Int
    public var size: UInt64
    public var git: Git?
}
