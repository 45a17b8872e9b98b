import Foundation
import TestSupport
import Testing

@testable import MLPack

/// The LD_PRELOAD tracer (Sources/MLPackTracer) run for real: the library this build
/// embedded, loaded into real programs, its shared log read back.
@Suite("run: the preload tracer")
struct PreloadTraceTests {
    /// Runs `arguments` traced, in `folder`, and returns what the tracer saw.
    private func traced(_ arguments: [String], in folder: TempDir) throws -> PreloadTrace.Events {
        let trace = try PreloadTrace.prepare(cache: folder.path("cache"), temporary: folder.path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: folder.path)
        process.environment = trace.environment(["PATH": "/usr/bin:/bin"])
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(arguments) failed")
        let events = try trace.events(command: process.processIdentifier)
        #expect(!FileManager.default.fileExists(atPath: trace.log), "the log is removed once read")
        return events
    }

    @Test("reads and writes of the command and every descendant, relative paths made absolute")
    func descendants() throws {
        try withTemporaryDirectory { folder in
            try folder.write("in.txt", "input\n")
            try folder.write("spawned.txt", "spawned\n")
            try folder.write("child.txt", "child\n")
            try folder.write("forked.txt", "forked\n")
            try folder.write("shell.txt", "shell\n")
            _ = try folder.makeDirectory("sub")
            try folder.write("sub/at.txt", "relative to a folder\n")
            let script = """
                import multiprocessing, os, subprocess, sys
                open("in.txt").read()
                open("out.txt", "w").write("x")
                os.close(os.open("at.txt", os.O_RDONLY, dir_fd=os.open("sub", os.O_RDONLY)))
                # A child given an environment without the tracer keeps it.
                subprocess.run([sys.executable, "-c", "open('child.txt').read()"], env={}, check=True)
                subprocess.run(["sh", "-c", "cat shell.txt > /dev/null"], check=True)
                os.waitpid(os.posix_spawn("/bin/cat", ["cat", "spawned.txt"], {}), 0)
                def work(): open("forked.txt").read()
                worker = multiprocessing.get_context("fork").Process(target=work)
                worker.start(); worker.join()
                os.replace("out.txt", "moved.txt")
                """
            let events = try traced(["/usr/bin/env", "python3", "-c", script], in: folder)
            let root = URL(fileURLWithPath: folder.path).resolvingSymlinksInPath().path
            for name in ["in.txt", "child.txt", "shell.txt", "spawned.txt", "forked.txt", "sub/at.txt"] {
                #expect(
                    events.reads.contains {
                        URL(fileURLWithPath: $0).resolvingSymlinksInPath().path == root + "/" + name
                    },
                    "\(name) not seen: \(events.reads.filter { !$0.hasPrefix("/usr") })")
            }
            for name in ["out.txt", "moved.txt"] {
                #expect(
                    events.writes.contains { $0.hasSuffix("/" + name) }, "\(name) not seen written: \(events.writes)")
            }
            #expect(!events.reads.contains { $0.hasSuffix("/out.txt") })
            #expect(events.commandTraced)
            #expect(events.untraced.isEmpty, "\(events.untraced)")
            #expect(!events.overflowed)
        }
    }

    @Test("relative paths follow the working folder through chdir, fchdir and in other threads")
    func workingFolderChanges() throws {
        try withTemporaryDirectory { folder in
            for name in ["top.txt", "a/in-a.txt", "a/b/in-b.txt", "a/b/threaded.txt", "again.txt"] {
                try folder.write(name, name + "\n")
            }
            let script = """
                import os, threading
                open("top.txt").read()
                os.chdir("a"); open("in-a.txt").read()
                os.chdir(os.open("b", os.O_RDONLY)); open("in-b.txt").read()
                worker = threading.Thread(target=lambda: open("threaded.txt").read()); worker.start(); worker.join()
                os.chdir("../.."); open("again.txt").read()
                """
            let events = try traced(["/usr/bin/env", "python3", "-c", script], in: folder)
            let root = URL(fileURLWithPath: folder.path).resolvingSymlinksInPath().path
            let seen = events.reads.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
            for name in ["top.txt", "a/in-a.txt", "a/b/in-b.txt", "a/b/threaded.txt", "again.txt"] {
                #expect(seen.contains(root + "/" + name), "\(name) not seen: \(seen.filter { $0.hasPrefix(root) })")
            }
        }
    }

    @Test("a static program is named as untraced, and a static command is not traced")
    func staticPrograms() throws {
        try withTemporaryDirectory { folder in
            let events = try traced(["/bin/sh", "-c", "/sbin/ldconfig -p > /dev/null"], in: folder)
            #expect(events.commandTraced)
            #expect(events.untraced == ["/sbin/ldconfig"])
            let alone = try traced(["/sbin/ldconfig", "-p"], in: folder)
            #expect(!alone.commandTraced)
        }
    }

    @Test("the cached library is checked on every use: other bytes there are replaced, not loaded")
    func plantedLibraryIsReplaced() throws {
        try withTemporaryDirectory { folder in
            let path = try PreloadTrace.install(in: folder.path("cache"))
            let genuine = try readBytes(path)
            try FileManager.default.removeItem(atPath: path)
            try Array("not the tracer".utf8).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
            #expect(try PreloadTrace.install(in: folder.path("cache")) == path)
            #expect(try readBytes(path) == genuine)
        }
    }

    @Test("records a writer did not finish are skipped; a torn log ends the parse")
    func tornRecords() {
        func record(_ kind: Character, _ pid: Int32, _ path: String) -> [UInt8] {
            let body = Array(path.utf8) + [0]
            let size = (9 + body.count + 7) / 8 * 8
            var bytes = withUnsafeBytes(of: UInt32(size).littleEndian, Array.init)
            bytes += withUnsafeBytes(of: pid.littleEndian, Array.init)
            bytes += [kind.asciiValue!] + body
            return bytes + [UInt8](repeating: 0, count: size - bytes.count)
        }
        var unfinished = record("r", 7, "/half")
        unfinished[8] = 0
        var events = PreloadTrace.Events()
        events.parse(
            record("s", 7, "/bin/sh") + record("r", 7, "/a") + unfinished + record("w", 7, "/b") + [9, 0, 0],
            command: 7)
        #expect(events.reads == ["/a"])
        #expect(events.writes == ["/b"])
        #expect(events.commandTraced)
    }
}
