import Foundation
import MLPack

/// Everything the CLI writes to the terminal.
enum Terminal {
    static func standardError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Bytes as they are (a followed run's output, already made safe by the library).
    static func standardError(bytes: [UInt8]) { FileHandle.standardError.write(Data(bytes)) }

    static func error(_ message: String) { standardError("mlpack: error: \(message)") }
    static func warning(_ message: String) { standardError("mlpack: warning: \(message)") }

    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static var standardErrorIsTerminal: Bool { isatty(2) == 1 }

    static func bytes(_ count: UInt64) -> String { ByteCount.text(count) }

    /// A report file named for a browser.
    static func isHTML(_ path: String) -> Bool {
        let lowered = path.lowercased()
        return lowered.hasSuffix(".html") || lowered.hasSuffix(".htm")
    }

    /// A file the user asked for (a report, a graph), written whole or not at all.
    static func write(_ bytes: Data, to path: String, what: String) throws {
        do { try bytes.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw MLPackError.io(path: path, reason: "cannot write \(what)")
        }
    }
}

/// A one-line progress bar on standard error, redrawn at most ten times a second; only
/// drawn when standard error is a terminal and --quiet was not given.
final class ProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private var lastDraw = Date.distantPast
    private var drawn = false

    /// Runs `body` with a progress handler that draws the bar, and clears the bar after.
    static func drawing<T>(unless quiet: Bool, _ body: (ProgressHandler?) throws -> T) rethrows -> T {
        guard !quiet, Terminal.standardErrorIsTerminal else { return try body(nil) }
        let bar = ProgressBar()
        defer { bar.finish() }
        return try body { bar.update($0) }
    }

    func update(_ progress: ProgressUpdate) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 || progress.completed >= progress.total else { return }
        lastDraw = now
        let fraction = progress.total > 0 ? min(1, Double(progress.completed) / Double(progress.total)) : 0
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = String(
            format: "\r%@ [%@] %3.0f%% %@ / %@", progress.phase, bar, fraction * 100,
            Terminal.bytes(progress.completed), Terminal.bytes(progress.total))
        FileHandle.standardError.write(Data((line + "\u{1B}[K").utf8))
        drawn = true
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        drawn = false
    }
}

/// Column padding for the commands' tables.
func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
func padLeft(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
}
