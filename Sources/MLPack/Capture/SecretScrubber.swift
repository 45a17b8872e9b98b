import Foundation

/// One secret taken out of a recorded command line (spec/FORMAT.md §9.5): which argument,
/// what it was, and the placeholder that stands for it now.
public struct SecretReplacement: Sendable, Codable, Equatable, CustomStringConvertible {
    /// Index in the argv (0 is the program).
    public var argument: Int
    /// `${MLPACK_SECRET_API_KEY}`: a rebuild fills it from the secret named inside.
    public var placeholder: String
    /// "the value of --api-key", "a token", "credentials in a URL".
    public var what: String

    public var description: String { "argument \(argument) (\(what)) recorded as \(placeholder)" }
}

/// What counts as a secret in what mlpack records: command-line values, URIs, variable
/// values and file names. Capture (runs, environment variables, data references, code
/// snapshots) and publishing redaction ask the same questions here, so a pack recorded by
/// an older version is scrubbed by the same rules as a new run.
public enum SecretScrubber {
    // MARK: Values

    /// Value prefixes of well-known token formats (Hugging Face, OpenAI and Anthropic,
    /// GitHub, GitLab, Slack, AWS access keys, Google API keys).
    static let tokenPrefixes = [
        "hf_", "sk-", "ghp_", "gho_", "ghu_", "ghs_", "github_pat_", "glpat-", "xox", "AKIA", "ASIA", "AIza",
    ]

    /// Whether a value looks like a token: a known prefix followed by at least 8 more token
    /// characters (so `sk-learn` is not one), or a run of 32 or more letters and digits
    /// without separators (keys look so, settings do not; a hex digest does too).
    static func looksLikeToken(_ value: String) -> Bool {
        let tokenCharacters = value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
        if tokenCharacters, let prefix = tokenPrefixes.first(where: { value.hasPrefix($0) }),
            value.count >= prefix.count + 8
        {
            return true
        }
        return value.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).contains { $0.count >= 32 }
    }

    /// The user-information parts of `value`: `user:password` of `scheme://user:password@host`
    /// (or `token` of `scheme://token@host`), and `user:password` of a bare
    /// `user:password@host`. A part that is already a placeholder is not one.
    static func credentials(in value: String) -> [Range<String.Index>] {
        var found: [Range<String.Index>] = []
        var rest = value[...]
        while let separator = rest.range(of: "://") {
            let authority = rest[separator.upperBound...].prefix {
                $0 != "/" && $0 != "?" && $0 != "#" && !$0.isWhitespace
            }
            if let at = authority.lastIndex(of: "@"), at > authority.startIndex {
                found.append(authority.startIndex..<at)
            }
            rest = rest[separator.upperBound...]
        }
        // Without a scheme only `user:password@host` is taken for credentials: `user@host`
        // is an address (ssh, e-mail), not a secret.
        let pattern = #"(?<![A-Za-z0-9+.\-/:@])[A-Za-z0-9._%+\-]+:[^\s/@:]+@[A-Za-z0-9.\-]+"#
        if found.isEmpty, let regex = try? NSRegularExpression(pattern: pattern) {
            for match in regex.matches(in: value, range: NSRange(value.startIndex..., in: value)) {
                guard let whole = Range(match.range, in: value), let at = value[whole].lastIndex(of: "@") else {
                    continue
                }
                found.append(whole.lowerBound..<at)
            }
        }
        return found.filter { !isPlaceholder(String(value[$0])) }
    }

    /// True when `value` carries URL credentials anywhere.
    static func hasCredentials(_ value: String) -> Bool { !credentials(in: value).isEmpty }

    /// `uri` without its user information (`https://u:p@host/x` → `https://host/x`), or nil
    /// when it has none.
    static func withoutCredentials(_ uri: String) -> String? {
        let ranges = credentials(in: uri)
        guard !ranges.isEmpty else { return nil }
        var out = uri
        // Each range with the `@` after it; from the end, so earlier ranges stay valid.
        for range in ranges.reversed() {
            out.removeSubrange(range.lowerBound...range.upperBound)
        }
        return out
    }

    // MARK: Command lines

    /// The words that make an option name a secret's (`--api-key`, `--hf_token`,
    /// `db.password=`, `--authToken`): whole words of the name, so `--keyframes`,
    /// `--tokenizer`, `--passes` and `--author` are not.
    static let secretWords: Set<String> = [
        "key", "apikey", "accesskey", "secretkey", "privatekey", "token", "apitoken", "authtoken", "accesstoken",
        "secret", "password", "passwd", "pass", "passphrase", "pwd", "credential", "credentials", "auth",
        "authorization", "authentication", "cookie",
    ]

    /// Names whose value is a secret even when it is a number (a PIN, a numeric password).
    static let passwordWords: Set<String> = ["password", "passwd", "pass", "passphrase", "pwd"]

    /// The placeholder's spelling: `${MLPACK_SECRET_<NAME>}`.
    static let placeholderPrefix = "${MLPACK_SECRET_"

    /// `argv` with every secret replaced by a placeholder, and what was replaced. Secrets
    /// are: the value of an option whose name holds a secret word (`--api-key VALUE`,
    /// `--password=VALUE`, `password=VALUE`), unless the value is a number or a boolean (a
    /// password's never is kept); a value that looks like a token anywhere; the
    /// credentials of a URL anywhere. Placeholders already there stay, so scrubbing twice
    /// changes nothing.
    public static func scrub(argv: [String]) -> (argv: [String], replacements: [SecretReplacement]) {
        var out = argv
        var replacements: [SecretReplacement] = []
        var used = Set(argv.flatMap(placeholderNames))
        func placeholder(_ base: String) -> String {
            var name = "MLPACK_SECRET_" + base
            var suffix = 2
            while used.contains(name) {
                name = "MLPACK_SECRET_\(base)_\(suffix)"
                suffix += 1
            }
            used.insert(name)
            return "${\(name)}"
        }
        var index = 1
        while index < out.count {
            let argument = out[index]
            if let (name, value) = split(option: argument) {
                if !isPlaceholder(value), isSecret(value: value, ofOption: name) || looksLikeToken(value) {
                    let base = variableName(name)
                    let marker = placeholder(base.isEmpty ? "ARG\(index)" : base)
                    out[index] = String(argument.dropLast(value.count)) + marker
                    replacements.append(.init(argument: index, placeholder: marker, what: "the value of \(name)"))
                    index += 1
                    continue
                }
            } else if argument.hasPrefix("-"), index + 1 < out.count, !out[index + 1].hasPrefix("-"),
                isSecretName(argument)
            {
                let value = out[index + 1]
                if !isPlaceholder(value), isSecret(value: value, ofOption: argument) {
                    let marker = placeholder(variableName(argument))
                    out[index + 1] = marker
                    replacements.append(
                        .init(argument: index + 1, placeholder: marker, what: "the value of \(argument)"))
                    index += 2
                    continue
                }
            } else if !isPlaceholder(argument), looksLikeToken(argument) {
                let marker = placeholder("ARG\(index)")
                out[index] = marker
                replacements.append(.init(argument: index, placeholder: marker, what: "a token"))
                index += 1
                continue
            }
            let ranges = credentials(in: out[index])
            if !ranges.isEmpty {
                var text = out[index]
                for (number, range) in ranges.enumerated().reversed() {
                    let marker = placeholder("ARG\(index)_USERINFO" + (number == 0 ? "" : "_\(number + 1)"))
                    text.replaceSubrange(range, with: marker)
                    replacements.append(.init(argument: index, placeholder: marker, what: "credentials in a URL"))
                }
                out[index] = text
            }
            index += 1
        }
        return (out, replacements.sorted { ($0.argument, $0.placeholder) < ($1.argument, $1.placeholder) })
    }

    /// `--name=value` or `name=value` (a Hydra or Fire override): the name and the value.
    /// A path (`out=/x`) or a URL's query (`?a=b`) is not an option.
    private static func split(option argument: String) -> (name: String, value: String)? {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else { return nil }
        let name = argument[..<equals]
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.+~".contains($0) }) else { return nil }
        return (String(name), String(argument[argument.index(after: equals)...]))
    }

    /// The words of an option name: split at non-alphanumerics and camelCase humps, lowercased.
    static func words(_ name: String) -> [String] {
        var words: [String] = []
        var current = ""
        var previousLower = false
        for character in name {
            if !(character.isLetter || character.isNumber) {
                if !current.isEmpty { words.append(current) }
                current = ""
                previousLower = false
                continue
            }
            if character.isUppercase && previousLower {
                words.append(current)
                current = ""
            }
            current.append(character)
            previousLower = character.isLowercase || character.isNumber
        }
        if !current.isEmpty { words.append(current) }
        return words.map { $0.lowercased() }
    }

    static func isSecretName(_ name: String) -> Bool { words(name).contains { secretWords.contains($0) } }

    /// Whether `value`, given to option `name`, is to be withheld.
    private static func isSecret(value: String, ofOption name: String) -> Bool {
        let nameWords = words(name)
        guard nameWords.contains(where: { secretWords.contains($0) }) else { return false }
        if value.isEmpty { return false }
        if nameWords.contains(where: { passwordWords.contains($0) }) { return true }
        let lower = value.lowercased()
        if ["true", "false", "yes", "no", "none", "null"].contains(lower) { return false }
        return Double(value) == nil
    }

    /// `--api-key` → `API_KEY`, `db.password` → `DB_PASSWORD`.
    private static func variableName(_ option: String) -> String {
        words(option).joined(separator: "_").uppercased()
    }

    static func isPlaceholder(_ value: String) -> Bool {
        value.hasPrefix(placeholderPrefix) && value.hasSuffix("}")
            && placeholderNames(in: value) == [
                String(value.dropFirst(2).dropLast())
            ]
    }

    /// The names of the placeholders in `argument` (`MLPACK_SECRET_API_KEY`), in order.
    public static func placeholderNames(in argument: String) -> [String] {
        var names: [String] = []
        var rest = argument[...]
        while let start = rest.range(of: placeholderPrefix) {
            let body = rest[start.upperBound...]
            let name = body.prefix { $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "_") }
            let after = body[name.endIndex...]
            if after.first == "}" {
                names.append("MLPACK_SECRET_" + name)
                rest = after.dropFirst()
            } else {
                rest = body
            }
        }
        return names
    }

    /// `argv` with its placeholders filled from `secrets`; the names no secret was given for.
    public static func fill(_ argv: [String], from secrets: [String: String]) -> (argv: [String], missing: [String]) {
        var missing: [String] = []
        let filled = argv.map { argument in
            var text = argument
            for name in placeholderNames(in: argument) {
                guard let value = secrets[name] else {
                    if !missing.contains(name) { missing.append(name) }
                    continue
                }
                text = text.replacingOccurrences(of: "${\(name)}", with: value)
            }
            return text
        }
        return (filled, missing)
    }

    // MARK: Files

    /// Names of files that hold secrets: environment files, credential stores, private keys
    /// and certificates (`*.key` is also a minisign secret key). Sets, not glob patterns: a
    /// traced run asks this of every file it read, tens of thousands of times.
    static let secretFileNames: Set<Substring> = [
        ".env", ".envrc", ".netrc", "_netrc", ".pgpass", ".pypirc", ".git-credentials", ".htpasswd", ".npmrc",
        "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk",
    ]
    /// `.env.*` (`.env.local`, `.env.production`).
    static let secretFilePrefixes = [".env."]
    /// `*.pem`, `*.key`, `*.p12`, `*.pfx`, `*.jks`, `*.keystore`.
    static let secretFileSuffixes = [".pem", ".key", ".p12", ".pfx", ".jks", ".keystore"]
    /// Templates that show which variables to set, without values.
    static let templateSuffixes = [".example", ".sample", ".template", ".dist"]

    /// Whether the file at `path` (any folder) is named like a secret: packed only when named
    /// explicitly, and never in a published pack.
    public static func isSecretFile(_ path: String) -> Bool {
        let name = path.utf8.lastIndex(of: UInt8(ascii: "/")).map { path[path.index(after: $0)...] } ?? path[...]
        // Byte-wise: the names are ASCII, and Character-wise comparison costs more than the rest.
        let bytes = name.utf8
        func ends(_ suffix: String) -> Bool {
            bytes.count >= suffix.utf8.count && bytes.suffix(suffix.utf8.count).elementsEqual(suffix.utf8)
        }
        if templateSuffixes.contains(where: ends) { return false }
        return secretFileSuffixes.contains(where: ends) || secretFileNames.contains(name)
            || secretFilePrefixes.contains(where: { bytes.starts(with: $0.utf8) })
    }
}
