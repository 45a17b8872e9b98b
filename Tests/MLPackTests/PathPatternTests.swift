import Foundation
import Testing

@testable import MLPack

@Suite("PathPattern and PatternSet")
struct PathPatternTests {
    @Test(
        "pattern matching table",
        arguments: [
            // A pattern without '/' matches any component.
            ("*.pyc", "a/b/c.pyc", true),
            ("*.pyc", "c.pyc", true),
            ("*.pyc", "a/b/c.py", false),
            ("*.pyc", "a/b/c.pyc.txt", false),
            ("__pycache__", "x/__pycache__/y.py", true),
            ("__pycache__", "__pycache__/y.cpython-311.pyc", true),
            ("__pycache__", "x/not__pycache__/y.py", false),
            ("wandb", "runs/wandb/run-1/log.txt", true),
            // A pattern with '/' matches from the root.
            ("configs/*.yaml", "configs/a.yaml", true),
            ("configs/*.yaml", "x/configs/a.yaml", false),
            ("configs/*.yaml", "configs/sub/a.yaml", false),
            ("configs/*.yaml", "configs/a.yml", false),
            ("./configs/*.yaml", "configs/a.yaml", true),
            // A pattern matching a directory matches everything below it.
            ("data", "data/x.csv", true),
            ("data", "data/deep/er/x.csv", true),
            ("data", "data", true),
            ("data", "database/x.csv", false),
            ("data", "mydata/x.csv", false),
            ("src/data", "src/data/deep/x.csv", true),
            ("src/data", "src/database", false),
            // '**' spans folders, including none.
            ("**/*.py", "a/b/c.py", true),
            ("**/*.py", "c.py", true),
            ("**/*.py", "a/c.pyc", false),
            ("src/**/test_*.py", "src/test_a.py", true),
            ("src/**/test_*.py", "src/a/b/test_a.py", true),
            ("src/**/test_*.py", "lib/a/test_a.py", false),
            ("src/**", "src/a/b.txt", true),
            ("src/**", "lib/a/b.txt", false),
            ("**", "anything/at/all", true),
            // A leading '/' anchors.
            ("/top.txt", "top.txt", true),
            ("/top.txt", "sub/top.txt", false),
            ("/build", "build/out.o", true),
            ("/build", "src/build/out.o", false),
            // A trailing '/' names a folder (everything below it), at any depth.
            ("build/", "build/out.o", true),
            ("build/", "src/build/out.o", true),
            ("build/", "builds/out.o", false),
            ("checkpoints/", "checkpoints/epoch-1/model.pt", true),
            // Character classes and '?' are fnmatch's.
            ("model-?.pt", "w/model-1.pt", true),
            ("model-?.pt", "w/model-10.pt", false),
            ("*.[ch]", "src/x.h", true),
            ("*.[ch]", "src/x.o", false),
            // An empty pattern matches nothing.
            ("", "a", false),
            ("/", "a", false),
        ])
    func table(pattern: String, path: String, matches: Bool) {
        #expect(PathPattern(pattern).matches(path) == matches)
    }

    @Test("description is the text as given")
    func description() {
        #expect(PathPattern("./configs/*.yaml").description == "./configs/*.yaml")
        #expect(PathPattern("build/") == PathPattern("build/"))
    }

    @Test("a PatternSet matches when any of its patterns does")
    func patternSet() {
        let set = PatternSet(["*.log", "/secrets", "configs/*.yaml"])
        #expect(set.matches("a/b/run.log"))
        #expect(set.matches("secrets/key.pem"))
        #expect(set.matches("configs/a.yaml"))
        #expect(!set.matches("x/secrets/key.pem"))
        #expect(!set.matches("train.py"))
        #expect(!set.isEmpty)
        #expect(PatternSet([]).isEmpty)
        #expect(!PatternSet([]).matches("anything"))
    }

    @Test("ignore files: comments, blank lines, surrounding whitespace, CRLF")
    func ignoreFile() {
        let text = """
            # build outputs
            *.log

               secrets/   \t
            \t# indented comment
            /top.txt
            configs/*.yaml\r
            wandb
            """
        let set = PatternSet(ignoreFileContents: text)
        #expect(set.patterns.map(\.description) == ["*.log", "secrets/", "/top.txt", "configs/*.yaml", "wandb"])
        #expect(set.matches("run.log"))
        #expect(set.matches("a/secrets/x"))
        #expect(set.matches("top.txt"))
        #expect(!set.matches("a/top.txt"))
        #expect(set.matches("configs/a.yaml"))
        #expect(set.matches("x/wandb/y"))
        #expect(!set.matches("train.py"))
        #expect(!set.matches("# build outputs"))
    }

    @Test("an ignore file of only comments and blank lines is empty")
    func ignoreFileEmpty() {
        #expect(PatternSet(ignoreFileContents: "# nothing\n\n   \n#*.py\n").isEmpty)
        #expect(PatternSet(ignoreFileContents: "").isEmpty)
    }
}
