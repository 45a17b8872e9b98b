import Foundation
import TestSupport
import Testing

/// What the rebuild suites share: small git projects, runs recorded in them, packs made of them.
protocol RebuildSuite {}

extension RebuildSuite {
    /// A git project with `files`, committed.
    func project(in box: Sandbox, _ files: [String: String]) async throws -> String {
        let root = try box.mkdir("project")
        for (path, text) in files { try box.write("project/" + path, text) }
        for arguments in [
            ["init", "-q"], ["add", "-A"],
            ["-c", "user.name=T", "-c", "user.email=t@example.org", "commit", "-qm", "v1"],
        ] {
            try await must("git", arguments, cwd: root)
        }
        return root
    }

    func record(_ arguments: [String], in root: String) async throws {
        let result = try await mlpack(["run"] + arguments, cwd: root)
        guard result.status == 0 else { throw TestError("mlpack run: \(result)") }
    }

    func create(_ output: String, from root: String, of weights: String, _ extra: [String] = []) async throws {
        let result = try await mlpack(
            ["create", "--output", output, "--output-of", weights, "--unsigned"] + extra, cwd: root)
        guard result.status == 0 else { throw TestError("mlpack create: \(result)") }
    }

    func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(readBytes(path))) as? [String: Any])
    }

    /// The record of the project's only (or first) run, as JSON to edit the way an attacker
    /// would before `create --output-of`, saved again under its (possibly new) id.
    func editRecord(in root: String, _ edit: (inout [String: Any]) -> Void) throws {
        let folder = root + "/.mlpack/runs"
        let name = try #require(
            try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".json") }.sorted().first)
        var record = try json(folder + "/" + name)
        edit(&record)
        let id = try #require(record["id"] as? String)
        try FileManager.default.removeItem(atPath: folder + "/" + name)
        try writeBytes(
            folder + "/" + id + ".json",
            Array(try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])))
    }
}
