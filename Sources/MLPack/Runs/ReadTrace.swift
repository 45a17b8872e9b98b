import Foundation

/// `mlpack run --trace`: the files the command opened for reading and those it wrote (opened
/// for writing, or renamed into place), found by running it under `strace -f -qq -e
/// trace=… -o LOG`. What is data among the files read is decided by
/// `RunRecorder.tracedInputs` (not the system's, the Python installation's or the code's);
/// only files written are claimed as outputs, whatever else changed meanwhile.
///
/// strace -f waits for every process the command started, so a traced run ends when the
/// last of them ended, not when the command itself did.
struct ReadTrace {
    let strace: String
    let log: String

    /// A trace ready to wrap the command, or nil (with the reason) when strace is missing or
    /// cannot trace here (ptrace is forbidden in some containers).
    static func prepare() -> (trace: ReadTrace?, problem: String?) {
        guard let strace = ChildProcess.locate("strace") else { return (nil, "strace is not installed") }
        guard
            ChildProcess.run(
                [strace, "-f", "-qq", "-e", "trace=openat", "-o", "/dev/null", "--", "/bin/true"], timeout: 10) != nil
        else {
            return (nil, "strace cannot trace here (ptrace not permitted?)")
        }
        let log = FileSystem.temporaryName(in: FileManager.default.temporaryDirectory.path, prefix: "mlpack-trace-")
        return (ReadTrace(strace: strace, log: log), nil)
    }

    /// The command line that runs `executable` (already resolved) under strace.
    func wrap(executable: String, arguments: [String]) -> [String] {
        [
            strace, "-f", "--seccomp-bpf", "-qq", "-e", "trace=openat,open,creat,rename,renameat,renameat2", "-o", log,
            "--", executable,
        ]
            + arguments.dropFirst()
    }

    /// The files of a trace: read-only opens, and files written.
    struct Files: Equatable {
        var read: [String] = []
        var written: [String] = []
    }

    /// The regular files the command opened read-only, and those it wrote, that still exist,
    /// absolute with links resolved, each once, in the order first opened. Removes the log.
    func files(cwd: String) -> Files {
        defer { unlink(log) }
        guard let data = FileManager.default.contents(atPath: log) else { return Files() }
        let parsed = Self.parse(String(decoding: data, as: UTF8.self), cwd: cwd)
        return Files(read: Self.existing(parsed.read), written: Self.existing(parsed.written))
    }

    /// The paths that are regular files now, links resolved, each once, in order. `known`
    /// paths are already such (the project's files after the run): they cost no system call.
    static func existing(_ paths: [String], known: (String) -> Bool = { _ in false }) -> [String] {
        var seen = Set<String>()
        return paths.compactMap { path in
            if known(path) { return seen.insert(path).inserted ? path : nil }
            guard let resolved = RunFiles.realPath(path), seen.insert(resolved).inserted,
                FileSystem.status(resolved)?.isRegular == true
            else { return nil }
            return resolved
        }
    }

    /// Folders whose files are never a run's data: the system's.
    static let systemPrefixes = [
        "/proc/", "/sys/", "/dev/", "/usr/", "/etc/", "/bin/", "/sbin/", "/opt/", "/var/", "/run/", "/snap/", "/nix/",
    ]

    /// Whether a file outside the project belongs to the system rather than to the run's data.
    static func isSystemFile(_ path: String) -> Bool {
        if systemPrefixes.contains(where: { path.hasPrefix($0) }) { return true }
        // /lib, /lib32, /lib64, /libx32 (not /library).
        let top = path.dropFirst().prefix { $0 != "/" }
        if top == "lib" || (top.hasPrefix("lib") && top.dropFirst(3).allSatisfy { $0.isNumber || $0 == "x" }) {
            return true
        }
        // Packages pip or a build tool unpacked into a temporary folder.
        return path.hasPrefix("/tmp/") && path.contains("/site-packages/")
    }

    /// Where `python` keeps its installation and packages (prefixes, site-packages, the user
    /// site), plus pyenv's root: whatever the interpreter and its shims read on the side.
    static func pythonPrefixes(python: String?) -> [String] {
        let script =
            "import json, site, sys\n"
            + "paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]\n"
            + "try: paths += site.getsitepackages()\nexcept Exception: pass\n"
            + "try: paths.append(site.getusersitepackages())\nexcept Exception: pass\n"
            + "print(json.dumps(paths))\n"
        var prefixes: [String] = []
        if let output = ChildProcess.run([python ?? "python3", "-c", script], timeout: 10),
            let paths = try? JSONDecoder().decode([String].self, from: Data(output.utf8))
        {
            prefixes = paths
        }
        let environment = Host.current.environment
        if let pyenv = environment["PYENV_ROOT"] ?? environment["HOME"].map({ $0 + "/.pyenv" }) {
            prefixes.append(pyenv)
        }
        return prefixes.filter { $0.hasPrefix("/") && $0 != "/" }.flatMap { prefix -> [String] in
            let folder = prefix.hasSuffix("/") ? prefix : prefix + "/"
            guard let resolved = RunFiles.realPath(prefix), resolved + "/" != folder else { return [folder] }
            return [folder, resolved + "/"]
        }
    }

    /// How a traced read that is not data to hash is recorded (path only, as the record's
    /// `privateReads`), or nil when it is recorded as an input: a file under the home folder
    /// outside the project (`~/.netrc`, `~/.aws/credentials`: the user's, not the run's data;
    /// named from `~`), or a file named like a secret wherever it is. Its size and digest
    /// would let anyone with a guess confirm it.
    static func pathOnly(_ file: String, recorded: String, home: String) -> String? {
        if recorded.hasPrefix("/"), home.count > 1, file.hasPrefix(home + "/") {
            return "~" + file.dropFirst(home.count)
        }
        return SecretScrubber.isSecretFile(file) ? recorded : nil
    }

    // MARK: Parsing strace's log

    /// The paths of successful read-only `open`/`openat` calls and of files written
    /// (`open`/`openat` for writing, `creat`, the new name of a `rename*`), in order, made
    /// absolute against `cwd` (a call relative to another folder's descriptor is skipped: its
    /// folder is unknown). Lines look like
    ///
    ///     1234  openat(AT_FDCWD, "data/x.csv", O_RDONLY|O_CLOEXEC) = 3
    ///     1234  openat(AT_FDCWD, "a", O_RDONLY <unfinished ...>
    ///     1234  <... openat resumed>) = 3
    static func parse(_ text: String, cwd: String) -> Files {
        var unfinished: [Substring: Substring] = [:]
        var files = Files()
        func absolute(_ path: String) -> String {
            path.hasPrefix("/")
                ? path
                : URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true))
                    .standardizedFileURL.path
        }
        for rawLine in text.split(separator: "\n") {
            var line = rawLine[...]
            // The pid column (-f).
            var pid: Substring = ""
            if let space = line.firstIndex(of: " "), line[..<space].allSatisfy(\.isNumber) {
                pid = line[..<space]
                line = line[space...].drop { $0 == " " }
            }
            if line.hasSuffix("<unfinished ...>") {
                unfinished[pid] = line.dropLast("<unfinished ...>".count)
                continue
            }
            if line.hasPrefix("<... ") {
                guard let start = unfinished.removeValue(forKey: pid), let marker = line.range(of: "resumed>") else {
                    continue
                }
                line = Substring(String(start) + line[marker.upperBound...])
            }
            guard let (path, written) = opened(line) else { continue }
            if written { files.written.append(absolute(path)) } else { files.read.append(absolute(path)) }
        }
        return files
    }

    /// The path of one complete call line that succeeded, and whether it wrote the file.
    static func opened(_ line: Substring) -> (path: String, written: Bool)? {
        guard let open = line.firstIndex(of: "("), let equals = line.range(of: ") = ", options: .backwards),
            line[equals.upperBound...].first?.isNumber == true
        else { return nil }
        let call = line[..<open]
        var arguments = line[line.index(after: open)...]
        /// The next path argument: a descriptor first (`*at` calls) when `relative`. The path
        /// is relative to the descriptor unless absolute or AT_FDCWD.
        func path(relative: Bool) -> String? {
            var directory: Substring = "AT_FDCWD"
            if relative {
                guard let comma = arguments.firstIndex(of: ",") else { return nil }
                directory = arguments[..<comma]
                arguments = arguments[arguments.index(after: comma)...].drop { $0 == " " }
            }
            guard let (path, after) = quoted(arguments) else { return nil }
            arguments = after.drop { $0 == "," || $0 == " " }
            return directory == "AT_FDCWD" || path.hasPrefix("/") ? path : nil
        }
        switch call {
        case "open", "openat":
            guard let path = path(relative: call == "openat") else { return nil }
            let flags = arguments.prefix { $0 != "," && $0 != ")" }.split(separator: "|")
            let readOnly = flags.first == "O_RDONLY" && !flags.contains("O_CREAT") && !flags.contains("O_TRUNC")
            // O_RDONLY|O_CREAT may create an empty file, but writes nothing into it.
            return flags.first == "O_RDONLY" && !readOnly ? nil : (path, !readOnly)
        case "creat": return path(relative: false).map { ($0, true) }
        case "rename", "renameat", "renameat2":
            let relative = call != "rename"
            guard path(relative: relative) != nil else { return nil }
            return path(relative: relative).map { ($0, true) }
        default: return nil
        }
    }

    /// A C-escaped string literal at the start of `text` (`"…"`, with `\"`, `\\`, `\n`,
    /// `\ooo` octal and `\xhh` escapes: strace writes non-ASCII bytes in octal) and what
    /// follows it.
    static func quoted(_ text: Substring) -> (String, Substring)? {
        guard text.first == "\"" else { return nil }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var i = 1
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "\"") {
                let restIndex = text.utf8.index(text.utf8.startIndex, offsetBy: i + 1)
                return (String(decoding: out, as: UTF8.self), text[restIndex...])
            }
            guard byte == UInt8(ascii: "\\"), i + 1 < bytes.count else {
                out.append(byte)
                i += 1
                continue
            }
            let next = bytes[i + 1]
            i += 2
            switch next {
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "v"): out.append(0x0b)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "x"):
                var value: UInt8 = 0
                var digits = 0
                while digits < 2, i < bytes.count, let digit = Hex.digitValue(bytes[i]) {
                    value = value << 4 | digit
                    i += 1
                    digits += 1
                }
                out.append(value)
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = UInt32(next - UInt8(ascii: "0"))
                var digits = 1
                while digits < 3, i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(bytes[i]) {
                    value = value << 3 | UInt32(bytes[i] - UInt8(ascii: "0"))
                    i += 1
                    digits += 1
                }
                out.append(UInt8(truncatingIfNeeded: value))
            default: out.append(next)  // \" \\ and anything else stand for themselves
            }
        }
        return nil
    }
}
