/// Every failure the library reports. Each case renders as one lower-case line that names
/// the file or entry concerned; the CLI maps `category` to an exit code in one place.
public enum MLPackError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The command was used wrongly (bad input values, missing inputs, a non-empty target).
    case usage(Message)
    /// A local file could not be read or written.
    case io(path: String, reason: String)
    /// The input is not an mlpack file at all.
    case notAPack(path: String, reason: String)
    /// An archive entry breaks a reader rule (spec/FORMAT.md §7); the pack is rejected.
    case unsafeEntry(entry: String, rule: String)
    /// The pack is damaged or tampered with: a digest, size, listing or structure disagrees.
    case integrity(entry: String, problem: String)
    /// A reader limit was hit; `limit` names the limit so the user can raise it.
    case limitExceeded(limit: String, detail: String)
    /// The pack carries no signature that the user trusts.
    case untrusted(String)
    /// `mlpack run` could not start the command; `status` is the shell's code for it (127:
    /// not found, 126: found but not executable), which mlpack exits with.
    case cannotRun(program: String, reason: String, status: Int32)

    public enum Category: Sendable { case invalid, usage, untrusted }

    public var category: Category {
        switch self {
        case .usage, .io, .notAPack, .cannotRun: .usage
        case .unsafeEntry, .integrity, .limitExceeded: .invalid
        case .untrusted: .untrusted
        }
    }

    public var description: String { message.description }

    /// The reader limit hit, for a `limitExceeded` error.
    public var limit: String? {
        if case .limitExceeded(let limit, _) = self { return limit }
        return nil
    }

    /// The message, with the inputs it names kept apart for the CLI to spell.
    public var message: Message {
        switch self {
        case .usage(let message): message
        case .io(let path, let reason): "\(path): \(reason)"
        case .notAPack(let path, let reason): "\(path): not an mlpack file (\(reason))"
        case .unsafeEntry(let entry, let rule): "\(entry): rejected: \(rule)"
        case .integrity(let entry, let problem): "\(entry): \(problem)"
        case .limitExceeded(let limit, let detail): "limit \(limit) exceeded: \(detail)"
        case .untrusted(let message): Message(message)
        case .cannotRun(let program, let reason, _): "\(program): \(reason)"
        }
    }
}
