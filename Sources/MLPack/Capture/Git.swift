import Foundation

/// What mlpack asks git, through the `git` program (the user's own git config applies).
struct Git {
    let directory: String

    /// A Git helper when `directory` is inside a work tree, else nil (also when git is missing).
    static func workTree(at directory: String) -> Git? {
        guard let out = try? run(["rev-parse", "--is-inside-work-tree"], in: directory),
            String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "true"
        else { return nil }
        return Git(directory: directory)
    }

    /// Tracked files below `directory`, relative to it, as git stores them (submodules' too).
    func trackedFiles() throws -> [String] {
        let out = try Self.run(["ls-files", "-z", "--cached", "--recurse-submodules"], in: directory)
        return out.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// HEAD's commit, nil before the first commit.
    func headCommit() -> String? {
        guard let out = try? Self.run(["rev-parse", "--verify", "--quiet", "HEAD"], in: directory) else { return nil }
        let text = String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    /// True when tracked files below `directory` differ from HEAD.
    func hasUncommittedChanges() throws -> Bool {
        let out = try Self.run(["status", "--porcelain", "-z", "--untracked-files=no", "--", "."], in: directory)
        return !out.isEmpty
    }

    /// Git on a large repository can take a while; a minute is still a hang.
    static func run(_ arguments: [String], in directory: String) throws -> [UInt8] {
        guard
            let output = ChildProcess.runBytes(
                ["git", "-C", directory] + arguments, timeout: 60, maxOutputBytes: 1 << 30)
        else {
            throw MLPackError.io(path: directory, reason: "git \(arguments.first ?? "") failed")
        }
        return output
    }
}
