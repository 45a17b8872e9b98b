/// Lock and requirements files in a code snapshot: the author's own statement of the
/// environment, recorded by path and digest next to what the machine actually had.
public enum LockFiles {
    static let exactNames: Set<String> = [
        "environment.yml", "environment.yaml", "conda-lock.yml", "conda-lock.yaml", "poetry.lock", "Pipfile",
        "Pipfile.lock", "uv.lock", "pdm.lock", "pixi.lock", "pyproject.toml", "setup.cfg",
    ]

    /// The files of `codeFiles` (paths relative to the snapshot) that describe an
    /// environment: `requirements*.txt` (and `*.txt` in a `requirements/` folder),
    /// `environment.yml`, `*conda-lock.yml`, `poetry.lock`, `Pipfile(.lock)`, `uv.lock`,
    /// `pdm.lock`, `pixi.lock`, `pyproject.toml`, `setup.cfg`; sorted bytewise by path.
    public static func find(in codeFiles: [(path: String, sha256: String)]) -> [EnvironmentCapture.LockFile] {
        codeFiles.filter { isLockFile($0.path) }
            .map { EnvironmentCapture.LockFile(path: $0.path, sha256: $0.sha256) }
            .sortedBytewise(by: \.path)
    }

    static func isLockFile(_ path: String) -> Bool {
        let components = path.split(separator: "/")
        guard let name = components.last.map(String.init) else { return false }
        if exactNames.contains(name) || name.hasSuffix(".conda-lock.yml") || name.hasSuffix(".conda-lock.yaml") {
            return true
        }
        if name.hasPrefix("requirements") && name.hasSuffix(".txt") { return true }
        return name.hasSuffix(".txt") && components.dropLast().last == "requirements"
    }
}
