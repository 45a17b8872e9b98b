import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Helpers for the end-to-end tests: they run the real `mlpack` binary (and tar, zstd,
// sha256sum, python3, git) as child processes, each test in its own temporary folder.

// MARK: - Locations

enum Repo {
    /// The repository root: the nearest folder above this file holding Package.swift.
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url.path
            }
            url = url.deletingLastPathComponent()
        }
        // Tests/EndToEndTests/Support/Harness.swift → the repository is three levels up.
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }()

    /// The binary `swift build` makes: <repo>/.build/debug/mlpack (MLPACK_BINARY overrides it).
    static func mlpackBinary() throws -> String {
        if let override = ProcessInfo.processInfo.environment["MLPACK_BINARY"], !override.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: override) else {
                throw TestError("MLPACK_BINARY=\(override) is not an executable file")
            }
            return override
        }
        let path = root + "/.build/debug/mlpack"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestError(
                "the mlpack binary is missing at \(path): run `swift build` first (or set MLPACK_BINARY)")
        }
        return path
    }

    /// fixtures/tools/tamper.py: makes damaged and hostile variants of a pack.
    static var tamperScript: String { root + "/fixtures/tools/tamper.py" }
}

/// The system's temporary folder, symlinks resolved (sandboxes live below it).
let temporaryBase: String = FileManager.default.temporaryDirectory.resolvingSymlinksInPath().path

// MARK: - Running programs

struct ProcessResult: CustomStringConvertible {
    var command: [String]
    var status: Int32
    var stdout: Data
    var stderr: Data
    var timedOut = false

    var out: String { String(decoding: stdout, as: UTF8.self) }
    var err: String { String(decoding: stderr, as: UTF8.self) }
    /// Non-empty lines of standard error.
    var errLines: [String] {
        err.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    var description: String {
        let shown = command.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ")
        return
            "`\(shown)` exited \(status)\(timedOut ? " (killed: timed out)" : "")\n--- stdout:\n\(out.prefix(4000))\n--- stderr:\n\(err.prefix(4000))"
    }
}

/// The environment every child gets: ours, with a UTF-8 locale, and without anything that
/// would make mlpack's or git's behaviour depend on the machine (SOURCE_DATE_EPOCH, a user
/// keyring, a git repository above the sandbox).
func childEnvironment(_ overrides: [String: String]) -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    for key in [
        "SOURCE_DATE_EPOCH", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CONFIG", "MLPACK_BINARY",
        "MLPACK_PASSWORD",
    ] {
        env.removeValue(forKey: key)
    }
    env["LC_ALL"] = "C.UTF-8"
    env["XDG_CONFIG_HOME"] = temporaryBase + "/mlpack-e2e-no-config"
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_CEILING_DIRECTORIES"] = temporaryBase
    for (key, value) in overrides { env[key] = value }
    return env
}

/// Runs `executable` (a path, or a name looked up in PATH) and captures its exit status and
/// output. Standard output and error go to temporary files (never pipes, so no child can
/// block on a full pipe, and no pipe end leaks into a concurrently started child).
/// Standard input is /dev/null unless `stdinFile` is given. A child still running after
/// `timeout` seconds is killed.
func run(
    _ executable: String, _ arguments: [String], cwd: String? = nil, environment: [String: String] = [:],
    stdinFile: String? = nil, timeout: Double = 120
) async throws -> ProcessResult {
    let io = temporaryBase + "/mlpack-e2e-io-" + UUID().uuidString.lowercased()
    try FileManager.default.createDirectory(atPath: io, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: io) }
    let outPath = io + "/stdout"
    let errPath = io + "/stderr"
    try writeBytes(outPath, [])
    try writeBytes(errPath, [])
    let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    let inHandle = try stdinFile.map { try FileHandle(forReadingFrom: URL(fileURLWithPath: $0)) }
    defer {
        try? outHandle.close()
        try? errHandle.close()
        try? inHandle?.close()
    }

    let process = Process()
    if executable.contains("/") {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
    }
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    process.environment = childEnvironment(environment)
    process.standardOutput = outHandle
    process.standardError = errHandle
    process.standardInput = inHandle ?? FileHandle.nullDevice

    let state = RunState()
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        process.terminationHandler = { _ in continuation.resume() }
        do { try process.run() } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: TestError("cannot start \(executable): \(error)"))
            return
        }
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
            if !state.finished {
                state.timedOut = true
                kill(pid, SIGKILL)
            }
        }
    }
    state.finished = true
    return ProcessResult(
        command: [executable] + arguments, status: process.terminationStatus,
        stdout: (try? Data(contentsOf: URL(fileURLWithPath: outPath))) ?? Data(),
        stderr: (try? Data(contentsOf: URL(fileURLWithPath: errPath))) ?? Data(),
        timedOut: state.timedOut)
}

private final class RunState: @unchecked Sendable {
    private let lock = NSLock()
    private var _finished = false
    private var _timedOut = false
    var finished: Bool {
        get { lock.withLock { _finished } }
        set { lock.withLock { _finished = newValue } }
    }
    var timedOut: Bool {
        get { lock.withLock { _timedOut } }
        set { lock.withLock { _timedOut = newValue } }
    }
}

/// Runs the mlpack binary.
func mlpack(
    _ arguments: [String], cwd: String? = nil, environment: [String: String] = [:], stdinFile: String? = nil
) async throws -> ProcessResult {
    try await run(try Repo.mlpackBinary(), arguments, cwd: cwd, environment: environment, stdinFile: stdinFile)
}

/// Runs the mlpack binary with `pack` fed through a real pipe (`cat PACK | mlpack ARGS`), so
/// standard input cannot seek; use "-" in `arguments` for the pack.
func mlpackFromPipe(_ pack: String, _ arguments: [String], cwd: String? = nil) async throws -> ProcessResult {
    try await sh(#"pack="$1"; shift; cat "$pack" | "$@""#, [pack, try Repo.mlpackBinary()] + arguments, cwd: cwd)
}

/// Runs a /bin/sh script; `arguments` are its $1, $2, ... (so paths need no quoting).
func sh(
    _ script: String, _ arguments: [String] = [], cwd: String? = nil, environment: [String: String] = [:]
) async throws -> ProcessResult {
    try await run("/bin/sh", ["-c", script, "sh"] + arguments, cwd: cwd, environment: environment)
}

/// Runs a helper program that must succeed; throws with its output otherwise.
@discardableResult
func must(
    _ executable: String, _ arguments: [String], cwd: String? = nil, environment: [String: String] = [:]
) async throws -> ProcessResult {
    let result = try await run(executable, arguments, cwd: cwd, environment: environment)
    guard result.status == 0 else { throw TestError("helper command failed: \(result)") }
    return result
}

// MARK: - Temporary folders

/// A temporary folder for one test, removed when the test ends (see `withSandbox`).
final class Sandbox: Sendable {
    let root: String

    init() throws {
        root = temporaryBase + "/mlpack-e2e-" + UUID().uuidString.lowercased()
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// An absolute path inside the sandbox.
    func path(_ relative: String) -> String { relative.isEmpty ? root : root + "/" + relative }

    @discardableResult
    func write(_ relative: String, _ bytes: [UInt8], mode: UInt32 = 0o644) throws -> String {
        let full = path(relative)
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try writeBytes(full, bytes)
        guard chmod(full, mode_t(mode)) == 0 else { throw TestError("chmod \(full) failed") }
        return full
    }

    @discardableResult
    func write(_ relative: String, _ text: String, mode: UInt32 = 0o644) throws -> String {
        try write(relative, Array(text.utf8), mode: mode)
    }

    @discardableResult
    func mkdir(_ relative: String) throws -> String {
        try FileManager.default.createDirectory(atPath: path(relative), withIntermediateDirectories: true)
        return path(relative)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }
}

/// Runs `body` with a fresh sandbox and removes it afterwards, whatever happens.
func withSandbox<T>(_ body: (Sandbox) async throws -> T) async throws -> T {
    let sandbox = try Sandbox()
    defer { sandbox.remove() }
    return try await body(sandbox)
}

// MARK: - Files

struct FileInfo: Equatable {
    enum Kind: String { case file, directory, symlink, other }
    var kind: Kind
    var mode: UInt32
    var size: UInt64
    var inode: UInt64
    var links: UInt64
}

func fileInfo(_ path: String) -> FileInfo? {
    var st = stat()
    guard lstat(path, &st) == 0 else { return nil }
    let kind: FileInfo.Kind
    switch st.st_mode & S_IFMT {
    case S_IFREG: kind = .file
    case S_IFDIR: kind = .directory
    case S_IFLNK: kind = .symlink
    default: kind = .other
    }
    return FileInfo(
        kind: kind, mode: UInt32(st.st_mode & 0o7777), size: UInt64(st.st_size), inode: UInt64(st.st_ino),
        links: UInt64(st.st_nlink))
}

/// Every file below `directory`, as relative path → bytes (a symlink or other non-regular
/// entry appears with a marker instead of bytes, so a test notices it).
func filesBelow(_ directory: String) throws -> [String: [UInt8]] {
    var out: [String: [UInt8]] = [:]
    for (relative, entry) in treeListing(directory) where entry != "d" {
        out[relative] = entry.hasPrefix("f ") ? try readBytes(directory + "/" + relative) : Array("<\(entry)>".utf8)
    }
    return out
}

/// A listing of everything below `directory` (never following links): relative path →
/// "d", "f <mode> <size>", "l -> <target>" or "o". Used to prove nothing else was written.
func treeListing(_ directory: String) -> [String: String] {
    var out: [String: String] = [:]
    func walk(_ relative: String) {
        let full = relative.isEmpty ? directory : directory + "/" + relative
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: full) else { return }
        for name in names {
            let child = relative.isEmpty ? name : relative + "/" + name
            guard let info = fileInfo(directory + "/" + child) else { continue }
            switch info.kind {
            case .directory:
                out[child] = "d"
                walk(child)
            case .file: out[child] = "f \(String(info.mode, radix: 8)) \(info.size)"
            case .symlink:
                let target =
                    (try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + child)) ?? "?"
                out[child] = "l -> \(target)"
            case .other: out[child] = "o"
            }
        }
    }
    walk("")
    return out
}

/// Deterministic, incompressible-looking bytes (a fixed xorshift generator).
func pseudoRandomBytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed == 0 ? 1 : seed
    var out = [UInt8]()
    out.reserveCapacity(count + 8)
    while out.count < count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        withUnsafeBytes(of: state.littleEndian) { out += $0.prefix(count - out.count) }
    }
    return out
}

/// `sha256sum FILE`'s digest.
func sha256sum(_ path: String) async throws -> String {
    let result = try await must("sha256sum", [path])
    guard let digest = result.out.split(separator: " ").first, digest.count == 64 else {
        throw TestError("unexpected sha256sum output: \(result)")
    }
    return String(digest)
}

// MARK: - A small project and its pack

struct SourceFile: Sendable {
    var path: String
    var bytes: [UInt8]
    var mode: UInt32

    init(_ path: String, _ text: String, mode: UInt32 = 0o644) {
        self.path = path
        self.bytes = Array(text.utf8)
        self.mode = mode
    }

    init(_ path: String, bytes: [UInt8], mode: UInt32 = 0o644) {
        self.path = path
        self.bytes = bytes
        self.mode = mode
    }
}

struct Project {
    /// Absolute path of the project folder.
    var directory: String
    var files: [SourceFile]

    func file(_ path: String) -> SourceFile? { files.first { $0.path == path } }
}

enum Fixture {
    static let netPy = "import math\n\n\ndef forward(x):\n    return math.tanh(2.0 * x)\n"

    /// A tiny training project: an executable script, modules, a config, an empty file and
    /// two files with identical content (stored once, as a tar hard link).
    static let defaultFiles: [SourceFile] = [
        SourceFile(
            "train.py", "#!/usr/bin/env python3\nfrom model.net import forward\nprint(forward(0.5))\n", mode: 0o755),
        SourceFile("model/__init__.py", ""),
        SourceFile("model/net.py", netPy),
        SourceFile("utils/net_copy.py", netPy),
        SourceFile("configs/base.yaml", "lr: 0.1\nepochs: 3\nseed: 7\n"),
        SourceFile("README.md", "# tiny project\n\nTrains nothing, fast.\n"),
    ]

    static let created = "2026-01-02T03:04:05Z"
    static let createdEpoch: Int64 = 1_767_323_045
}

/// Writes a project folder into the sandbox.
@discardableResult
func makeProject(
    in sandbox: Sandbox, at relative: String = "project", files: [SourceFile] = Fixture.defaultFiles
) throws -> Project {
    try sandbox.mkdir(relative)
    for file in files { try sandbox.write(relative + "/" + file.path, file.bytes, mode: file.mode) }
    return Project(directory: sandbox.path(relative), files: files)
}

/// Writes a small weights file (4 KiB of pseudo-random bytes by default) and returns its path.
@discardableResult
func makeWeights(
    in sandbox: Sandbox, at relative: String = "weights.safetensors", size: Int = 4096, seed: UInt64 = 42
) throws -> String {
    try sandbox.write(relative, pseudoRandomBytes(size, seed: seed))
}

/// Runs `mlpack create … --unsigned` and requires it to succeed; returns the pack's path.
@discardableResult
func makePack(
    in sandbox: Sandbox, output: String = "demo.mlpack", name: String? = "demo", code: String? = nil,
    weights: [String] = [], created: String? = Fixture.created, title: String? = nil, extra: [String] = [],
    environment: [String: String] = [:]
) async throws -> String {
    let path = sandbox.path(output)
    var arguments = ["create", "--output", path, "--unsigned"]
    if let code { arguments += ["--code", code] }
    for weight in weights { arguments += ["--weights", weight] }
    if let name { arguments += ["--name", name] }
    if let created { arguments += ["--created", created] }
    if let title { arguments += ["--title", title] }
    arguments += extra
    let result = try await mlpack(arguments, cwd: sandbox.root, environment: environment)
    guard result.status == 0, exists(path) else { throw TestError("mlpack create failed: \(result)") }
    return path
}

/// The default project plus a 4 KiB weights file, packed as `demo.mlpack` named "demo":
/// 9 items (6 code files, the snapshot descriptor, the card, the weights), plus the
/// environment capture every pack holds (`EnvironmentItems.count` more, below `env/`).
func makeStandardPack(
    in sandbox: Sandbox, output: String = "demo.mlpack", title: String? = "Tiny demo"
) async throws -> (pack: String, project: Project, weights: String) {
    let project = try makeProject(in: sandbox)
    let weights = try makeWeights(in: sandbox)
    let pack = try await makePack(
        in: sandbox, output: output, code: project.directory, weights: [weights], title: title)
    return (pack, project, weights)
}

/// The default project packed as `demo.mlpack` named "demo", signed with a new unencrypted
/// key at `<sandbox>/author` (`.key`, `.pub`); returns the pack and the key's base path.
func makeSignedPack(in sandbox: Sandbox) async throws -> (pack: String, key: String) {
    let key = sandbox.path("author")
    try await must(try Repo.mlpackBinary(), ["key", "generate", "--output", key, "--unencrypted"])
    let project = try makeProject(in: sandbox)
    let pack = sandbox.path("demo.mlpack")
    try await must(
        try Repo.mlpackBinary(),
        ["create", "--output", pack, "--code", project.directory, "--name", "demo", "--key", key + ".key"])
    return (pack, key)
}

// MARK: - The environment capture in every pack

/// Checks that a pack lists exactly the environment items a pack made on this machine
/// holds: one `env/<12 hex>/` folder, named after the first 12 hex digits of its
/// platform.json's SHA-256, with `EnvironmentItems.expected`'s files and roles.
func expectEnvironmentItems(_ report: InspectJSON, sourceLocation: SourceLocation = #_sourceLocation) {
    expectEnvironmentItems(report.files.map { ($0.path, $0.role, $0.sha256) }, sourceLocation: sourceLocation)
}

// MARK: - Looking inside packs with standard tools

struct TarMember: Decodable, Equatable {
    var name: String
    var type: String
    var mode: UInt32
    var uid: Int
    var gid: Int
    var uname: String
    var gname: String
    var mtime: Double
    var size: UInt64
    var linkname: String
    /// SHA-256 of the member's data ("" for non-regular members).
    var sha256: String
    /// Offset of the member's header in the uncompressed tar stream.
    var offset: UInt64

    var isHardlink: Bool { type == "1" }
    var isRegular: Bool { type == "0" }
}

private let tarDumpScript = #"""
    import hashlib, io, json, subprocess, sys, tarfile
    data = subprocess.run(["zstd", "-q", "-dc", sys.argv[1]], check=True, stdout=subprocess.PIPE).stdout
    members = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for m in tar.getmembers():
            payload = tar.extractfile(m).read() if m.isreg() else None
            members.append(dict(
                name=m.name, type=m.type.decode("latin-1"), mode=m.mode, uid=m.uid, gid=m.gid,
                uname=m.uname, gname=m.gname, mtime=m.mtime, size=m.size, linkname=m.linkname,
                sha256=hashlib.sha256(payload).hexdigest() if payload is not None else "",
                offset=m.offset))
    json.dump(members, sys.stdout)
    """#

/// The tar members of a pack, read with `zstd -dc` and Python's tarfile.
func tarMembers(_ pack: String) async throws -> [TarMember] {
    let result = try await must("python3", ["-c", tarDumpScript, pack])
    return try JSONDecoder().decode([TarMember].self, from: result.stdout)
}

/// Runs fixtures/tools/tamper.py: `tamper(["flip", "--name", "{top}/data/pack.json"], pack: p, output: q)`.
func tamper(_ arguments: [String], pack: String, output: String) async throws {
    guard let command = arguments.first else { throw TestError("tamper: no subcommand") }
    try await must("python3", [Repo.tamperScript, command, pack, output] + arguments.dropFirst())
}

/// Where a pack's zstd data frames end: the offset of the trailing skippable frame that holds
/// the seek index (mlpack's footer is `u32 json length, u32 version, "MLPKINDX"`).
func dataFramesEnd(of pack: [UInt8]) throws -> Int {
    guard pack.count > 24, Array(pack.suffix(8)) == Array("MLPKINDX".utf8) else {
        throw TestError("the pack has no mlpack seek-index footer")
    }
    let footer = pack.count - 16
    let jsonLength = (0..<4).reduce(0) { $0 | Int(pack[footer + $1]) << (8 * $1) }
    return pack.count - 16 - jsonLength - 8
}

/// One decoded disclosure: `[salt, path, role, size, sha256, mode]` (spec/FORMAT.md §5.2).
struct DisclosedItem {
    var path: String
    var role: String
    var size: UInt64
    var sha256: String
    var mode: UInt32
}

/// Reads `mlpack/disclosures.json` as a standard tool would: base64url, then JSON.
func readDisclosures(_ path: String) throws -> [String: DisclosedItem] {
    let object = try JSONSerialization.jsonObject(with: Data(readBytes(path))) as? [String: Any]
    guard let encoded = object?["disclosures"] as? [String] else { throw TestError("\(path): no disclosures array") }
    var out: [String: DisclosedItem] = [:]
    for text in encoded {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
            let fields = try JSONSerialization.jsonObject(with: data) as? [Any], fields.count == 6,
            let itemPath = fields[1] as? String, let role = fields[2] as? String, let size = fields[3] as? Int,
            let sha256 = fields[4] as? String, let mode = fields[5] as? Int
        else { throw TestError("\(path): undecodable disclosure \(text)") }
        out[itemPath] = DisclosedItem(
            path: itemPath, role: role, size: UInt64(size), sha256: sha256, mode: UInt32(mode))
    }
    return out
}

// MARK: - mlpack's JSON output

struct InspectJSON: Decodable {
    struct RoleSummary: Decodable {
        var role: String
        var items: Int
        var bytes: UInt64
    }

    struct File: Decodable {
        var path: String
        var role: String
        var size: UInt64
        var sha256: String
    }

    var pack: String
    var name: String
    var packId: String
    var created: String
    var title: String?
    var signer: String
    var items: Int
    var withheld: Int
    var payloadBytes: UInt64
    var packBytes: UInt64?
    var roles: [RoleSummary]
    var files: [File]
    var readThrough: String
    var warnings: [String]
}

struct ExtractJSON: Decodable {
    var files: Int
    var bytes: UInt64
    var withheld: Int
    var readThrough: String
}

func decodeJSON<T: Decodable>(_ type: T.Type, _ result: ProcessResult) throws -> T {
    do { return try JSONDecoder().decode(type, from: result.stdout) } catch {
        throw TestError("cannot decode \(T.self) from the output of \(result): \(error)")
    }
}

/// `mlpack inspect --json`, required to succeed.
func inspectJSON(_ pack: String, cwd: String? = nil) async throws -> InspectJSON {
    let result = try await mlpack(["inspect", pack, "--json"], cwd: cwd)
    guard result.status == 0 else { throw TestError("mlpack inspect failed: \(result)") }
    return try decodeJSON(InspectJSON.self, result)
}

/// The code snapshot folder of a pack, e.g. "code/3f2a9c1b0e4d", from `inspect --json`.
func codeSnapshot(of report: InspectJSON) throws -> String {
    let snapshots = Set(
        report.files.filter { $0.role == "code-snapshot" }.map { String($0.path.dropLast(".json".count)) })
    guard snapshots.count == 1, let snapshot = snapshots.first else {
        throw TestError("expected one code snapshot, found \(snapshots.sorted())")
    }
    return snapshot
}
