import Foundation
import Testing

@testable import MLPack

/// `RunRecorder` in this process: one at a time, since it owns the process's signal handlers
/// while a command runs.
@Suite("run: recording in a project outside git", .serialized)
struct RunRecorderTests {
    static func makeProject(in dir: TempDir) throws -> String {
        try dir.write("p/train.py", "print('train')\n")
        try dir.write("p/lib/util.py", "X = 1\n", executable: true)
        try dir.write("p/data.csv", "a,b\n1,2\n")
        try dir.write("p/__pycache__/train.cpython-312.pyc", [1, 2])
        try dir.write("p/.venv/pyvenv.cfg", "home = /usr/bin\n")
        return dir.path("p")
    }

    @Test("a failing command: status, code objects, inputs, outputs, environment, saved record")
    func failedRun() throws {
        try withTemporaryDirectory { dir in
            let project = try Self.makeProject(in: dir)
            var warnings: [String] = []
            let request = RunRequest(
                command: ["/bin/sh", "-c", "cat data.csv > copy.csv; exit 3"], inputs: ["data.csv"], name: "first",
                workingDirectory: project)
            let outcome = try RunRecorder.run(request) { warnings.append($0.description) }
            #expect(outcome.termination == .exited(3))
            let run = try outcome.record.get()
            #expect(warnings.isEmpty, "\(warnings)")
            #expect(run.status == .failed && run.exitCode == 3 && run.signal == nil && run.name == "first")
            #expect(outcome.store.projectRoot == RunFiles.realPath(project))
            // Outside git: every file but caches and environments, executables marked.
            #expect(run.code.files.map(\.path) == ["data.csv", "lib/util.py", "train.py"])
            #expect(run.code.files.map(\.mode) == [0o644, 0o755, 0o644])
            #expect(run.code.git == nil)
            for file in run.code.files {
                #expect(try outcome.store.object(file.sha256) == dir.read("p/" + file.path))
            }
            let listing = Listing.sha256sum(run.code.files.map { ($0.path, $0.sha256) })
            #expect(run.code.treeDigest == SHA256Hasher.hex(listing))
            // Outside git data.csv is in the snapshot too: declared with -i, it is code, not a
            // data input no reviewer could fetch.
            #expect(run.inputs.isEmpty, "\(run.inputs)")
            #expect(run.outputs.map(\.path) == ["copy.csv"])
            #expect(run.outputs.first?.sha256 == SHA256Hasher.hex(Array("a,b\n1,2\n".utf8)))
            #expect(
                FileManager.default.fileExists(atPath: outcome.store.root + "/env/\(run.environment)/platform.json"))
            #expect(try outcome.store.runs() == [run])
            #expect(try outcome.store.run(String(run.id.prefix(18))) == run)
        }
    }

    @Test("a killed command, and lineage to the run that wrote an input")
    func killedRunAndLineage() throws {
        try withTemporaryDirectory { dir in
            let project = try Self.makeProject(in: dir)
            // A folder the snapshot leaves out: a declared folder of code would be code.
            try dir.write("p/.mlpackignore", "shards\n")
            try dir.write("p/shards/util.py", "X = 1\n")
            let writer = try RunRecorder.run(
                RunRequest(command: ["/bin/sh", "-c", "echo w > model.bin"], workingDirectory: project)
            ) { _ in }
            let killed = try RunRecorder.run(
                RunRequest(
                    command: ["/bin/sh", "-c", "kill -KILL $$"], inputs: ["model.bin", "shards"],
                    workingDirectory: project
                )
            ) { _ in }
            #expect(killed.termination == .signaled(SIGKILL))
            let run = try killed.record.get()
            #expect(run.status == .killed && run.exitCode == nil && run.signal == SIGKILL)
            #expect(run.inputs.first { $0.path == "model.bin" }?.producedBy == (try writer.record.get().id))
            let folder = try #require(run.inputs.first { $0.path == "shards" })
            #expect(folder.kind == .directory && folder.fileCount == 1 && folder.producedBy == nil)
            let listing = try killed.store.object(folder.sha256)
            #expect(try ListingParser.parse(listing, what: "shards").map(\.relativePath) == ["util.py"])
        }
    }

    @Test("nothing is recorded when the command cannot start or an input is missing")
    func nothingRecorded() throws {
        try withTemporaryDirectory { dir in
            let project = try Self.makeProject(in: dir)
            #expect(
                throws: MLPackError.cannotRun(program: "no-such-program-xyz", reason: "command not found", status: 127)
            ) {
                try RunRecorder.run(RunRequest(command: ["no-such-program-xyz"], workingDirectory: project)) { _ in }
            }
            #expect(throws: MLPackError.self) {
                try RunRecorder.run(RunRequest(command: ["true"], inputs: ["missing.csv"], workingDirectory: project)) {
                    _ in
                }
            }
            #expect(throws: MLPackError.self) {
                try RunRecorder.run(RunRequest(command: [], workingDirectory: project)) { _ in }
            }
            #expect(try RunStore(projectRoot: project).runs().isEmpty)
        }
    }
}
