import Foundation
import TestSupport
import Testing

@testable import MLPack

/// The library's items in the form the shared checks take.
func expectEnvironmentItems(
    _ files: [(path: String, role: Role, sha256: String)], sourceLocation: SourceLocation = #_sourceLocation
) {
    TestSupport.expectEnvironmentItems(
        files.map { ($0.path, $0.role.rawValue, $0.sha256) }, sourceLocation: sourceLocation)
}

/// A fresh directory below the system temporary directory, removed when `body` returns.
/// Every test that touches the file system gets its own, so tests can run in parallel.
struct TempDir {
    let path: String

    func path(_ relative: String) -> String { path + "/" + relative }

    /// Writes `bytes` to `relative`, creating parent folders; returns the absolute path.
    @discardableResult
    func write(_ relative: String, _ bytes: [UInt8], executable: Bool = false) throws -> String {
        let target = path(relative)
        try FileManager.default.createDirectory(
            atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: target, contents: Data(bytes)) else {
            throw TestError("cannot write \(target)")
        }
        if executable {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: target)
        }
        return target
    }

    @discardableResult
    func write(_ relative: String, _ text: String, executable: Bool = false) throws -> String {
        try write(relative, Array(text.utf8), executable: executable)
    }

    @discardableResult
    func makeDirectory(_ relative: String) throws -> String {
        try FileManager.default.createDirectory(atPath: path(relative), withIntermediateDirectories: true)
        return path(relative)
    }

    func symlink(_ relative: String, to destination: String) throws {
        try FileManager.default.createSymbolicLink(atPath: path(relative), withDestinationPath: destination)
    }

    func read(_ relative: String) throws -> [UInt8] { try readBytes(path(relative)) }

    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: path(relative)) }
}

func withTemporaryDirectory<T>(_ body: (TempDir) throws -> T) throws -> T {
    let path = FileManager.default.temporaryDirectory.path + "/mlpack-unit-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(TempDir(path: path))
}

func sha256Hex(_ bytes: [UInt8]) -> String { SHA256Hasher.hex(bytes) }

/// Incompressible bytes (libsodium's generator).
func randomBytes(_ count: Int) -> [UInt8] { Sodium.randomBytes(count) }

/// Text that compresses well but is not trivially repetitive: numbered lines.
func compressibleText(bytes count: Int) -> [UInt8] {
    var out = [UInt8]()
    out.reserveCapacity(count + 64)
    var line = 0
    while out.count < count {
        out += Array("step \(line) loss 0.\(line % 997) lr 3e-4 grad_norm 1.\(line % 13)\n".utf8)
        line += 1
    }
    return Array(out.prefix(count))
}

/// The fixed creation time every test pack uses.
let testCreated = Date(timeIntervalSince1970: 1_795_780_800)  // 2026-11-27T12:00:00Z

/// Builds a pack with the library's own writer from items given verbatim, bypassing the
/// checks `PackCreator` applies to its inputs: this is how a hostile pack is made.
func craftPack(
    at output: String, name: String, items: [(path: String, role: Role, bytes: [UInt8], mode: UInt32)],
    created: String = "2026-11-27T12:00:00Z"
) throws {
    let file = try PosixFile(path: output, mode: .createExclusive)
    let writer = try PackWriter(output: file, topDirectory: name, mtime: 0, progress: nil)
    // Every pack has a card: the RO-Crate view is made from it.
    var all = items
    if !all.contains(where: { $0.path == Layout.card }) {
        let card = Card(name: name, title: nil, created: created, codeSnapshots: [], outputs: [])
        all.append((Layout.card, .card, try JSONText.encode(card), 0o644))
    }
    var written: [Item] = []
    for item in all.sorted(by: { Manifest.bytewise($0.path, $1.path) }) {
        let result = try writer.add(path: Layout.payloadPath(item.path), source: .bytes(item.bytes), mode: item.mode)
        written.append(
            Item(
                path: item.path, role: item.role, size: result.size, sha256: Hex.encode(result.sha256), mode: item.mode)
        )
    }
    _ = try PackSealer.seal(writer, items: written, name: name, created: created, manifesting: .new(key: nil)) { path in
        all.first { $0.path == path }?.bytes
    }
}

/// Runs `body` and returns the `MLPackError` it throws, or records an issue.
@discardableResult
func expectMLPackError(
    _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
) -> MLPackError? {
    do {
        try body()
        Issue.record("expected an MLPackError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as MLPackError {
        return error
    } catch {
        Issue.record("expected an MLPackError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
