import Foundation
import Testing

@testable import MLPack

/// How mlpack reads what a sandboxed run left: never through a link, and measured as it lies on disk.
@Suite("Reading a run's workspace")
struct WorkspaceReadingTests {
    @Test("openBeneath opens regular files only, and no link at the end or in the middle of the path")
    func openBeneath() throws {
        try withTemporaryDirectory { dir in
            let host = try dir.write("host/secret.json", "{\"leaked\": 1}")
            _ = try dir.write("ws/project/out/metrics.json", "{\"loss\": 1}")
            _ = try dir.makeDirectory("ws/project/folder")
            try dir.symlink("ws/project/linked", to: dir.path("host"))
            try dir.symlink("ws/project/leaf.json", to: host)
            #expect(mkfifo(dir.path("ws/project/fifo"), 0o600) == 0)
            let root = dir.path("ws")

            let opened = PosixFile.openBeneath(root, "project/out/metrics.json")
            #expect(try opened.file.map { try $0.read(at: 0, count: 64) } == Array("{\"loss\": 1}".utf8))
            #expect(
                try opened.file.map { try Array(Data(contentsOf: URL(fileURLWithPath: $0.openedPath))) }
                    == Array("{\"loss\": 1}".utf8))
            for (path, problem) in [
                ("project/linked/secret.json", "linked is a link or not a folder"),
                ("project/leaf.json", "not a regular file"),
                ("project/fifo", "not a regular file"), ("project/folder", "not a regular file"),
                ("project/absent", "no such file"),
                ("project/../ws/project/out/metrics.json", "not a path below"),
            ] {
                let result = PosixFile.openBeneath(root, path)
                #expect(result.file == nil, "\(path)")
                #expect(result.problem?.hasPrefix(problem) == true, "\(path): \(result.problem ?? "")")
            }
        }
    }

    @Test("diskUsage counts allocated blocks (not a sparse file's size), and refuses to descend without end")
    func diskUsage() throws {
        try withTemporaryDirectory { dir in
            _ = try dir.write("tree/a/b/data.bin", [UInt8](repeating: 7, count: 1 << 20))
            let sparse = try dir.write("tree/sparse.bin", [])
            #expect(truncate(sparse, 1 << 30) == 0)
            try dir.symlink("tree/link", to: "/usr")
            let usage = FileSystem.diskUsage(dir.path("tree"))
            #expect(usage >= 1 << 20 && usage < 4 << 20, "\(usage)")

            var deep = dir.path("deep")
            for _ in 0..<5 { deep += "/d" }
            try FileManager.default.createDirectory(atPath: deep, withIntermediateDirectories: true)
            #expect(FileSystem.diskUsage(dir.path("deep"), maxDepth: 3) == UInt64.max)
            #expect(FileSystem.diskUsage(dir.path("deep"), maxDepth: 10) < UInt64.max)
        }
    }

    @Test(
        "sizes as people write them",
        arguments: [
            ("4096", UInt64(4096)), ("20G", 20 << 30), ("512M", 512 << 20), ("1.5g", 3 << 29), ("64KiB", 64 << 10),
            ("2TB", 2 << 40),
        ])
    func sizes(text: String, bytes: UInt64) {
        #expect(ByteCount.parse(text) == bytes)
    }

    @Test("a message names inputs as data: the library words them, a caller spells them its own way")
    func messageInputs() {
        let inner: Message = "\(input: .code) /x: not a directory"
        let outer: Message = "cannot pack: \(inner) (use \(input: .force))"
        #expect(outer.description == "cannot pack: the code folder /x: not a directory (use the force option)")
        #expect(outer.rendered { "--\($0)" } == "cannot pack: --code /x: not a directory (use --force)")
        #expect(outer == "cannot pack: \(input: .code) /x: not a directory (use \(input: .force))", "text parts merge")
        #expect(MLPackError.usage(inner).message == inner)
    }

    @Test("not sizes", arguments: ["", "G", "-1M", "1X", "nan", "1e30G"])
    func notSizes(text: String) {
        #expect(ByteCount.parse(text) == nil)
    }
}
