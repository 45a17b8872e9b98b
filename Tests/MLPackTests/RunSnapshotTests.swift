import Foundation
import Testing

@testable import MLPack

@Suite("run: finding outputs by stat snapshots")
struct RunSnapshotTests {
    @Test("new and changed files are found, untouched and skipped ones are not")
    func changedFiles() throws {
        try withTemporaryDirectory { dir in
            try dir.write("p/train.py", "print(1)\n")
            try dir.write("p/notes.txt", "abc\n")
            try dir.write("p/same-size.txt", "1111\n")
            try dir.write("p/untouched.txt", "keep\n")
            try dir.write("p/.venv/pyvenv.cfg", "home = /usr/bin\n")
            try dir.write("p/envs/py/conda-meta/history", "x\n")
            let root = dir.path("p")
            let before = TreeSnapshot.take(root)
            #expect(Set(before.files.keys) == ["train.py", "notes.txt", "same-size.txt", "untouched.txt"])
            usleep(20_000)  // past one tick of the file system's clock

            try dir.write("p/notes.txt", "abcdef\n")
            try dir.write("p/same-size.txt", "2222\n")
            try dir.write("p/checkpoints/step-1.bin", [1, 2, 3])
            for skipped in [
                "__pycache__/x.cpython-312.pyc", "pkg/mod.pyc", ".git/index", ".mlpack/runs/x.json",
                ".ipynb_checkpoints/a.ipynb",
                ".venv/lib/site.py", "envs/py/lib/x.py", "venv/x.py",
            ] {
                try dir.write("p/" + skipped, "x")
            }
            try dir.symlink("p/link.txt", to: "untouched.txt")
            let after = TreeSnapshot.take(root)
            #expect(after.changed(since: before) == ["checkpoints/step-1.bin", "notes.txt", "same-size.txt"])
        }
    }

    @Test(
        "isSkipped agrees with the walk",
        arguments: [
            ("data/x.csv", false), ("a.pyc", true), (".git/config", true), ("src/__pycache__/m.py", true),
            (".mlpack/objects/x", true),
            ("nb/.ipynb_checkpoints/a.ipynb", true), ("venv/lib/a.py", true), ("myenv/lib/a.py", true),
            ("myenv.txt", false),
        ])
    func skipped(path: String, expected: Bool) throws {
        try withTemporaryDirectory { dir in
            try dir.write("p/myenv/pyvenv.cfg", "home = /usr/bin\n")
            #expect(TreeSnapshot.isSkipped(relative: path, root: dir.path("p")) == expected)
        }
    }
}
