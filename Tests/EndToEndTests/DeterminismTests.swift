import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Same inputs and the same creation time give the same tar members and payload bytes
/// (spec/FORMAT.md §11); only the salted files may differ between two unsigned packs.
@Suite("Determinism")
struct DeterminismTests {
    /// The files that depend on the random salts of an unsigned pack.
    static let saltDependent: Set<String> = [
        "demo/mlpack/disclosures.json", "demo/mlpack/manifest.json", "demo/bag-info.txt", "demo/tagmanifest-sha256.txt",
    ]

    @Test("Two create runs with the same inputs and --created give identical data/ members, headers and bytes")
    func twoRunsGiveTheSameDataMembers() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box)
            let weights = try makeWeights(in: box)
            let first = try await makePack(
                in: box, output: "first.mlpack", code: project.directory, weights: [weights], title: "t")
            // Change every source's times between the runs: they must not leak into the pack.
            for path in project.files.map({ project.directory + "/" + $0.path }) + [weights] {
                var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
                #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
            }
            let second = try await makePack(
                in: box, output: "second-name.mlpack", code: project.directory, weights: [weights], title: "t")

            let a = try await tarMembers(first)
            let b = try await tarMembers(second)
            #expect(a.map(\.name) == b.map(\.name), "the two packs list different members")

            let dataA = a.filter { $0.name.hasPrefix("demo/data/") }
            let dataB = b.filter { $0.name.hasPrefix("demo/data/") }
            // The items and the RO-Crate view.
            #expect(withoutEnvironment(dataA.map(\.name)).count == project.files.count + 4)
            #expect(dataA.count == dataB.count)
            // Member by member (name, mode, uid/gid, uname/gname, mtime, size, type, linkname,
            // offset and payload digest), so a failure says which one differs.
            for (x, y) in zip(dataA, dataB) {
                #expect(x == y, "\(x.name) differs between two identical create runs:\n  \(x)\n  \(y)")
            }
            // Everything that does not depend on the salts is identical too.
            for (x, y) in zip(a, b) where !Self.saltDependent.contains(x.name) {
                #expect(x == y, "\(x.name) differs between the two runs")
            }
            // The salted files keep the same headers apart from the content.
            for (x, y) in zip(a, b) where Self.saltDependent.contains(x.name) {
                #expect(
                    x.name == y.name && x.mode == y.mode && x.mtime == y.mtime && x.uid == y.uid && x.type == y.type)
            }

            // The raw tar bytes of the payload (everything before bagit.txt) are identical.
            let tarA = try await must("zstd", ["-q", "-dc", first]).stdout
            let tarB = try await must("zstd", ["-q", "-dc", second]).stdout
            let payloadEnd = try #require(a.first { $0.name == "demo/bagit.txt" }?.offset)
            #expect(payloadEnd > 0)
            #expect(tarA.prefix(Int(payloadEnd)) == tarB.prefix(Int(payloadEnd)), "tar bytes of the payload differ")

            // Every header carries the --created time and no owner.
            for member in a {
                #expect(Int64(member.mtime) == Fixture.createdEpoch, "\(member.name): mtime \(member.mtime)")
                #expect(member.uid == 0 && member.gid == 0 && member.uname == "" && member.gname == "")
            }
        }
    }

    @Test("The pack does not record the local path of the code")
    func noLocalPathsInThePack() async throws {
        try await withSandbox { box in
            let (pack, _, _) = try await makeStandardPack(in: box)
            let tar = try await must("zstd", ["-q", "-dc", pack]).stdout
            let text = String(decoding: tar, as: UTF8.self)
            #expect(!text.contains(box.root), "the pack records the local path \(box.root)")
            #expect(!text.contains("/project"), "the pack records the local project folder")
        }
    }

    @Test("Without --created, SOURCE_DATE_EPOCH sets the creation time and every member's mtime")
    func sourceDateEpochIsHonoured() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box)
            let pack = try await makePack(
                in: box, code: project.directory, created: nil, environment: ["SOURCE_DATE_EPOCH": "1700000000"])
            let members = try await tarMembers(pack)
            #expect(!members.isEmpty)
            for member in members {
                #expect(Int64(member.mtime) == 1_700_000_000, "\(member.name): mtime \(member.mtime)")
            }
            let report = try await inspectJSON(pack)
            #expect(report.created == "2023-11-14T22:13:20Z")

            // A second run more than a second later gives the same data/ members.
            try await Task.sleep(for: .milliseconds(1100))
            let again = try await makePack(
                in: box, output: "again.mlpack", code: project.directory, created: nil,
                environment: ["SOURCE_DATE_EPOCH": "1700000000"])
            let data = { (m: [TarMember]) in m.filter { $0.name.hasPrefix("demo/data/") } }
            #expect(data(try await tarMembers(again)) == data(members))
        }
    }

    @Test("--created wins over SOURCE_DATE_EPOCH")
    func createdBeatsSourceDateEpoch() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box)
            let pack = try await makePack(
                in: box, code: project.directory, created: Fixture.created,
                environment: ["SOURCE_DATE_EPOCH": "1700000000"])
            for member in try await tarMembers(pack) {
                #expect(Int64(member.mtime) == Fixture.createdEpoch, "\(member.name): mtime \(member.mtime)")
            }
            #expect(try await inspectJSON(pack).created == Fixture.created)
        }
    }

    @Test("An invalid SOURCE_DATE_EPOCH is a usage error (exit 2)")
    func invalidSourceDateEpoch() async throws {
        try await withSandbox { box in
            let project = try makeProject(in: box)
            let result = try await mlpack(
                ["create", "--output", box.path("p.mlpack"), "--code", project.directory, "--unsigned"],
                environment: ["SOURCE_DATE_EPOCH": "yesterday"])
            #expect(result.status == 2, "\(result)")
            #expect(result.err.contains("SOURCE_DATE_EPOCH"), "\(result)")
            #expect(!exists(box.path("p.mlpack")))
        }
    }
}
