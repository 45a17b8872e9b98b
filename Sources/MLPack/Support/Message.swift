/// An input of a library call that a message can name. The library speaks of what it is (a
/// noun); the CLI spells each one as its flag (`--code`), so no library text knows the
/// command line.
public enum Input: Sendable, Equatable, CaseIterable {
    case code, include, exclude, weights, outputOf, noCheckpoints, environment, python
    case data, dataMount, dataURI, inlineData, localData
    case output, force, key, keyring, destination, only
    case drop, dropRun
    case runName, runInput, runOutput, trace, metrics
    case workdir, allowNetwork, unsafeNoSandbox, timeout, maxWorkspaceSize, maxProcesses, maxMemory, secret
    case pythonEnv, indexURL, findLinks, offline

    /// How the library words it on its own.
    public var noun: String {
        switch self {
        case .code: "the code folder"
        case .include: "an include pattern"
        case .exclude: "an exclude pattern"
        case .weights: "the weights"
        case .outputOf: "the lineage of an output"
        case .noCheckpoints: "the option to leave checkpoints out"
        case .environment: "the saved environment"
        case .python: "the Python interpreter"
        case .data: "the data reference"
        case .dataMount: "the data reference's mount path"
        case .dataURI: "the data reference's URI"
        case .inlineData: "the option to pack the data itself"
        case .localData: "a local copy of the data"
        case .output: "the output pack"
        case .force: "the force option"
        case .key: "the key"
        case .keyring: "the keyring"
        case .destination: "the destination folder"
        case .only: "the items chosen"
        case .drop: "the items dropped"
        case .dropRun: "the run dropped"
        case .runName: "the run's name"
        case .runInput: "the declared input"
        case .runOutput: "the declared output"
        case .trace: "tracing"
        case .metrics: "the metrics file"
        case .workdir: "the work folder"
        case .allowNetwork: "the option to allow the network"
        case .unsafeNoSandbox: "the option to run unconfined"
        case .timeout: "the time limit"
        case .maxWorkspaceSize: "the workspace size limit"
        case .maxProcesses: "the process limit"
        case .maxMemory: "the memory limit"
        case .secret: "a secret given for the rebuild"
        case .pythonEnv: "the source of the Python environment"
        case .indexURL: "the package index"
        case .findLinks: "the folder of wheels"
        case .offline: "the option to build environments offline"
        }
    }
}

/// A one-line message that may name inputs (`"\(input: .code) \(path): not a directory"`),
/// rendered by whoever shows it: `description` words them as the library does, the CLI
/// with its flags.
public struct Message: Sendable, Equatable, CustomStringConvertible, ExpressibleByStringInterpolation {
    public enum Part: Sendable, Equatable {
        case text(String)
        case input(Input)
    }

    public private(set) var parts: [Part] = []

    public init(_ text: String) { append(.text(text)) }
    public init(stringLiteral text: String) { self.init(text) }
    public init(stringInterpolation: Interpolation) { stringInterpolation.parts.forEach { append($0) } }

    public var description: String { rendered(\.noun) }

    public func rendered(_ spell: (Input) -> String) -> String {
        parts.map {
            switch $0 {
            case .text(let text): text
            case .input(let input): spell(input)
            }
        }.joined()
    }

    /// Adjacent text is one part, so equal text compares equal however it was built.
    private mutating func append(_ part: Part) {
        if case .text(let text) = part, case .text(let previous)? = parts.last {
            parts[parts.count - 1] = .text(previous + text)
        } else if part != .text("") {
            parts.append(part)
        }
    }

    public struct Interpolation: StringInterpolationProtocol {
        var parts: [Part] = []
        public init(literalCapacity: Int, interpolationCount: Int) {}
        public mutating func appendLiteral(_ text: String) { parts.append(.text(text)) }
        public mutating func appendInterpolation(_ value: some Any) { parts.append(.text("\(value)")) }
        public mutating func appendInterpolation(input: Input) { parts.append(.input(input)) }
        /// Another message inside this one, its inputs kept.
        public mutating func appendInterpolation(_ message: Message) { parts += message.parts }
        /// An error inside this one, its inputs kept.
        public mutating func appendInterpolation(_ error: MLPackError) { parts += error.message.parts }
    }
}
