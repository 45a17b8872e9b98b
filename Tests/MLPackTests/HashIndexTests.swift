import Foundation
import TestSupport
import Testing

@testable import MLPack

@Suite("run: hashing once")
struct HashIndexTests {
    @Test("an unchanged file is not read again; a changed one is hashed again; the index survives a reload")
    func unchangedFilesAreNotRead() throws {
        try withTemporaryDirectory { folder in
            let file = try folder.write("data.bin", "first version\n")
            let index = HashIndex(path: folder.path("store/hash-index"))
            let first = try FileHashing.hash(file: file, index: index)
            #expect(first.sha256 == sha256Hex(Array("first version\n".utf8)))
            try index.save()

            // Plant another digest under the same stamp: what comes back proves the file was not read.
            let saved = try String(contentsOfFile: index.path, encoding: .utf8)
            let planted = saved.replacingOccurrences(of: first.sha256, with: String(repeating: "a", count: 64))
            try planted.write(toFile: index.path, atomically: true, encoding: .utf8)
            let reloaded = HashIndex(path: folder.path("store/hash-index"))
            #expect(try FileHashing.hash(file: file, index: reloaded).sha256 == String(repeating: "a", count: 64))

            // Same size, new bytes: the stamp changed, so the file is read.
            try "other version\n".write(toFile: file, atomically: false, encoding: .utf8)
            #expect(
                try FileHashing.hash(file: file, index: reloaded).sha256 == sha256Hex(Array("other version\n".utf8)))
        }
    }

    @Test("a damaged index is a cache miss, not an error")
    func damagedIndex() throws {
        try withTemporaryDirectory { folder in
            let file = try folder.write("data.bin", "bytes\n")
            try folder.write("hash-index", "garbage\n1\t2\t3\n\t\t\t\t\t\t\n")
            let index = HashIndex(path: folder.path("hash-index"))
            #expect(try FileHashing.hash(file: file, index: index).sha256 == sha256Hex(Array("bytes\n".utf8)))
        }
    }

    @Test("a folder whose files keep their names and stamps is not hashed again; one changed file is")
    func unchangedFolderIsNotHashedAgain() throws {
        try withTemporaryDirectory { folder in
            for i in 0..<5 { try folder.write("data/f\(i).txt", "file \(i)\n") }
            let store = RunStore(projectRoot: folder.path("project"))
            let index = HashIndex(store: store)
            let first = try RunFiles.directoryRecord(
                folder.path("data"), recorded: "data", store: store, index: index, warn: { _ in })
            #expect(first.fileCount == 5)

            // Plant another stored listing under the folder's fingerprint: what comes back
            // proves neither the files nor their listing were hashed.
            try index.save()
            let planted = try store.storeObject(bytes: Array("planted\n".utf8))
            let saved = try String(contentsOfFile: index.path, encoding: .utf8)
            #expect(saved.split(separator: "\n").filter { $0.hasPrefix("folder\t") }.count == 1)
            try saved.replacingOccurrences(of: first.sha256, with: planted).write(
                toFile: index.path, atomically: true, encoding: .utf8)
            let reloaded = HashIndex(store: store)
            let again = try RunFiles.directoryRecord(
                folder.path("data"), recorded: "data", store: store, index: reloaded, warn: { _ in })
            #expect(again.sha256 == planted && again.fileCount == 5)

            // The listing object gone from the store: hashed again, the true digest.
            try FileManager.default.removeItem(atPath: store.objectPath(planted))
            let rebuilt = try RunFiles.directoryRecord(
                folder.path("data"), recorded: "data", store: store, index: reloaded, warn: { _ in })
            #expect(rebuilt == first && store.hasObject(first.sha256))

            // One file changed (same size): a new digest.
            try "file X\n".write(toFile: folder.path("data/f2.txt"), atomically: false, encoding: .utf8)
            let changed = try RunFiles.directoryRecord(
                folder.path("data"), recorded: "data", store: store, index: reloaded, warn: { _ in })
            #expect(changed.sha256 != first.sha256 && changed.fileCount == 5)
        }
    }

    @Test("a snapshot lists a folder whole only when it saw every file below it")
    func snapshotListing() throws {
        try withTemporaryDirectory { dir in
            try dir.write("p/data/b.txt", "b")
            try dir.write("p/data/a/1.txt", "1")
            try dir.write("p/other/x.txt", "x")
            try dir.write("p/linked/real.txt", "r")
            try dir.symlink("p/linked/link.txt", to: "real.txt")
            let snapshot = TreeSnapshot.take(dir.path("p"))
            #expect(snapshot.listing(of: "data")?.map(\.path) == ["a/1.txt", "b.txt"])
            #expect(snapshot.listing(of: "linked") == nil)
            let listed = try #require(snapshot.listing(of: "data"))
            let walked = try RunFiles.directoryRecord(
                dir.path("p/data"), recorded: "data", store: RunStore(projectRoot: dir.path("p")), warn: { _ in })
            let fromListing = try RunFiles.directoryRecord(
                dir.path("p/data"), recorded: "data", store: RunStore(projectRoot: dir.path("p")), listed: listed,
                warn: { _ in })
            #expect(walked == fromListing)
        }
    }
}
