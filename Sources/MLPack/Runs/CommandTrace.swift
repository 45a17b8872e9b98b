import Foundation

/// Which tracer sees the files a recorded command opens (`mlpack run`).
public enum TraceMode: String, Sendable, CaseIterable {
    /// The default: the preload library, in the command's own processes, at almost no cost.
    case preload
    /// strace (with seccomp-bpf): also sees static binaries and direct system calls, slower.
    case ptrace
    /// No tracing: only `-i` names inputs, and outputs are whatever changed.
    case off
}

/// One prepared tracer for one command: how to start the command under it, and what it saw.
enum CommandTrace {
    case preload(PreloadTrace)
    case ptrace(ReadTrace)

    /// The tracer `mode` asks for, or nil with the reason it cannot trace here.
    static func prepare(_ mode: TraceMode) -> (trace: CommandTrace?, problem: String?) {
        switch mode {
        case .off: return (nil, nil)
        case .ptrace:
            let prepared = ReadTrace.prepare()
            return (prepared.trace.map(CommandTrace.ptrace), prepared.problem)
        case .preload:
            do {
                return (.preload(try PreloadTrace.prepare(temporary: Host.current.temporaryDirectory)), nil)
            } catch {
                return (nil, "the read tracer cannot start (\(error))")
            }
        }
    }

    var mode: TraceMode {
        switch self {
        case .preload: .preload
        case .ptrace: .ptrace
        }
    }

    /// The program, arguments and environment that run the command under this tracer.
    func launch(
        executable: String, arguments: [String], environment: [String: String]
    )
        -> (executable: String, arguments: [String], environment: [String: String])
    {
        switch self {
        case .preload(let trace): (executable, arguments, trace.environment(environment))
        case .ptrace(let trace): (trace.strace, trace.wrap(executable: executable, arguments: arguments), environment)
        }
    }

    /// Whether mlpack's child is the tracer (strace) rather than the command.
    var isParentOfCommand: Bool {
        if case .ptrace = self { return true }
        return false
    }

    /// What the trace saw. It is `complete` when every program of the command was traced:
    /// only then does it know all the files the command wrote. `unseen` names the programs
    /// that ran without the tracer (static binaries), "the command" for the command itself.
    struct Result {
        var files = ReadTrace.Files()
        var complete = true
        var unseen: [String] = []
        var problems: [String] = []
    }

    /// `known`: paths that are regular files, links resolved (see `ReadTrace.existing`).
    func finish(command pid: pid_t, cwd: String, known: (String) -> Bool = { _ in false }) -> Result {
        switch self {
        case .ptrace(let trace):
            return Result(files: trace.files(cwd: cwd))
        case .preload(let trace):
            let events: PreloadTrace.Events
            do { events = try trace.events(command: pid) } catch {
                return Result(complete: false, problems: ["the read tracer's log is unreadable (\(error))"])
            }
            var problems: [String] = []
            var unseen = events.untraced
            if !events.commandTraced { unseen.insert("the command", at: 0) }
            if events.overflowed { problems.append("the read tracer's log is full: later opens were not seen") }
            return Result(
                files: ReadTrace.Files(
                    read: ReadTrace.existing(events.reads, known: known),
                    written: ReadTrace.existing(events.writes, known: known)),
                complete: unseen.isEmpty && !events.overflowed, unseen: unseen, problems: problems)
        }
    }
}
