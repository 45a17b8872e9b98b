import Foundation

/// The Python side of a capture: the script the probe runs, and pure parsers for its output
/// and for the usual hand-made captures (`sys.version`, `pip list --format=json`,
/// `pip freeze`, torch's own versions).
enum PythonParsers {
    /// Prints one JSON object: version, implementation, executable, installed distributions
    /// (first one found on sys.path wins, as for imports; name and version from the METADATA
    /// headers, and PEP 610's `direct_url.json` when there is one) and torch's build, read from
    /// `torch/version.py` without importing torch (which takes seconds). The working folder
    /// is left off sys.path so the capture does not depend on where it runs. Written for
    /// every Python 3 (and not to crash on 2).
    static let probeScript = #"""
        import json, os, platform, re, sys
        sys.path = [p for p in sys.path if p not in ("", ".")]
        out = {"version": platform.python_version(), "implementation": platform.python_implementation(),
               "executable": sys.executable, "packages": []}
        try:
            try:
                from importlib import metadata
            except ImportError:
                import importlib_metadata as metadata
            seen = {}
            for dist in metadata.distributions():
                # The Name and Version headers, read as dist.metadata would but without the
                # email parser, which took most of the probe's time with a few hundred packages.
                name = version = None
                try:
                    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
                except Exception:
                    continue
                for line in text.splitlines():
                    if not line.strip():
                        break
                    key, _, value = line.partition(":")
                    key = key.strip().lower()
                    if key == "name" and name is None:
                        name = value.strip()
                    elif key == "version" and version is None:
                        version = value.strip()
                if name and version:
                    seen.setdefault(re.sub(r"[-_.]+", "-", name).lower(), [name, version, dist])
            for name, version, dist in seen.values():
                package = {"name": name, "version": version}
                # PEP 610: how a package not from an index was installed (editable, a path,
                # a VCS URL). Only for the winners: one small file each, most have none.
                try:
                    direct = dist.read_text("direct_url.json")
                    if direct:
                        package["direct"] = json.loads(direct)
                except Exception:
                    pass
                out["packages"].append(package)
        except Exception:
            try:
                import pkg_resources
                out["packages"] = [{"name": d.project_name, "version": d.version} for d in pkg_resources.working_set]
            except Exception:
                pass
        try:
            import importlib.util
            spec = importlib.util.find_spec("torch")
            if spec is not None and spec.origin:
                with open(os.path.join(os.path.dirname(spec.origin), "version.py")) as f:
                    text = f.read()
                v = re.search(r"^__version__\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", text, re.M)
                c = re.search(r"^cuda\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", text, re.M)
                if v:
                    out["torch"] = {"version": v.group(1)}
                    if c:
                        out["torch"]["cuda"] = c.group(1)
        except Exception:
            pass
        sys.stdout.write(json.dumps(out, sort_keys=True))
        """#

    struct Probe: Decodable {
        var version: String
        var implementation: String?
        var executable: String?
        var packages: [ProbePackage]
        var torch: EnvironmentCapture.TorchBuild?
    }

    struct ProbePackage: Decodable {
        var name: String
        var version: String
        var direct: DirectURL?

        private enum CodingKeys: String, CodingKey { case name, version, direct }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            version = try c.decode(String.self, forKey: .version)
            // A malformed direct_url.json costs that package its origin, not the whole capture.
            direct = try? c.decodeIfPresent(DirectURL.self, forKey: .direct)
        }
    }

    /// PEP 610's `direct_url.json`: the fields materialising needs.
    struct DirectURL: Decodable {
        struct DirInfo: Decodable { var editable: Bool? }
        struct VCSInfo: Decodable {
            var vcs: String
            var commitId: String?
            private enum CodingKeys: String, CodingKey {
                case vcs
                case commitId = "commit_id"
            }
        }
        var url: String
        var dirInfo: DirInfo?
        var vcsInfo: VCSInfo?
        private enum CodingKeys: String, CodingKey {
            case url
            case dirInfo = "dir_info"
            case vcsInfo = "vcs_info"
        }
    }

    /// The probe script's output. `projectRoot` (the project the run was recorded in) lets a
    /// package installed from a folder inside it be named relative to it.
    static func probe(
        _ text: String, projectRoot: String? = nil
    ) -> (python: EnvironmentCapture.Python, executable: String?)? {
        guard let probe = try? JSONDecoder().decode(Probe.self, from: Data(text.utf8)), !probe.version.isEmpty else {
            return nil
        }
        let packages = probe.packages.map { package in
            var out = EnvironmentCapture.Package(name: package.name, version: package.version)
            if let direct = package.direct {
                out.directURL = directSource(direct.url, vcs: direct.vcsInfo, projectRoot: projectRoot)
                if direct.dirInfo?.editable == true { out.editable = true }
            }
            return out
        }
        let python = EnvironmentCapture.Python(
            version: probe.version, implementation: probe.implementation, packages: sortedPackages(packages),
            torch: probe.torch)
        return (python, probe.executable.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// Where a package not from an index came from, as a pack may say it: a folder inside the
    /// project relative to it (`.`, `libs/tool`); `local` for a path elsewhere on the author's
    /// machine (which no reviewer has, and which would name private folders); a VCS URL with
    /// its commit (`git+https://host/repo@<commit>`); any other URL as it was. Never with
    /// user or password.
    static func directSource(_ url: String, vcs: DirectURL.VCSInfo?, projectRoot: String?) -> String {
        if url.hasPrefix("file:") {
            var components = URLComponents(string: url)
            components?.host = nil
            let path = components?.path.removingPercentEncoding ?? ""
            guard let projectRoot, path.hasPrefix("/") else { return "local" }
            let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            let root = URL(fileURLWithPath: projectRoot).resolvingSymlinksInPath().path
            if real == root { return "." }
            guard real.hasPrefix(root + "/") else { return "local" }
            let relative = String(real.dropFirst(root.count + 1))
            return PackPath.problem(with: relative) == nil ? relative : "local"
        }
        var components = URLComponents(string: url)
        components?.user = nil
        components?.password = nil
        let plain = components?.string ?? "an unreadable URL"
        guard let vcs else { return plain }
        return "\(vcs.vcs)+\(plain)" + (vcs.commitId.map { "@" + $0 } ?? "")
    }

    /// Lines of `sys.version`, then optionally `sys.executable` (the fixture's python.txt):
    /// "3.12.3 (main, Aug 31 2026, 10:18:26) [GCC 13.3.0]" → version "3.12.3", CPython.
    static func versionText(_ text: String) -> (version: String, implementation: String, executable: String?)? {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.first, let version = first.split(separator: " ").first,
            version.first?.isNumber == true
        else { return nil }
        let implementation = first.contains("PyPy") ? "PyPy" : first.contains("GraalVM") ? "GraalVM" : "CPython"
        let executable = lines.count > 1 && lines[1].hasPrefix("/") ? lines[1] : nil
        return (String(version), implementation, executable)
    }

    /// `pip list --format=json`: `[{"name": …, "version": …}, …]`.
    static func pipList(_ text: String) -> [EnvironmentCapture.Package]? {
        guard let packages = try? JSONDecoder().decode([EnvironmentCapture.Package].self, from: Data(text.utf8)) else {
            return nil
        }
        return sortedPackages(packages)
    }

    /// `pip freeze`: `name==version` lines. Editable installs and direct references
    /// (`name @ file:///…`) name no version, only a location, and are left out.
    static func pipFreeze(_ text: String) -> [EnvironmentCapture.Package] {
        let packages = text.split(whereSeparator: \.isNewline).compactMap { line -> EnvironmentCapture.Package? in
            let line = line.trimmingCharacters(in: .whitespaces)
            guard !line.hasPrefix("#"), !line.hasPrefix("-"), let range = line.range(of: "==") else { return nil }
            let name = line[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
            let version = line[range.upperBound...].drop { $0 == "=" }.prefix { !$0.isWhitespace && $0 != ";" }
            guard !name.isEmpty, !version.isEmpty, !name.contains(" ") else { return nil }
            return .init(name: name, version: String(version))
        }
        return sortedPackages(packages)
    }

    /// `python -c "import torch; print(torch.__version__); print(torch.version.cuda); …"`:
    /// the version on line 1, torch's CUDA on line 2 ("None" for a CPU build).
    static func torchText(_ text: String) -> EnvironmentCapture.TorchBuild? {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let version = lines.first, version.first?.isNumber == true else { return nil }
        let cuda = lines.count > 1 && lines[1] != "None" && lines[1].first?.isNumber == true ? lines[1] : nil
        return .init(version: version, cuda: cuda)
    }

    /// One entry per normalized name (the first wins), in pip's order: by normalized name,
    /// so case and `-`/`_`/`.` do not matter and `pip freeze` lists them the same way.
    /// A distribution whose name or version is not plain (`Package.isPlain`) is left out.
    static func sortedPackages(_ packages: [EnvironmentCapture.Package]) -> [EnvironmentCapture.Package] {
        var seen = Set<String>()
        return packages.filter(\.isPlain).map { (key: normalizedName($0.name), package: $0) }
            .filter { seen.insert($0.key).inserted }
            .sortedBytewise(by: \.key).map(\.package)
    }

    /// PEP 503 normalization: lower case, runs of `-`, `_` and `.` become one `-`.
    static func normalizedName(_ name: String) -> String {
        var out = ""
        var pendingDash = false
        for c in name.lowercased() {
            if c == "-" || c == "_" || c == "." {
                pendingDash = true
            } else {
                if pendingDash && !out.isEmpty { out.append("-") }
                pendingDash = false
                out.append(c)
            }
        }
        return out
    }
}
