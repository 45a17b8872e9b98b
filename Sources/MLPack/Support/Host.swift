import Foundation

/// What the library knows of the process it runs in — its environment and working folder —
/// read once, here, and nowhere else. Defaults of options come from `Host.current`; a caller
/// (a test, another tool) sets the fields it means instead.
public struct Host: Sendable {
    public var environment: [String: String]
    public var workingDirectory: String

    public init(environment: [String: String], workingDirectory: String) {
        self.environment = environment
        self.workingDirectory = workingDirectory
    }

    /// The process as it started.
    public static let current = Host(
        environment: ProcessInfo.processInfo.environment, workingDirectory: FileManager.default.currentDirectoryPath)

    public var home: String { environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory() }
    public var path: String? { environment["PATH"] }
    /// Where `key generate` puts a key pair when not told: the XDG config folder, where
    /// other command-line tools keep theirs.
    public var defaultKeyBase: String {
        let config = environment["XDG_CONFIG_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home + "/.config"
        return config + "/mlpack/me"
    }
    /// $TMPDIR, else /tmp.
    public var temporaryDirectory: String { environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp" }
}
