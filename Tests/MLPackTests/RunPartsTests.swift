import Foundation
import Testing

@testable import MLPack

@Suite("run: ids, times, lineage, variables, programs")
struct RunPartsTests {
    @Test("ids sort by UTC start time; times are RFC 3339 with milliseconds")
    func idsAndTimes() {
        let date = Date(timeIntervalSince1970: 1_795_827_235.0795)
        let id = RunClock.id(started: date)
        #expect(id.hasPrefix("20261128T005355Z-") && id.count == 23, "\(id)")
        #expect(id.suffix(6).allSatisfy { "0123456789abcdef".contains($0) })
        #expect(RunRecord.isValidId(id))
        #expect(RunClock.timestamp(date) == "2026-11-28T00:53:55.079Z")
        #expect(RunClock.timestamp(Date(timeIntervalSince1970: 0.5)) == "1970-01-01T00:00:00.500Z")
        #expect(
            RunClock.date("2026-11-28T00:53:55.079Z").map { ($0.timeIntervalSince1970 * 1000).rounded() }
                == 1_795_827_235_079)
    }

    static func run(_ id: String, outputs: [String]) -> RunRecord {
        RunRecord(
            id: id, name: nil, argv: ["true"], workingDirectory: ".", started: "", ended: "", status: .succeeded,
            exitCode: 0, signal: nil,
            code: .init(treeDigest: "", files: [], git: nil), environment: "", setVariables: [:], inputs: [],
            outputs: outputs.map { .init(path: "out", kind: .file, sha256: $0, size: 1) }, metrics: nil)
    }

    @Test("an input is linked to the newest run that wrote its content")
    func lineageByContent() {
        let runs = [Self.run("a", outputs: ["1", "2"]), Self.run("b", outputs: ["2"]), Self.run("c", outputs: ["3"])]
        var inputs: [RunRecord.FileRecord] = ["1", "2", "4"].map { .init(path: "in", kind: .file, sha256: $0, size: 1) }
        RunFiles.linkProducers(
            &inputs,
            runs: runs.map { run in
                RunOutputs(
                    id: run.id, started: run.started,
                    outputs: run.outputs.map { .init(path: $0.path, sha256: $0.sha256) })
            })
        #expect(inputs.map(\.producedBy) == ["a", "b", nil])
    }

    @Test("paths inside the project are relative, others absolute")
    func recordedPaths() {
        #expect(RunFiles.recordedPath("/p/data/x.csv", projectRoot: "/p") == "data/x.csv")
        #expect(RunFiles.recordedPath("/p", projectRoot: "/p") == ".")
        #expect(RunFiles.recordedPath("/pp/x", projectRoot: "/p") == "/pp/x")
        #expect(RunFiles.recordedPath("/x", projectRoot: "/") == "x")
    }

    @Test("--deterministic sets its variables, but keeps a value the user chose")
    func determinism() {
        var environment = ["PYTHONHASHSEED": "42", "PATH": "/bin"]
        let set = Determinism.apply(to: &environment)
        #expect(set["PYTHONHASHSEED"] == "42" && environment["PYTHONHASHSEED"] == "42")
        #expect(set["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8" && environment["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8")
        #expect(Set(set.keys) == Set(Determinism.variables.keys))
        #expect(environment["PATH"] == "/bin")
        // Every one of them is recorded by the environment capture's allow-list too.
        #expect(Determinism.variables.keys.allSatisfy { EnvironmentVariables.filter([$0: "1"]).count == 1 })
    }

    @Test("programs are found as a shell finds them: 127 for nothing to run, 126 for something that cannot run")
    func resolvingPrograms() throws {
        try withTemporaryDirectory { dir in
            let bin = try dir.makeDirectory("bin")
            try dir.write("bin/tool", "#!/bin/sh\n", executable: true)
            try dir.write("bin/plain", "data\n")
            try dir.write("work/run.sh", "echo\n", executable: true)
            let work = dir.path("work")
            #expect(try ChildProcess.resolve("tool", in: work, path: "/nonexistent:" + bin) == bin + "/tool")
            #expect(try ChildProcess.resolve("./run.sh", in: work, path: bin) == work + "/./run.sh")
            #expect(
                try ChildProcess.resolve("run.sh", in: work, path: "") == work + "/./run.sh",
                "an empty PATH entry is the folder")
            for (program, status) in [
                ("nothing-here", 127), ("plain", 126), ("./missing.sh", 127), ("../bin", 126), ("../bin/plain", 126),
            ] {
                #expect(throws: MLPackError.self) { try ChildProcess.resolve(program, in: work, path: bin) }
                do { _ = try ChildProcess.resolve(program, in: work, path: bin) } catch let error as MLPackError {
                    guard case .cannotRun(_, _, let got) = error else { Issue.record("\(error)"); continue }
                    #expect(got == Int32(status), "\(program): \(error)")
                }
            }
        }
    }

    @Test(
        "the environment records the command's own Python when it runs one",
        arguments: [
            ("python3", true), ("python", true), ("python3.12", true), (".venv/bin/python", true),
            ("pythonista", false), ("sh", false),
        ])
    func interpreter(program: String, isPython: Bool) {
        #expect((RunRecorder.interpreter(program: program, executable: "/x/" + program) != nil) == isPython)
    }
}
