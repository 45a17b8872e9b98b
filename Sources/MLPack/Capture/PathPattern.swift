#if canImport(Glibc)
    import Glibc
#endif

/// A glob over relative paths, with gitignore-like reach (spec/FORMAT.md §9 and README):
/// - a pattern without `/` matches any path component (`*.pyc`, `__pycache__`);
/// - a pattern with `/` matches from the root (`configs/*.yaml`), `**` spans directories;
/// - a pattern that matches a directory matches everything below it; a trailing `/`
///   (`build/`) matches directories only.
public struct PathPattern: Sendable, Equatable, CustomStringConvertible {
    public let description: String
    private let components: [String]
    /// Per component: no wildcard, so compared as bytes (most patterns are plain names).
    private let literal: [Bool]
    private let anywhere: Bool
    private let directoryOnly: Bool

    public init(_ text: String) {
        description = text
        var body = Substring(text)
        while body.hasPrefix("./") { body = body.dropFirst(2) }
        let anchored = body.hasPrefix("/")
        body = body.drop { $0 == "/" }
        directoryOnly = body.hasSuffix("/")
        while body.hasSuffix("/") { body = body.dropLast() }
        components = body.split(separator: "/").map(String.init)
        literal = components.map { !$0.utf8.contains(where: { "*?[\\".utf8.contains($0) }) }
        anywhere = !anchored && components.count == 1
    }

    public func matches(_ path: String) -> Bool { matches(components: Self.components(of: path)) }

    /// A path split as `matches(components:)` takes it: a set of patterns splits it once.
    static func components(of path: String) -> [String] { path.split(separator: "/").map(String.init) }

    func matches(components parts: [String]) -> Bool {
        guard !components.isEmpty else { return false }
        // A directory-only pattern may not match the last component, which is the file.
        let candidates = directoryOnly ? parts.dropLast() : parts[...]
        if anywhere {
            if literal[0] { return candidates.contains { $0.utf8.elementsEqual(components[0].utf8) } }
            return candidates.contains { Self.fnmatch(components[0], $0) }
        }
        return Self.match(components[...], parts[...], directoryOnly: directoryOnly)
    }

    /// True when `pattern` matches `path` or one of its leading directories.
    private static func match(_ pattern: ArraySlice<String>, _ path: ArraySlice<String>, directoryOnly: Bool) -> Bool {
        guard let head = pattern.first else { return !directoryOnly || !path.isEmpty }
        if head == "**" {
            let rest = pattern.dropFirst()
            if rest.isEmpty { return !directoryOnly || !path.isEmpty }
            return path.indices.contains { match(rest, path[$0...], directoryOnly: directoryOnly) }
                || match(rest, path[path.endIndex...], directoryOnly: directoryOnly)
        }
        guard let first = path.first, fnmatch(head, first) else { return false }
        return match(pattern.dropFirst(), path.dropFirst(), directoryOnly: directoryOnly)
    }

    private static func fnmatch(_ pattern: String, _ name: String) -> Bool {
        Glibc.fnmatch(pattern, name, 0) == 0
    }
}

/// A list of patterns, as given by `--include`, `--exclude`, `--only` or a `.mlpackignore`.
struct PatternSet: Sendable {
    var patterns: [PathPattern]

    init(_ texts: [String]) { patterns = texts.map(PathPattern.init) }

    /// Reads an ignore file: one pattern a line, `#` starts a comment, blank lines skipped.
    init(ignoreFileContents text: String) {
        self.init(
            text.split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") })
    }

    var isEmpty: Bool { patterns.isEmpty }

    func matches(_ path: String) -> Bool {
        let components = PathPattern.components(of: path)
        return patterns.contains { $0.matches(components: components) }
    }
}
