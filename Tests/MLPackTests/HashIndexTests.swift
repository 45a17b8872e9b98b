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
}
