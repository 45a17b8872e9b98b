import Foundation
import TestSupport
import Testing

@testable import MLPack

@Suite("CodeSelection outside git")
struct CodeSelectionTests {
    /// A project with everything the default rules leave out.
    static func makeMessyProject(in dir: TempDir) throws -> String {
        let root = try dir.makeDirectory("proj")
        try dir.write("proj/train.py", "print('train')\n")
        try dir.write("proj/pkg/model.py", "class M: pass\n")
        try dir.write("proj/pkg/util.pyc", [0x42, 0x0d, 0x0d, 0x0a])
        try dir.write("proj/pkg/old.pyo", [0x42])
        try dir.write("proj/pkg/__pycache__/model.cpython-312.pyc", [1, 2, 3])
        try dir.write("proj/__pycache__/train.cpython-312.pyc", [1, 2, 3])
        try dir.write("proj/.venv/pyvenv.cfg", "home = /usr/bin\n")
        try dir.write("proj/.venv/lib/site.py", "x = 1\n")
        try dir.write("proj/venv/lib/site.py", "x = 1\n")
        try dir.write("proj/myenv/pyvenv.cfg", "home = /usr/bin\n")
        try dir.write("proj/myenv/lib/python3.12/site-packages/torch.py", "x = 1\n")
        try dir.write("proj/condaenv/conda-meta/history", "==> 2026 <==\n")
        try dir.write("proj/condaenv/lib/libfoo.py", "x = 1\n")
        try dir.write("proj/notebooks/.ipynb_checkpoints/explore-checkpoint.ipynb", "{}")
        try dir.write("proj/notebooks/explore.ipynb", "{\"cells\": []}")
        try dir.write("proj/.git/config", "[core]\n")
        try dir.write("proj/.mlpack/runs/1.json", "{}")
        try dir.write("proj/.hg/store", "x")
        try dir.write("proj/.svn/entries", "x")
        try dir.write("proj/.env.example", "KEY=\n")
        try dir.write("proj/data/conda-meta.txt", "a file named like conda-meta is fine\n")
        return root
    }

    static func paths(_ selection: CodeSelection) -> [String] { selection.files.map(\.relativePath) }

    @Test("the default skips")
    func defaultSkips() throws {
        try withTemporaryDirectory { dir in
            let root = try Self.makeMessyProject(in: dir)
            try #require(Git.workTree(at: root) == nil, "the temporary directory must not be inside a git work tree")
            let selection = try CodeSelection.select(directory: root, includes: [], excludes: [])
            #expect(
                Self.paths(selection) == [
                    ".env.example", "data/conda-meta.txt", "notebooks/explore.ipynb", "pkg/model.py", "train.py",
                ])
            #expect(selection.git == nil)
            #expect(selection.warnings.isEmpty)
            let train = try #require(selection.files.first { $0.relativePath == "train.py" })
            #expect(train.size == 15)
            #expect(train.executable == false)
            #expect(train.absolutePath.hasSuffix("/proj/train.py"))
        }
    }

    @Test("files named like secrets are left out with a warning, unless an include pattern names them")
    func secretFiles() throws {
        try withTemporaryDirectory { dir in
            let root = try dir.makeDirectory("proj")
            try dir.write("proj/train.py", "print('train')\n")
            try dir.write("proj/.env", "API_TOKEN=x\n")
            try dir.write("proj/keys/author.key", "untrusted comment: minisign secret key\n")
            try dir.write("proj/deploy/id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\n")
            let selection = try CodeSelection.select(directory: root, includes: [], excludes: [])
            #expect(Self.paths(selection) == ["train.py"])
            #expect(selection.warnings.count == 3, "\(selection.warnings)")
            #expect(selection.warnings.contains { $0.hasPrefix(".env: left out (named like a secret") })
            let included = try CodeSelection.select(directory: root, includes: [".env"], excludes: [])
            #expect(Self.paths(included) == [".env", "train.py"])
        }
    }

    @Test(".mlpackignore removes files: comments and blank lines are skipped")
    func ignoreFile() throws {
        try withTemporaryDirectory { dir in
            let root = try Self.makeMessyProject(in: dir)
            try dir.write("proj/secrets/key.pem", "-----BEGIN-----\n")
            try dir.write("proj/logs/run.log", "log\n")
            try dir.write("proj/configs/a.yaml", "a: 1\n")
            try dir.write("proj/configs/sub/b.yaml", "b: 1\n")
            try dir.write("proj/.mlpackignore", "# private things\n\nsecrets/\n*.log\n  configs/*.yaml  \n#train.py\n")
            let selection = try CodeSelection.select(directory: root, includes: [], excludes: [])
            #expect(
                Self.paths(selection) == [
                    ".env.example", ".mlpackignore", "configs/sub/b.yaml", "data/conda-meta.txt",
                    "notebooks/explore.ipynb",
                    "pkg/model.py", "train.py",
                ])
        }
    }

    @Test("includes add skipped files; excludes and .mlpackignore win over includes")
    func includesAndExcludes() throws {
        try withTemporaryDirectory { dir in
            let root = try Self.makeMessyProject(in: dir)
            let included = try CodeSelection.select(
                directory: root, includes: ["*.pyc", "notebooks/.ipynb_checkpoints"], excludes: [])
            #expect(
                Self.paths(included) == [
                    ".env.example", "__pycache__/train.cpython-312.pyc", "data/conda-meta.txt",
                    "notebooks/.ipynb_checkpoints/explore-checkpoint.ipynb", "notebooks/explore.ipynb",
                    "pkg/__pycache__/model.cpython-312.pyc", "pkg/model.py", "pkg/util.pyc", "train.py",
                ])
            let excluded = try CodeSelection.select(
                directory: root, includes: ["*.pyc"], excludes: ["__pycache__", "notebooks", "/train.py"])
            #expect(Self.paths(excluded) == [".env.example", "data/conda-meta.txt", "pkg/model.py", "pkg/util.pyc"])
            try dir.write("proj/.mlpackignore", "util.pyc\n")
            let ignored = try CodeSelection.select(directory: root, includes: ["pkg/util.pyc"], excludes: [])
            #expect(!Self.paths(ignored).contains("pkg/util.pyc"))
            // .git and .mlpack are never walked, even when included.
            let vcs = try CodeSelection.select(directory: root, includes: [".git", ".mlpack", "config"], excludes: [])
            #expect(!Self.paths(vcs).contains { $0.hasPrefix(".git/") || $0.hasPrefix(".mlpack/") })
        }
    }

    @Test("alsoSkip leaves out given absolute paths (the output, the weights)")
    func alsoSkip() throws {
        try withTemporaryDirectory { dir in
            let root = try Self.makeMessyProject(in: dir)
            let selection = try CodeSelection.select(
                directory: root, includes: [], excludes: [], alsoSkip: [root + "/train.py"])
            #expect(!Self.paths(selection).contains("train.py"))
            #expect(Self.paths(selection).contains("pkg/model.py"))
        }
    }

    @Test("executable files are marked executable")
    func executable() throws {
        try withTemporaryDirectory { dir in
            try dir.write("proj/run.sh", "#!/bin/sh\n", executable: true)
            try dir.write("proj/a.py", "x\n")
            let selection = try CodeSelection.select(directory: dir.path("proj"), includes: [], excludes: [])
            #expect(selection.files.map(\.executable) == [false, true])
        }
    }

    @Test("a symlink to a file inside is stored as a copy; one pointing outside is skipped")
    func symlinks() throws {
        try withTemporaryDirectory { dir in
            let root = try Self.makeMessyProject(in: dir)
            try dir.write("outside/secret.txt", "do not pack me\n")
            try dir.symlink("proj/link_to_train.py", to: "train.py")
            try dir.symlink("proj/pkg/link_up.py", to: "../train.py")
            try dir.symlink("proj/leak.txt", to: dir.path("outside/secret.txt"))
            try dir.symlink("proj/relative_leak.txt", to: "../outside/secret.txt")
            try dir.symlink("proj/dangling.txt", to: "missing.txt")
            let selection = try CodeSelection.select(directory: root, includes: [], excludes: [])
            let paths = Self.paths(selection)
            #expect(paths.contains("link_to_train.py"))
            #expect(paths.contains("pkg/link_up.py"))
            #expect(!paths.contains("leak.txt"))
            #expect(!paths.contains("relative_leak.txt"))
            #expect(!paths.contains("dangling.txt"))
            let link = try #require(selection.files.first { $0.relativePath == "link_to_train.py" })
            #expect(link.absolutePath.hasSuffix("/proj/train.py"), "the copy is read from the target")
            #expect(link.size == 15)
            #expect(selection.warnings.contains("link_to_train.py: symbolic link stored as a copy of train.py"))
            #expect(selection.warnings.contains("pkg/link_up.py: symbolic link stored as a copy of train.py"))
            #expect(
                selection.warnings.contains("leak.txt: symbolic link skipped (it points to a file that is not packed)"))
            #expect(
                selection.warnings.contains(
                    "relative_leak.txt: symbolic link skipped (it points to a file that is not packed)"))
            #expect(selection.warnings.count == 5)
        }
    }

    @Test("a symlinked code folder is resolved first")
    func symlinkedRoot() throws {
        try withTemporaryDirectory { dir in
            let root = try Self.makeMessyProject(in: dir)
            try dir.symlink("alias", to: root)
            try dir.symlink("proj/self_link.py", to: "train.py")
            let selection = try CodeSelection.select(directory: dir.path("alias"), includes: [], excludes: [])
            #expect(Self.paths(selection).contains("self_link.py"))
            #expect(selection.warnings == ["self_link.py: symbolic link stored as a copy of train.py"])
        }
    }

    @Test("an empty selection is a usage error")
    func empty() throws {
        try withTemporaryDirectory { dir in
            try dir.write("proj/__pycache__/a.cpython-312.pyc", [1])
            try dir.write("proj/b.pyc", [1])
            try dir.write("proj/.venv/pyvenv.cfg", "x")
            let error = expectMLPackError {
                _ = try CodeSelection.select(directory: dir.path("proj"), includes: [], excludes: [])
            }
            #expect(error == .usage("\(input: .code) \(dir.path("proj")): no files to pack"))
            #expect(error?.category == .usage)
            try dir.write("proj/c.py", "x")
            let allExcluded = expectMLPackError {
                _ = try CodeSelection.select(directory: dir.path("proj"), includes: [], excludes: ["*.py"])
            }
            #expect(allExcluded == .usage("\(input: .code) \(dir.path("proj")): no files to pack"))
            let emptyDir = try dir.makeDirectory("nothing")
            #expect(
                expectMLPackError { _ = try CodeSelection.select(directory: emptyDir, includes: [], excludes: []) }?
                    .category == .usage)
        }
    }

    @Test("a code path that is not a directory is a usage error")
    func notADirectory() throws {
        try withTemporaryDirectory { dir in
            let file = try dir.write("file.py", "x")
            #expect(
                expectMLPackError { _ = try CodeSelection.select(directory: file, includes: [], excludes: []) }
                    == .usage("\(input: .code) \(file): not a directory"))
            let missing = dir.path("missing")
            #expect(
                expectMLPackError { _ = try CodeSelection.select(directory: missing, includes: [], excludes: []) }
                    == .usage("\(input: .code) \(missing): not a directory"))
        }
    }

    @Test("walk lists files and symlinks, never following links into folders")
    func walk() throws {
        try withTemporaryDirectory { dir in
            try dir.write("w/a.txt", "a")
            try dir.write("w/sub/b.txt", "b")
            try dir.write("w/.git/HEAD", "ref")
            try dir.write("w/__pycache__/c.pyc", [1])
            try dir.symlink("w/loop", to: ".")
            #expect(
                try CodeSelection.walk(dir.path("w"), skipDefaults: true).sorted() == ["a.txt", "loop", "sub/b.txt"])
            #expect(
                try CodeSelection.walk(dir.path("w"), skipDefaults: false).sorted() == [
                    "__pycache__/c.pyc", "a.txt", "loop", "sub/b.txt",
                ])
        }
    }

    @Test("walk goes deep and wide: every file of a tree several levels and many folders big")
    func walkDeepTree() throws {
        try withTemporaryDirectory { dir in
            var expected: [String] = []
            for i in 0..<60 {
                let path = "d\(i % 6)/e\(i % 5)/f\(i % 2)/x\(i).txt"
                try dir.write("w/" + path, "\(i)")
                expected.append(path)
            }
            let walked = try CodeSelection.walkWithStatus(dir.path("w"), skipDefaults: false)
            #expect(walked.map(\.path).sorted() == expected.sorted())
            // x<i>.txt holds "<i>": its size is the number of i's digits.
            #expect(
                walked.allSatisfy {
                    $0.status.isRegular
                        && $0.status.size == UInt64($0.path.dropFirst("d0/e0/f0/x".count).dropLast(4).count)
                })
        }
    }

    @Test("a folder's listing: each entry's lstat, without . and ..; names that are not UTF-8 apart")
    func listing() throws {
        try withTemporaryDirectory { dir in
            try dir.write("l/file.txt", "12345")
            _ = try dir.makeDirectory("l/sub")
            try dir.symlink("l/link", to: "file.txt")
            try Self.makeNotUTF8File(dir.path("l/sub/bad-"))
            let listing = try FileSystem.listing(dir.path("l"))
            let entries = Dictionary(uniqueKeysWithValues: listing.entries.map { ($0.name, $0.status) })
            #expect(Set(entries.keys) == ["file.txt", "sub", "link"])
            #expect(listing.notUTF8.isEmpty)
            #expect(entries["file.txt"]?.isRegular == true && entries["file.txt"]?.size == 5)
            #expect(entries["sub"]?.isDirectory == true)
            #expect(entries["link"]?.isSymlink == true, "a link is not followed")
            let sub = try FileSystem.listing(dir.path("l/sub"))
            #expect(sub.entries.isEmpty && sub.notUTF8 == ["bad-?"])
            #expect(expectMLPackError { _ = try FileSystem.listing(dir.path("l/missing")) } != nil)

            // A walk refuses such a name unless its caller leaves it out (code, run folders).
            let error = expectMLPackError { _ = try CodeSelection.walk(dir.path("l"), skipDefaults: false) }
            #expect(
                error == .io(path: dir.path("l/sub"), reason: "holds a file name that is not UTF-8 (bad-?): rename it"))
            var skipped: [String] = []
            #expect(
                try CodeSelection.walk(dir.path("l"), skipDefaults: false, skipping: { skipped.append($0) }).sorted()
                    == ["file.txt", "link"])
            #expect(skipped == ["sub/bad-?"])
            let selection = try CodeSelection.select(directory: dir.path("l"), includes: [], excludes: [])
            #expect(selection.warnings.contains("sub/bad-?: left out (its name is not UTF-8)"), "\(selection.warnings)")
        }
    }

    /// Creates `prefix` followed by the byte 0xFF, which never occurs in UTF-8.
    static func makeNotUTF8File(_ prefix: String) throws {
        let descriptor = open(Array(prefix.utf8CString.dropLast()) + [-1, 0], O_CREAT | O_WRONLY, 0o644)
        guard descriptor >= 0 else { throw TestError("cannot create a file named \(prefix)<0xFF>") }
        close(descriptor)
    }
}
