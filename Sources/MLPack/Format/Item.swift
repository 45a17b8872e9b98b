/// What a payload file is for. Redaction and rebuild act on roles (spec/FORMAT.md §4).
public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    case card
    case code
    case codeSnapshot = "code-snapshot"
    case weights
    case checkpoint
    case output
    case metrics
    case data
    case dataRef = "data-ref"
    case run
    case env
    case host
    case note

    /// What a run produced and a pack may ship: weights, checkpoints, other outputs, metrics.
    public var isOutput: Bool { [.weights, .checkpoint, .output, .metrics].contains(self) }

    public static func < (a: Role, b: Role) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One payload file of a pack, as its disclosure states it.
public struct Item: Sendable, Equatable, Codable {
    /// Path below the payload directory `data/`, e.g. `code/3f2a9c1b0e4d/train.py`.
    public var path: String
    public var role: Role
    public var size: UInt64
    /// Lower-case hex SHA-256 of the file's bytes.
    public var sha256: String
    /// 0o644 or 0o755: the only modes a pack stores.
    public var mode: UInt32

    public static let allowedModes: Set<UInt32> = [0o644, 0o755]
}
