import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// What both test targets need: files read and written with plain calls, and the knowledge of
// the environment capture that every pack made on this machine holds.

/// A failure of a test's own set-up (a program missing, a file that cannot be read).
public struct TestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public func readBytes(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw TestError("cannot read \(path)") }
    return Array(data)
}

/// Creates or truncates `path` and writes `bytes` with plain POSIX calls (Foundation's atomic
/// writes leave empty TemporaryDirectory.* folders behind in /tmp on Linux).
public func writeBytes(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw TestError("cannot create \(path): errno \(errno)") }
    defer { close(fd) }
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { throw TestError("cannot write \(path): errno \(errno)") }
        offset += n
    }
}

/// Whether anything (a link too) is at `path`.
public func exists(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
}

/// `mlpack create` stores the capture of the machine it runs on in every pack, below
/// `env/<12 hex>/`: `platform.json` (role env), `python-packages.txt` (role env, when a
/// Python interpreter answered) and `host.json` (role host). Tests about the other items
/// drop these paths before comparing (`isEnvironmentPath`, `withoutEnvironment`) or add
/// `EnvironmentItems.count` to counts; `expectEnvironmentItems` checks the items exactly.
public enum EnvironmentItems {
    /// Whether `python3` is an executable on PATH: the capture (ours, or mlpack's as our
    /// child with our PATH) then records the interpreter's packages.
    public static let python3OnPath: Bool = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: $0 + "/python3") }
    }()

    /// The files below `env/<id>/` of a pack made on this machine, with their roles.
    public static let expected: [String: String] = {
        var files = ["platform.json": "env", "host.json": "host"]
        if python3OnPath { files["python-packages.txt"] = "env" }
        return files
    }()

    /// How many items the environment capture adds to a pack made on this machine.
    public static var count: Int { expected.count }
}

/// Whether `path` belongs to the environment capture, in any of the forms tests meet:
/// an item path (`env/…`, also the extracted `env` folder itself), a BagIt path
/// (`data/env/…`), a tar member (`demo/data/env/…`) or a whole manifest-sha256.txt line
/// (`<sha256>  data/env/…`).
public func isEnvironmentPath(_ path: some StringProtocol) -> Bool {
    var rest = Substring(path)
    if let gap = rest.range(of: "  "), rest[..<gap.lowerBound].count == 64,
        rest[..<gap.lowerBound].allSatisfy({ "0123456789abcdef".contains($0) })
    {
        rest = rest[gap.upperBound...]
    }
    let components = rest.split(separator: "/", omittingEmptySubsequences: false)
    // "data/env/…" or "<top>/data/env/…": the item path starts after the last "data" of the first two.
    let start = components.prefix(2).lastIndex(of: "data").map { $0 + 1 } ?? 0
    return components.count > start && components[start] == "env"
}

/// `paths` without the environment capture's.
public func withoutEnvironment<S: Sequence>(_ paths: S) -> [S.Element] where S.Element: StringProtocol {
    paths.filter { !isEnvironmentPath($0) }
}

/// `files` (keyed by path) without the environment capture's.
public func withoutEnvironment<Value>(_ files: [String: Value]) -> [String: Value] {
    files.filter { !isEnvironmentPath($0.key) }
}

/// Checks that a pack's items hold exactly the environment items a pack made on this machine
/// holds: one `env/<12 hex>/` folder, named after the first 12 hex digits of its
/// platform.json's SHA-256, with `EnvironmentItems.expected`'s files and roles.
public func expectEnvironmentItems(
    _ files: [(path: String, role: String, sha256: String)], sourceLocation: SourceLocation = #_sourceLocation
) {
    let items = files.filter { isEnvironmentPath($0.path) }
    let folders = Set(items.map { $0.path.split(separator: "/").prefix(2).joined(separator: "/") })
    guard folders.count == 1, let folder = folders.first else {
        Issue.record("expected one env/<id>/ folder, found \(folders.sorted())", sourceLocation: sourceLocation)
        return
    }
    let id = folder.dropFirst("env/".count)
    #expect(
        id.count == 12 && id.allSatisfy { "0123456789abcdef".contains($0) }, "\(folder)", sourceLocation: sourceLocation
    )
    var found: [String: String] = [:]
    for item in items { found[String(item.path.dropFirst(folder.count + 1))] = item.role }
    #expect(found == EnvironmentItems.expected, "the items below \(folder)/", sourceLocation: sourceLocation)
    let platform = items.first { $0.path == folder + "/platform.json" }
    #expect(
        platform?.sha256.prefix(12) == id, "the folder is named after platform.json's digest",
        sourceLocation: sourceLocation)
}
