import Foundation

/// Where the Python of a rebuild's runs comes from (spec/FORMAT.md, "The Python environment
/// of a rebuild").
public struct PythonEnvironmentOptions: Sendable {
    public enum Source: String, Sendable, Codable, CaseIterable {
        /// An environment built with uv from the pack's capture (the default).
        case pack
        /// This machine's own interpreter and packages, as PATH finds them.
        case host
    }

    public var source: Source = .pack
    /// The package index (uv's default, PyPI, when nil).
    public var indexURL: String?
    /// Folders of wheels to install from, besides the index.
    public var findLinks: [String] = []
    /// No network: uv's cache and the find-links folders only, and no `uv python install`.
    public var offline = false

    public init() {}
}

/// One environment capture of the pack, made (or not) into an environment for its runs.
public struct PythonEnvironmentReport: Sendable, Codable, Equatable {
    public struct Missing: Sendable, Codable, Equatable {
        public var name: String
        public var version: String
        public var reason: String
    }

    /// The capture's id in the pack (`env/<id>/`).
    public var environment: String
    public var source: PythonEnvironmentOptions.Source
    /// The Python version the capture recorded.
    public var recorded: String?
    /// The Python version the runs get, as asked inside the sandbox.
    public var used: String?
    /// The interpreter the runs get.
    public var interpreter: String?
    /// The environment's folder (pack source).
    public var folder: String?
    /// True when the environment was in mlpack's cache already (nothing installed now).
    public var reused = false
    /// Where the packages came from: the index, find-links folders, uv's cache.
    public var from: String?
    /// How many packages uv had to fetch or build (the rest came from uv's own cache).
    public var fetched: Int?
    public var seconds: Double?
    /// The packages installed, at the recorded versions.
    public var installed: [EnvironmentCapture.Package] = []
    /// What could not be installed, one reason each.
    public var notInstalled: [Missing] = []
    /// Things the reviewer should know (the project installed from the snapshot, a drifted patch version).
    public var notes: [String] = []
}

/// A built environment, as the sandbox needs it.
struct PythonEnvironment: Sendable {
    /// The environment folder (a relocatable venv), bound read-only at the same path.
    let folder: String
    /// The installation its `bin/python` links to (bound read-only too).
    let basePrefix: String?
    /// The project is installed editable: the run's project is bound at `projectMount`.
    let hasProject: Bool

    var python: String { folder + "/bin/python" }
    var bin: String { folder + "/bin" }

    /// Where an editable install of the project points, inside the sandbox: each run's own
    /// project folder is bound there, so the import finds that run's code.
    static let projectMount = "/mlpack/project"
}

/// Builds, with uv, the Python environment an environment capture describes: an interpreter
/// of the recorded major.minor, the recorded packages at their exact versions (`--no-deps`:
/// the capture is the whole closure), cached by content under `<cache>/envs/`.
public enum PythonEnvironmentBuilder {
    /// Packages that install packages: pinned like the others, but a build never fails on them.
    static let installers: Set<String> = ["pip", "setuptools", "wheel", "distribute"]

    enum Target {
        /// `<cache>/envs/<key>` when complete; else a folder below `scratch` for this rebuild.
        case cache(root: String, scratch: String)
        /// Exactly this folder (`mlpack env build --to`).
        case folder(String)
    }

    /// The environment for `capture`, and what the report says about it. `projectFiles` are
    /// the paths of the code snapshot of the capture's runs (an editable project's import root).
    static func build(
        _ capture: EnvironmentCapture, id: String, projectFiles: [String], options: PythonEnvironmentOptions,
        target: Target, progress: (String) -> Void
    ) throws -> (PythonEnvironment, PythonEnvironmentReport) {
        let started = Date()
        guard let python = capture.python else {
            throw MLPackError.usage("environment \(id) recorded no Python: nothing to build")
        }
        var report = PythonEnvironmentReport(environment: id, source: .pack, recorded: python.version)
        let uv = try UV.locate()
        let wanted = python.version.split(separator: ".").prefix(2).joined(separator: ".")
        let interpreter = try UV.interpreter(wanted, uv: uv, offline: options.offline, progress: progress)

        // What comes from an index, what from the project, what cannot be had.
        var pins: [EnvironmentCapture.Package] = []
        var tools: [EnvironmentCapture.Package] = []
        var project: [EnvironmentCapture.Package] = []
        for package in python.packages {
            if package.directURL == nil {
                let normalized = PythonParsers.normalizedName(package.name)
                if installers.contains(normalized) { tools.append(package) } else { pins.append(package) }
            } else if package.isFromProject {
                project.append(package)
            } else {
                report.notInstalled.append(.init(name: package.name, version: package.version, reason: why(package)))
            }
        }
        let pathLines = project.map { importRoot($0, files: projectFiles) }
        if !project.isEmpty {
            report.notes.append(
                "installed from the code snapshot, editable: \(project.map { "\($0.name) \($0.version)" }.joined(separator: ", "))"
            )
        }

        let key = cacheKey(interpreter: interpreter, pins: pins, tools: tools, project: project, pathLines: pathLines)
        if case .cache(let root, _) = target, let cached = Cached.load(root + "/envs/" + key, key: key) {
            report.folder = root + "/envs/" + key
            report.interpreter = report.folder! + "/bin/python"
            report.reused = true
            report.used = pyvenv(report.folder!, "version_info")
            report.from = "mlpack's environment cache (\(root)/envs)"
            report.installed = cached.installed
            report.notInstalled = cached.notInstalled
            report.seconds = Date().timeIntervalSince(started)
            return (
                PythonEnvironment(folder: report.folder!, basePrefix: cached.basePrefix, hasProject: !project.isEmpty),
                report
            )
        }

        // Built in a temporary folder beside its final place, renamed into place when complete:
        // an interrupted build leaves nothing a later rebuild would trust.
        let parent: String
        switch target {
        case .cache(let root, _): parent = root + "/envs"
        case .folder(let folder): parent = (folder as NSString).deletingLastPathComponent
        }
        try FileSystem.makeDirectories(parent)
        let building = FileSystem.temporaryName(in: parent, prefix: ".building-")
        defer { FileSystem.removeTree(building) }
        progress(
            "building the Python environment of \(id): \(interpreter.path), \(pins.count + tools.count) packages"
        )
        let venv = UV.run(
            [uv, "venv", "--no-config", "--relocatable", "--python", interpreter.path, building], timeout: 600)
        guard venv.ok else {
            throw MLPackError.io(path: building, reason: "uv venv failed: \(UV.lastLine(venv.output))")
        }
        let sources = UV.sources(options)
        report.from = sources.description
        let requirements = building + "/mlpack-requirements.txt"
        // Wheels only: building a source distribution runs its code, here outside the sandbox.
        let install =
            [uv, "pip", "install", "--no-config", "--python", building + "/bin/python", "--no-deps", "--no-build"]
            + sources.arguments
        // One uv call when everything is there (the usual case); else the packages alone, then
        // one by one, to name each that cannot be had — never failing on an installer.
        var fetched = 0
        func installEach(_ packages: [EnvironmentCapture.Package], reason: (String) -> String) {
            for package in packages {
                let one = UV.run(install + ["\(package.name)==\(package.version)"], timeout: 3600)
                if one.ok {
                    fetched += UV.prepared(one.output)
                    report.installed.append(package)
                } else {
                    report.notInstalled.append(
                        .init(name: package.name, version: package.version, reason: reason(UV.lastLine(one.output))))
                }
            }
        }
        let everything = pins + tools
        try writeText(requirements, everything.map { "\($0.name)==\($0.version)\n" }.joined())
        if !everything.isEmpty, case let all = UV.run(install + ["-r", requirements], timeout: 6 * 3600), all.ok {
            fetched += UV.prepared(all.output)
            report.installed = everything
        } else if !everything.isEmpty {
            try writeText(requirements, pins.map { "\($0.name)==\($0.version)\n" }.joined())
            if !pins.isEmpty, case let some = UV.run(install + ["-r", requirements], timeout: 6 * 3600), some.ok {
                fetched += UV.prepared(some.output)
                report.installed = pins
            } else {
                installEach(pins) { $0 }
                report.notInstalled = report.notInstalled.map { missing in
                    var missing = missing
                    if let package = pins.first(where: { $0.name == missing.name }) {
                        missing.reason += hint(for: package)
                    }
                    return missing
                }
            }
            installEach(tools) { "an installer, not needed to run: " + $0 }
        }
        report.fetched = fetched
        if case .folder(let folder) = target, !project.isEmpty {
            // Outside a rebuild there is no snapshot to point at: the colleague's own copy is.
            report.notes = report.notes.filter { !$0.hasPrefix("installed from the code snapshot") }
            report.notes.append(
                "not installed: the project itself (\(project.map(\.name).joined(separator: ", "))), editable: install your copy with uv pip install --python \(folder)/bin/python --no-deps -e PATH"
            )
        } else if !project.isEmpty {
            try installProject(project, pathLines: pathLines, into: building)
        }
        let basePrefix = Self.basePrefix(of: building)

        // Complete when nothing but installers is missing; else kept for this rebuild only.
        let complete = report.notInstalled.allSatisfy {
            installers.contains(PythonParsers.normalizedName($0.name)) || $0.reason.hasPrefix("installed from")
        }
        let final: String
        switch target {
        case .cache(let root, let scratch):
            if complete {
                final = root + "/envs/" + key
            } else {
                try FileSystem.makeDirectories(scratch + "/envs")
                final = scratch + "/envs/" + id
                report.notes.append("not cached: some packages could not be installed")
            }
        case .folder(let folder): final = folder
        }
        try Cached(
            key: key, basePrefix: basePrefix, installed: report.installed, notInstalled: report.notInstalled
        ).save(building)
        if FileSystem.status(final) != nil {
            // Another rebuild finished the same environment first: the same content.
            guard case .cache = target, complete, Cached.load(final, key: key) != nil else {
                throw MLPackError.usage("\(final) exists already: give a folder that does not exist")
            }
        } else {
            try FileSystem.rename(building, final)
        }
        report.folder = final
        report.interpreter = final + "/bin/python"
        report.used = pyvenv(final, "version_info")
        report.seconds = Date().timeIntervalSince(started)
        let hasProject: Bool
        if case .folder = target { hasProject = false } else { hasProject = !project.isEmpty }
        return (PythonEnvironment(folder: final, basePrefix: basePrefix, hasProject: hasProject), report)
    }

    /// `mlpack env build PACK[#ID] --to DIR`: the environment a rebuild would make for one
    /// of the pack's environment captures, at `folder`, for a colleague outside a rebuild.
    public static func build(
        _ source: String, to folder: String, options: PythonEnvironmentOptions, limits: ReaderLimits = .init(),
        progress: (String) -> Void = { _ in }
    ) throws -> PythonEnvironmentReport {
        var path = source
        var wanted: String?
        if FileSystem.status(source, followLinks: true) == nil, let hash = source.lastIndex(of: "#") {
            path = String(source[..<hash])
            wanted = String(source[source.index(after: hash)...])
        }
        let target = RunFiles.canonical(folder, cwd: Host.current.workingDirectory)
        guard FileSystem.status(target) == nil else {
            throw MLPackError.usage(
                "\(input: .destination) \(folder) exists already: give a folder that does not exist")
        }
        let pack = try PackFile(path: path, limits: limits)
        let (capture, _, id) = try EnvironmentSource.fromPack(pack, id: wanted)
        guard capture.python != nil else {
            throw MLPackError.usage("\(path): environment \(id) recorded no Python: nothing to build")
        }
        return try build(
            capture, id: id, projectFiles: [], options: options, target: .folder(target), progress: progress
        ).1
    }

    /// Why a package not from an index is not installed.
    private static func why(_ package: EnvironmentCapture.Package) -> String {
        guard let source = package.directURL, source != "local" else {
            return
                "installed from a folder or file outside the project on the author's machine, which the pack does not hold"
        }
        return "installed from \(source), not from an index: install it by hand if you trust it"
    }

    /// A local-version build (`torch 2.4.0+cu121`) is on its own index, not on PyPI.
    private static func hint(for package: EnvironmentCapture.Package) -> String {
        guard let plus = package.version.firstIndex(of: "+") else { return "" }
        let local = String(package.version[package.version.index(after: plus)...])
        if local.hasPrefix("cu") || local.hasPrefix("cpu") || local.hasPrefix("rocm") {
            return
                " (a local-version build, +\(local): it is on its own index, e.g. --index-url https://download.pytorch.org/whl/\(local))"
        }
        return " (a local-version build, +\(local): it comes from another index than the public one)"
    }

    /// The folder an editable install of `package` puts on sys.path inside the sandbox: its
    /// project folder, or that folder's `src/` when the snapshot has one (the src layout).
    static func importRoot(_ package: EnvironmentCapture.Package, files: [String]) -> String {
        let folder = package.directURL == "." ? "" : (package.directURL ?? "") + "/"
        let root = PythonEnvironment.projectMount + (folder.isEmpty ? "" : "/" + folder.dropLast())
        return files.contains { $0.hasPrefix(folder + "src/") } ? root + "/src" : root
    }

    /// The editable project as pip would leave it, without building anything: a `.pth` naming
    /// its import root (bound per run) and a dist-info, so `importlib.metadata` knows it.
    private static func installProject(
        _ packages: [EnvironmentCapture.Package], pathLines: [String], into folder: String
    ) throws {
        guard let site = sitePackages(folder) else {
            throw MLPackError.io(path: folder, reason: "the new environment has no site-packages")
        }
        try writeText(site + "/mlpack-project.pth", pathLines.map { $0 + "\n" }.joined())
        for (package, root) in zip(packages, pathLines) {
            let name = PythonParsers.normalizedName(package.name).replacingOccurrences(of: "-", with: "_")
            let info = site + "/\(name)-\(package.version).dist-info"
            try FileSystem.makeDirectories(info)
            try writeText(
                info + "/METADATA", "Metadata-Version: 2.1\nName: \(package.name)\nVersion: \(package.version)\n")
            try writeText(info + "/INSTALLER", "mlpack\n")
            try writeText(info + "/RECORD", "")
            let url = "file://" + (root.hasSuffix("/src") ? String(root.dropLast(4)) : root)
            try writeText(info + "/direct_url.json", #"{"dir_info": {"editable": true}, "url": "\#(url)"}"# + "\n")
        }
    }

    private static func sitePackages(_ folder: String) -> String? {
        guard let entries = try? FileSystem.directoryEntries(folder + "/lib"),
            let python = entries.first(where: { $0.hasPrefix("python") })
        else { return nil }
        return folder + "/lib/" + python + "/site-packages"
    }

    /// The installation a venv was made from (pyvenv.cfg's `home` is its bin/).
    static func basePrefix(of folder: String) -> String? {
        guard let home = pyvenv(folder, "home") else { return nil }
        return (URL(fileURLWithPath: home).resolvingSymlinksInPath().path as NSString).deletingLastPathComponent
    }

    /// A value of a venv's pyvenv.cfg (`home`, `version_info`).
    static func pyvenv(_ folder: String, _ key: String) -> String? {
        guard let text = try? String(contentsOfFile: folder + "/pyvenv.cfg", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, parts[0] == key { return parts[1] }
        }
        return nil
    }

    /// The environment's name in the cache: SHA-256 of the interpreter, the platform and the pin set.
    private static func cacheKey(
        interpreter: UV.Interpreter, pins: [EnvironmentCapture.Package], tools: [EnvironmentCapture.Package],
        project: [EnvironmentCapture.Package], pathLines: [String]
    ) -> String {
        var text = "mlpack python environment 1\npython \(interpreter.path) \(interpreter.identity)\n"
        text += "platform \(EnvironmentProbe.unameText() ?? "") \(EnvironmentProbe.libcVersion() ?? "")\n"
        text += pins.map { "pin \($0.name)==\($0.version)\n" }.sorted().joined()
        text += tools.map { "tool \($0.name)==\($0.version)\n" }.sorted().joined()
        for (package, line) in zip(project, pathLines) {
            text += "project \(package.name)==\(package.version) \(line)\n"
        }
        return String(SHA256Hasher.hex(Array(text.utf8)).prefix(32))
    }

    private static func writeText(_ path: String, _ text: String) throws {
        let file = try PosixFile(path: path, mode: .createTruncate)
        try file.write(Array(text.utf8))
    }

    /// `mlpack-env.json` in a finished environment: what it holds. Written last, before the
    /// rename that makes the environment visible.
    struct Cached: Codable {
        var formatVersion = 1
        var key: String
        var basePrefix: String?
        var installed: [EnvironmentCapture.Package]
        var notInstalled: [PythonEnvironmentReport.Missing]

        init(
            key: String, basePrefix: String?, installed: [EnvironmentCapture.Package],
            notInstalled: [PythonEnvironmentReport.Missing]
        ) {
            self.key = key
            self.basePrefix = basePrefix
            self.installed = installed
            self.notInstalled = notInstalled
        }

        func save(_ folder: String) throws {
            try PythonEnvironmentBuilder.writeText(
                folder + "/mlpack-env.json", String(decoding: try JSONText.encode(self), as: UTF8.self))
        }

        /// The environment at `folder` when it is the one for `key` and its interpreter still
        /// exists (a Python removed since leaves a venv that cannot start).
        static func load(_ folder: String, key: String) -> Cached? {
            guard let bytes = FileManager.default.contents(atPath: folder + "/mlpack-env.json"),
                let cached = try? JSONText.decode(Cached.self, from: Array(bytes)), cached.key == key,
                FileSystem.status(folder + "/bin/python", followLinks: true)?.isRegular == true
            else { return nil }
            return cached
        }
    }
}

/// The uv program, run outside the sandbox with the user's own settings (cache, proxies,
/// certificates) and nothing of the pack's.
enum UV {
    struct Interpreter {
        var path: String
        /// Its resolved path, size and modification time.
        var identity: String
    }

    static func locate() throws -> String {
        guard let uv = ChildProcess.locate("uv") else {
            throw MLPackError.usage(
                "uv is needed to build the pack's Python environment: install it (python3 -m pip install uv, or see https://docs.astral.sh/uv/), or use this machine's Python with \(input: .pythonEnv) host"
            )
        }
        return uv
    }

    /// An interpreter of `version` (major.minor): this machine's, else one uv installs.
    static func interpreter(
        _ version: String, uv: String, offline: Bool, progress: (String) -> Void
    ) throws
        -> Interpreter
    {
        let find = [uv, "python", "find", "--no-config"]
        var found = ChildProcess.run(
            find + ["--python-preference", "only-system", "--no-python-downloads", version], timeout: 60,
            environment: environment)
        if found == nil, !offline {
            progress("no Python \(version) on this machine: uv python install \(version)")
            let installed = run([uv, "python", "install", "--no-config", version], timeout: 1800)
            guard installed.ok else {
                throw MLPackError.usage(
                    "the pack's runs used Python \(version), which this machine lacks and uv could not install (\(lastLine(installed.output))): install Python \(version), or use this machine's Python with \(input: .pythonEnv) host"
                )
            }
            found = ChildProcess.run(find + [version], timeout: 60, environment: environment)
        }
        let path = found?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        // The binary's size and time stand for its version in the cache key (no process to
        // start): an upgrade in place makes another environment.
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard path.hasPrefix("/"), let attributes = try? FileManager.default.attributesOfItem(atPath: real) else {
            throw MLPackError.usage(
                "the pack's runs used Python \(version), which this machine lacks\(offline ? " (and \(input: .offline) forbids uv python install)" : ""): install Python \(version), or use this machine's Python with \(input: .pythonEnv) host"
            )
        }
        let size = (attributes[.size] as? NSNumber)?.uint64Value ?? 0
        let time = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return Interpreter(path: path, identity: "\(real) \(size) \(time)")
    }

    /// The index and find-links options, and how the report words them.
    static func sources(_ options: PythonEnvironmentOptions) -> (arguments: [String], description: String) {
        var arguments: [String] = []
        var words: [String] = []
        if let index = options.indexURL {
            arguments += ["--index-url", index]
            words.append("index \(index)")
        } else if !options.offline {
            words.append("the default index (PyPI, or UV_INDEX_URL)")
        }
        for folder in options.findLinks {
            arguments += ["--find-links", folder]
            words.append("find-links \(folder)")
        }
        if options.offline {
            arguments.append("--offline")
            words.append("uv's cache (offline)")
        }
        return (arguments, words.joined(separator: ", "))
    }

    /// The user's variables uv needs (its settings, the cache, proxies, certificates), none
    /// that would point it at an environment of theirs.
    static var environment: [String: String] {
        let names: Set = [
            "HOME", "PATH", "TMPDIR", "LANG", "LC_ALL", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME",
            "SSL_CERT_FILE", "SSL_CERT_DIR", "NETRC",
        ]
        return Host.current.environment.filter { name, _ in
            names.contains(name) || name.hasPrefix("UV_") || name.lowercased().hasSuffix("_proxy")
        }.merging(["NO_COLOR": "1"]) { $1 }
    }

    /// Runs uv with its output (both streams) kept for the error message.
    static func run(_ arguments: [String], timeout: Double) -> (ok: Bool, output: String) {
        let log = FileSystem.temporaryName(in: Host.current.temporaryDirectory, prefix: "mlpack-uv-")
        defer { try? FileManager.default.removeItem(atPath: log) }
        guard
            let outcome = try? LoggedCommand.run(arguments, log: log, environment: environment, timeout: timeout)
        else { return (false, "cannot run \(arguments[0])") }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return (outcome.termination == .exited(0) && !outcome.timedOut, output)
    }

    /// The line of uv's output that says why it failed, without its tree drawing.
    static func lastLine(_ output: String) -> String {
        let lines = output.split(separator: "\n").map {
            $0.trimmingCharacters(in: CharacterSet(charactersIn: " ╰─▶│├").union(.whitespaces))
        }.filter { !$0.isEmpty }
        return lines.last(where: { !$0.hasPrefix("hint:") }) ?? "uv failed"
    }

    /// "Prepared 3 packages in 1.2s": how many uv fetched or built rather than took from its cache.
    static func prepared(_ output: String) -> Int {
        for line in output.split(separator: "\n") where line.hasPrefix("Prepared ") {
            return Int(line.split(separator: " ")[1]) ?? 0
        }
        return 0
    }
}
