import ArgumentParser
import Foundation
import MLPack

/// The one place that turns errors into messages and exit codes (see `mlpack --help`).
enum ExitStatus {
    static let verified: Int32 = 0
    static let invalid: Int32 = 1
    static let usage: Int32 = 2
    static let untrusted: Int32 = 3
    static let notReproduced: Int32 = 4

    static func code(for error: MLPackError) -> Int32 {
        // A command `mlpack run` could not start exits as a shell would (127, 126).
        if case .cannotRun(_, _, let status) = error { return status }
        return switch error.category {
        case .invalid: invalid
        case .usage: usage
        case .untrusted: untrusted
        }
    }

    /// Prints `error` the way the user should see it and returns the exit code.
    static func report(_ error: any Error) -> Int32 {
        if let error = error as? MLPackError {
            Terminal.error(Flags.render(error))
            return code(for: error)
        }
        if let exit = error as? ExitCode { return exit.rawValue }
        // Parsing errors, --help and --version come from ArgumentParser.
        let code = MLPackCommand.exitCode(for: error)
        if code == .success {
            print(MLPackCommand.fullMessage(for: error))
            return 0
        }
        // One line, like every other error; --help shows the usage.
        Terminal.error(MLPackCommand.message(for: error) + " (see --help)")
        return usage
    }
}
