import Foundation

/// Where `mlpack env diff` gets a capture from: `current` (this machine, now), a pack
/// (its `env/<id>/platform.json`, checked against its disclosure), or a JSON file saved
/// from `mlpack env --json`. A pack is told apart from JSON by its first bytes (zstd magic).
public enum EnvironmentSource {
    public static let currentMachine = "current"

    /// Loads the capture `source` names. A pack holding several captures needs one chosen
    /// as `PACK#ID` (an id prefix is enough when it is unambiguous). `python` is the
    /// interpreter `current` asks; when given, it must answer.
    public static func load(
        _ source: String, python: String? = nil, limits: ReaderLimits = .init()
    ) throws -> EnvironmentCapture {
        try loadWithHost(source, python: python, limits: limits).platform
    }

    /// `load`, with the host record when the source has one (`current`, a pack that did not
    /// withhold it, `mlpack env --json --private`'s file).
    static func loadWithHost(
        _ source: String, python: String? = nil, limits: ReaderLimits = .init()
    ) throws -> (platform: EnvironmentCapture, host: HostRecord?) {
        if source == currentMachine {
            let (platform, host) = EnvironmentCapture.capture(python: python)
            if let python, platform.python == nil {
                throw MLPackError.io(path: python, reason: "did not answer as a Python interpreter")
            }
            return (platform, host)
        }
        var path = source
        var wantedId: String?
        if FileSystem.status(source, followLinks: true) == nil, let hash = source.lastIndex(of: "#") {
            path = String(source[..<hash])
            wantedId = String(source[source.index(after: hash)...])
        }
        guard let status = FileSystem.status(path, followLinks: true) else {
            throw MLPackError.io(
                path: path,
                reason: "no such file (expected a pack, a JSON file from `mlpack env --json`, or \"current\")")
        }
        guard !status.isDirectory else {
            throw MLPackError.io(path: path, reason: "is a folder, not a pack or an environment JSON file")
        }
        let file = try PosixFile(path: path, mode: .read)
        let head = try file.read(at: 0, count: 4)
        if head.count == 4 && head.littleEndianUInt32(at: 0) == Zstd.frameMagic {
            let found = try fromPack(PackFile(path: path, limits: limits), id: wantedId)
            return (found.platform, found.host)
        }
        if wantedId != nil {
            throw MLPackError.io(path: path, reason: "not a pack, so it has no environment to choose by id")
        }
        let size = try fileSize(path)
        guard size <= UInt64(limits.maxMetadataBytes) else {
            throw MLPackError.limitExceeded(limit: "metadata-size", detail: "\(path) is \(size) bytes")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MLPackError.io(path: path, reason: "cannot read the file")
        }
        do { return (try EnvironmentCapture.decode(Array(data)), EnvironmentCapture.decodeHost(Array(data))) } catch {
            throw MLPackError.io(path: path, reason: "not an environment capture (\(describe(error)))")
        }
    }

    /// The pack's platform records, by environment id (the folder name under `env/`).
    static func fromPack(
        _ pack: PackFile, id wantedId: String?
    ) throws -> (platform: EnvironmentCapture, host: HostRecord?, id: String) {
        let path = pack.path
        let loaded = try PackItems.read(
            pack, where: { $0.hasPrefix("env/") && ($0.hasSuffix("/platform.json") || $0.hasSuffix("/host.json")) }
        ).items
        var captures: [String: [UInt8]] = [:]
        var hosts: [String: [UInt8]] = [:]
        for item in loaded {
            let folder = item.item.path.dropFirst("env/".count)
            if folder.hasSuffix("/host.json") {
                hosts[String(folder.dropLast("/host.json".count))] = item.bytes
            } else {
                captures[String(folder.dropLast("/platform.json".count))] = item.bytes
            }
        }
        let matching = captures.filter { wantedId == nil || $0.key.hasPrefix(wantedId!) }
        guard !captures.isEmpty else { throw MLPackError.usage("\(path): the pack holds no environment capture") }
        // Several runs on one machine share one capture; distinct records need a choice.
        let distinct = Set(matching.values)
        guard distinct.count == 1, let bytes = distinct.first, let id = matching.keys.sorted().first else {
            let ids = captures.keys.sorted().joined(separator: ", ")
            if matching.isEmpty {
                throw MLPackError.usage("\(path): no environment \(wantedId ?? "") in the pack (it holds \(ids))")
            }
            throw MLPackError.usage(
                "\(path): the pack holds \(captures.count) environment captures (\(ids)): name one as \(path)#ID")
        }
        let host = hosts[id].flatMap { try? JSONText.decode(HostRecord.self, from: $0) }
        do { return (try EnvironmentCapture.decode(bytes), host, id) } catch {
            throw MLPackError.integrity(
                entry: "data/env/\(id)/platform.json", problem: "not a valid environment capture (\(describe(error)))")
        }
    }

    private static func fileSize(_ path: String) throws -> UInt64 {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let size = attributes?[.size] as? NSNumber else {
            throw MLPackError.io(path: path, reason: "cannot read the file")
        }
        return size.uint64Value
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context), DecodingError.typeMismatch(_, let context),
            DecodingError.valueNotFound(_, let context):
            let at = context.codingPath.map(\.stringValue).joined(separator: ".")
            return at.isEmpty
                ? context.debugDescription.lowercased() : "\(at): \(context.debugDescription.lowercased())"
        case DecodingError.keyNotFound(let key, _): return "missing \(key.stringValue)"
        default: return "invalid JSON"
        }
    }
}
