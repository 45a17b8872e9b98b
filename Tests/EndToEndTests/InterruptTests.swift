import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// SIGINT, SIGTERM and SIGHUP during `create`, `extract` and `redact`: no temporary file or
/// staging folder is left, in the output's folder or in TMPDIR, and mlpack exits 128 + the
/// signal. A staging folder a SIGKILL left does not stop the next extract.
@Suite("Interrupted writers")
struct InterruptTests {
    static let signals: [(Int32, Int32)] = [(SIGINT, 130), (SIGTERM, 143), (SIGHUP, 129)]

    /// A started mlpack, signalled once `ready` holds (polled while it runs).
    final class Started {
        let process = Process()
        let input = Pipe()

        init(_ arguments: [String], box: Sandbox, feedsInput: Bool = false) throws {
            // Through a Python that puts back what a shell gives a command (the default
            // actions, nothing blocked) before it becomes mlpack: a test runner started as a
            // background job ignores SIGINT, which stays ignored in mlpack (as under nohup),
            // and its threads block the signals, a mask mlpack would inherit.
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments =
                [
                    "python3", "-c",
                    "import os, signal, sys\nsignals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)\nfor s in signals: signal.signal(s, signal.SIG_DFL)\nsignal.pthread_sigmask(signal.SIG_UNBLOCK, signals)\nos.execv(sys.argv[1], sys.argv[1:])",
                    try Repo.mlpackBinary(),
                ] + arguments
            process.environment = childEnvironment(["TMPDIR": box.path("tmp")])
            process.standardInput = feedsInput ? input : FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        /// Waits until `ready` (or the end of the process), then sends `signal` and waits for
        /// the exit: the status, or nil when the process had ended before the signal.
        func interrupt(with signal: Int32, when ready: () -> Bool) -> Int32? {
            while process.isRunning && !ready() { usleep(1000) }
            let wasRunning = process.isRunning
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
            try? input.fileHandleForWriting.close()
            return wasRunning && process.terminationReason == .exit ? process.terminationStatus : nil
        }
    }

    static func entries(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    static func hasEntry(_ folder: String, prefix: String) -> Bool {
        entries(folder).contains { $0.hasPrefix(prefix) }
    }

    /// A file of `megabytes` MiB of random bytes (stored, not compressed: packing it takes a while).
    static func bigWeights(in box: Sandbox, megabytes: Int) async throws -> String {
        let path = box.path("big/weights.safetensors")
        try box.mkdir("big")
        try await must("sh", ["-c", "head -c $(($1 * 1048576)) /dev/urandom > \"$2\"", "sh", "\(megabytes)", path])
        return path
    }

    @Test("create: each signal removes the temporary pack and exits 128 + the signal")
    func createInterrupted() async throws {
        try await withSandbox { box in
            try box.mkdir("tmp")
            try box.mkdir("out")
            let weights = try await Self.bigWeights(in: box, megabytes: 384)
            for (signal, expected) in Self.signals {
                let started = try Started(
                    [
                        "create", "--output", box.path("out/big.mlpack"), "--unsigned", "--name", "big", "--weights",
                        weights,
                    ], box: box)
                let status = started.interrupt(with: signal) {
                    Self.hasEntry(box.path("out"), prefix: ".mlpack-create-")
                }
                #expect(status == expected, "signal \(signal): exit \(String(describing: status))")
                #expect(Self.entries(box.path("out")) == [], "signal \(signal) left \(Self.entries(box.path("out")))")
                #expect(Self.entries(box.path("tmp")) == [], "signal \(signal) left \(Self.entries(box.path("tmp")))")
            }
        }
    }

    @Test("redact: each signal removes the temporary pack and exits 128 + the signal")
    func redactInterrupted() async throws {
        try await withSandbox { box in
            try box.mkdir("tmp")
            try box.mkdir("out")
            let weights = try await Self.bigWeights(in: box, megabytes: 384)
            let pack = try await makePack(in: box, output: "big.mlpack", weights: [weights])
            for (signal, expected) in Self.signals {
                let started = try Started(
                    ["redact", pack, "--output", box.path("out/redacted.mlpack"), "--drop-role", "host"], box: box)
                let status = started.interrupt(with: signal) {
                    Self.hasEntry(box.path("out"), prefix: ".mlpack-redact-")
                }
                #expect(status == expected, "signal \(signal): exit \(String(describing: status))")
                #expect(Self.entries(box.path("out")) == [], "signal \(signal) left \(Self.entries(box.path("out")))")
                #expect(Self.entries(box.path("tmp")) == [], "signal \(signal) left \(Self.entries(box.path("tmp")))")
            }
        }
    }

    @Test("extract: each signal removes the staging folder (or the spooled pipe) and exits 128 + the signal")
    func extractInterrupted() async throws {
        try await withSandbox { box in
            try box.mkdir("tmp")
            let weights = try await Self.bigWeights(in: box, megabytes: 384)
            let pack = try await makePack(in: box, output: "big.mlpack", weights: [weights])
            let bytes = try readBytes(try await makeStandardPack(in: box, output: "small.mlpack").pack)
            for (signal, expected) in Self.signals {
                // From a file: stopped while the checked payload is staged.
                let out = box.path("out-\(signal)")
                let staging = try Started(["extract", pack, "--to", out], box: box)
                let status = staging.interrupt(with: signal) { Self.hasEntry(out, prefix: ".mlpack-extract-") }
                #expect(status == expected, "signal \(signal): exit \(String(describing: status))")
                #expect(Self.entries(out) == [], "signal \(signal) left \(Self.entries(out))")

                // From a pipe that stalls halfway: stopped while it is spooled.
                let piped = box.path("piped-\(signal)")
                let spooling = try Started(["extract", "-", "--to", piped], box: box, feedsInput: true)
                let writer = spooling.input.fileHandleForWriting
                writer.write(Data(bytes.prefix(min(bytes.count / 2, 60_000))))
                let spooled = spooling.interrupt(with: signal) {
                    var pending: Int32 = 0
                    return ioctl(writer.fileDescriptor, UInt(FIONREAD), &pending) == 0 && pending == 0
                }
                #expect(spooled == expected, "signal \(signal), pipe: exit \(String(describing: spooled))")
                #expect(Self.entries(piped) == [], "signal \(signal) left \(Self.entries(piped))")
                #expect(Self.entries(box.path("tmp")) == [], "signal \(signal) left \(Self.entries(box.path("tmp")))")
            }
        }
    }

    @Test("A staging folder left by a SIGKILLed extract is replaced by the next extract")
    func extractAfterKill() async throws {
        try await withSandbox { box in
            try box.mkdir("tmp")
            let weights = try await Self.bigWeights(in: box, megabytes: 384)
            let pack = try await makePack(in: box, output: "big.mlpack", weights: [weights])
            let out = box.path("out")
            let started = try Started(["extract", pack, "--to", out], box: box)
            _ = started.interrupt(with: SIGKILL) { Self.hasEntry(out, prefix: ".mlpack-extract-") }
            #expect(
                Self.entries(out).count == 1 && Self.hasEntry(out, prefix: ".mlpack-extract-"), "\(Self.entries(out))")

            let again = try await mlpack(["extract", pack, "--to", out])
            #expect(again.status == 0, "\(again)")
            #expect(!Self.hasEntry(out, prefix: ".mlpack-extract-"), "\(Self.entries(out))")
            #expect(Self.entries(out).contains("artifacts"), "\(Self.entries(out))")
        }
    }
}
