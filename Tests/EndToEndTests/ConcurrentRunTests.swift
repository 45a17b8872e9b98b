import Foundation
import TestSupport
import Testing

/// Two `mlpack run`s at once in one project: each claims only the outputs it wrote (traced),
/// or, without tracing, neither claims a file another run may have written (issue 16).
@Suite("Concurrent runs")
struct ConcurrentRunTests {
    /// Each command waits for the other's file, so the two runs overlap whatever the timing.
    static let first = "echo b > b.txt; while [ ! -f a.txt ]; do sleep 0.05; done"
    static let second = "while [ ! -f b.txt ]; do sleep 0.05; done; echo a > a.txt"

    static func record(_ id: String?, in project: String) async throws -> [String: Any] {
        let shown = try await mlpack(["runs", "show", try #require(id), "--json"], cwd: project)
        #expect(shown.status == 0, "\(shown)")
        return try #require(try JSONSerialization.jsonObject(with: shown.stdout) as? [String: Any])
    }

    static func outputs(_ record: [String: Any]) -> [String] {
        (record["outputs"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
    }

    static func runBoth(options: [String], in project: String) async throws -> [(ProcessResult, [String: Any])] {
        async let b = RunTests.record(["sh", "-c", first], options: options, in: project)
        async let a = RunTests.record(["sh", "-c", second], options: options, in: project)
        var results: [(ProcessResult, [String: Any])] = []
        for (result, id) in [try await b, try await a] {
            #expect(result.status == 0, "\(result)")
            results.append((result, try await record(id, in: project)))
        }
        return results
    }

    @Test(
        "traced: each of two overlapping runs claims only the file its own command wrote",
        .enabled(if: RunTests.hasStrace, "strace is not installed (scripts/setup.sh installs it)"),
        arguments: [[], ["--trace=ptrace"]])
    func tracedRunsClaimTheirOwn(options: [String]) async throws {
        try await withSandbox { box in
            let project = try await RunTests.makeRepository(in: box)
            let runs = try await Self.runBoth(options: options, in: project)
            #expect(Self.outputs(runs[0].1) == ["b.txt"], "\(runs[0].1)")
            #expect(Self.outputs(runs[1].1) == ["a.txt"], "\(runs[1].1)")
            // a.txt changed while the first ran (the second may have started after b.txt was there).
            #expect(runs[0].1["unclaimed"] as? [String] == ["a.txt"], "\(runs[0].1)")
        }
    }

    @Test("without tracing, two overlapping runs claim neither file, record them as unclaimed and say why")
    func untracedRunsAreAmbiguous() async throws {
        try await withSandbox { box in
            let project = try await RunTests.makeRepository(in: box)
            let runs = try await Self.runBoth(options: ["--no-trace"], in: project)
            for (result, record) in runs {
                #expect(Self.outputs(record) == [], "\(record)")
                #expect(result.err.contains("ambiguous: another run of this project was active"), "\(result)")
            }
            // The first saw both files change; the second may have started after b.txt was there.
            #expect(runs[0].1["unclaimed"] as? [String] == ["a.txt", "b.txt"], "\(runs[0].1)")
            #expect((runs[1].1["unclaimed"] as? [String])?.contains("a.txt") == true, "\(runs[1].1)")
            // Alone, a run claims what changed as before; no run is left marked as active.
            let (alone, id) = try await RunTests.record(
                ["sh", "-c", "echo c > c.txt"], options: ["--no-trace"], in: project)
            #expect(!alone.err.contains("ambiguous"), "\(alone)")
            let record = try await Self.record(id, in: project)
            #expect(Self.outputs(record) == ["c.txt"])
            #expect(record["unclaimed"] == nil)
            #expect(try FileManager.default.contentsOfDirectory(atPath: project + "/.mlpack/active") == [])
        }
    }
}
