import MLPack

/// How the command line spells the library's inputs, for its messages.
enum Flags {
    static func spelling(_ input: Input) -> String {
        switch input {
        case .code: "--code"
        case .include: "--include"
        case .exclude: "--exclude"
        case .weights: "--weights"
        case .outputOf: "--output-of"
        case .noCheckpoints: "--no-checkpoints"
        case .environment: "--env"
        case .python: "--python"
        case .data: "--data"
        case .dataMount: "--data-mount"
        case .dataURI: "--data-uri"
        case .inlineData: "--inline-data"
        case .localData: "--data"
        case .output: "--output"
        case .force: "--force"
        case .key: "--key"
        case .keyring: "--keyring"
        case .destination: "--to"
        case .only: "--only"
        case .drop: "--drop"
        case .dropRun: "--drop-run"
        case .runName: "--name"
        case .runInput: "-i"
        case .runOutput: "-o"
        case .trace: "--trace"
        case .metrics: "--metrics"
        case .workdir: "--workdir"
        case .allowNetwork: "--allow-network"
        case .unsafeNoSandbox: "--unsafe-no-sandbox"
        case .timeout: "--timeout"
        case .maxWorkspaceSize: "--max-workspace-size"
        case .maxProcesses: "--max-processes"
        case .maxMemory: "--max-memory"
        case .secret: "--secret"
        case .pythonEnv: "--python-env"
        case .indexURL: "--index-url"
        case .findLinks: "--find-links"
        case .offline: "--offline"
        }
    }

    static func render(_ message: Message) -> String { message.rendered(spelling) }

    /// An error as the command line shows it: inputs as flags, and how to raise a limit.
    static func render(_ error: MLPackError) -> String {
        if case .limitExceeded = error, let limit = error.limit {
            return render(error.message) + " (raise it with --max-\(limit))"
        }
        return render(error.message)
    }
}
