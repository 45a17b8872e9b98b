import Foundation

/// Where a replayed run executes. A pack's code is a stranger's code: by default it runs in
/// bubblewrap with no network (a loopback-only namespace), its own PID namespace, the system
/// read-only, no access to the user's home, only its own workspace writable, and an
/// environment holding nothing the pack said but allow-listed numerics settings.
struct Sandbox {
    let bubblewrap: String?
    let allowNetwork: Bool
    /// util-linux's prlimit, which bounds the size of any file a run writes; nil when missing.
    let prlimit = ChildProcess.locate("prlimit")

    var description: String {
        guard bubblewrap != nil else { return "none (unconfined, as asked)" }
        return allowNetwork ? "bubblewrap, network allowed" : "bubblewrap, no network"
    }

    /// The whole environment of every host process a rebuild starts (the launcher, bwrap):
    /// nothing from the pack and nothing of the user's, so no loader or shell variable a
    /// pack names (`LD_PRELOAD`, `BASH_ENV`, …) ever reaches a process outside the sandbox.
    static let hostEnvironment = [
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
    ]

    static func make(allowNetwork: Bool, unsafeNoSandbox: Bool) throws -> Sandbox {
        if unsafeNoSandbox { return Sandbox(bubblewrap: nil, allowNetwork: true) }
        guard let bwrap = ChildProcess.locate("bwrap") else {
            throw MLPackError.usage(
                "bubblewrap (bwrap) is not installed, and a pack's code must not run unconfined: install it (apt install bubblewrap) or pass \(input: .unsafeNoSandbox)"
            )
        }
        let probe = [bwrap, "--ro-bind", "/", "/", "--unshare-all", "--clearenv", "--", "/bin/true"]
        guard ChildProcess.run(probe, timeout: 30, environment: hostEnvironment) != nil else {
            throw MLPackError.usage(
                "bubblewrap cannot create a sandbox here (user namespaces disabled, or bwrap older than 0.5?): fix that, or pass \(input: .unsafeNoSandbox)"
            )
        }
        return Sandbox(bubblewrap: bwrap, allowNetwork: allowNetwork)
    }

    /// The full command line that runs `argv` in `directory` of `workspace`, with `readOnly`
    /// files bound where the run expects them (inputs it named by absolute path, its Python
    /// environment), `writable` folders of the workspace bound a second time elsewhere (the
    /// project where an editable install points) and exactly `environment` inside. `group`
    /// (when the machine has one) bounds processes and memory; no file the run writes may
    /// grow past `maxFileBytes`.
    func command(
        _ argv: [String], workspace: Workspace, directory: String, readOnly: [(source: String, target: String)],
        writable: [(source: String, target: String)] = [], environment: [String: String], group: ControlGroup?,
        maxFileBytes: UInt64
    ) -> [String] {
        var launch: [String] = []
        if let group {
            // Joins the group before anything of the run exists, so every process it starts is counted.
            launch =
                [
                    "/bin/sh", "-c",
                    #"while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@""#,
                    "mlpack-launch",
                ]
                + group.joinFiles + ["--"]
        }
        if let prlimit {
            launch += [prlimit, "--fsize=\(maxFileBytes)", "--core=0", "--"]
        }
        let variables = environment.sorted { $0.key < $1.key }
        guard let bubblewrap else {
            return launch + ["/usr/bin/env", "-i"] + variables.map { "\($0.key)=\($0.value)" }
                + ["/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh", directory] + argv
        }
        var arguments = [bubblewrap, "--die-with-parent", "--new-session", "--unshare-all"]
        if allowNetwork { arguments.append("--share-net") }
        arguments += systemBinds()
        // /tmp and /dev/shm on the workspace's disk: they count towards its size, not memory.
        // What comes after may lie below /tmp (a venv, the workspace itself).
        arguments += [
            "--proc", "/proc", "--dev", "/dev", "--bind", workspace.tmp, "/tmp", "--bind", workspace.shm, "/dev/shm",
            // bwrap's /dev is a tmpfs of its own (half the memory): read-only, but for /dev/shm.
            "--remount-ro", "/dev",
        ]
        arguments += softwareBinds(program: argv.first)
        arguments += ["--bind", workspace.root, workspace.root]
        for bind in readOnly { arguments += ["--ro-bind", bind.source, bind.target] }
        for bind in writable { arguments += ["--bind", bind.source, bind.target] }
        // bwrap's root is a writable tmpfs: once everything is mounted, make it read-only too.
        arguments += ["--remount-ro", "/", "--chdir", directory, "--clearenv"]
        for (name, value) in variables { arguments += ["--setenv", name, value] }
        return launch + arguments + ["--"] + argv
    }

    /// The system, read-only: /usr, /etc (without the password databases), /opt, and the top
    /// folders that are links into /usr.
    private func systemBinds() -> [String] {
        var binds: [String] = []
        for folder in ["/usr", "/etc", "/opt", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
            guard let status = FileSystem.status(folder) else { continue }
            if status.isSymlink, let target = try? FileManager.default.destinationOfSymbolicLink(atPath: folder) {
                binds += ["--symlink", target, folder]
            } else if status.isDirectory {
                binds += ["--ro-bind", folder, folder]
            }
        }
        // The password databases and their backups, and the folders of host keys and
        // connection secrets (readable inside when mlpack runs as root).
        for secret in ["/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers"]
        where FileSystem.status(secret) != nil {
            binds += ["--ro-bind", "/dev/null", secret]
        }
        for folder in [
            "/etc/ssh", "/etc/sudoers.d", "/etc/wireguard", "/etc/NetworkManager/system-connections", "/etc/ipsec.d",
        ]
        where FileSystem.status(folder)?.isDirectory == true {
            binds += ["--tmpfs", folder]
        }
        return binds
    }

    /// The software folders on PATH outside home folders (a conda in /srv), read-only. Below
    /// a home folder only the installation the run's program comes from (its venv, its pyenv
    /// or uv Python) — never the home folder, never a whole `~/.cargo` because it is on PATH.
    private func softwareBinds(program: String?) -> [String] {
        // The user's home, and every home folder: root's, and those below /home.
        let home = Host.current.home.trimmingSuffix("/")
        let homes = Set([home, "/root", "/home"].filter { $0.count > 1 })
        func belowHome(_ path: String) -> Bool { homes.contains { path == $0 || path.hasPrefix($0 + "/") } }
        let system = ["/usr", "/etc", "/opt", "/bin", "/sbin", "/lib", "/proc", "/dev", "/tmp"]
        var software = Set<String>()
        for entry in (Host.current.path ?? "").split(separator: ":") {
            let real = URL(fileURLWithPath: String(entry)).resolvingSymlinksInPath().path
            guard FileSystem.status(real)?.isDirectory == true else { continue }
            let folder = Self.installation(real, homes: homes)
            if belowHome(folder) || system.contains(where: { folder == $0 || folder.hasPrefix($0 + "/") }) { continue }
            software.insert(folder)
        }
        // The program as PATH names it (a venv's bin/python) and what that link resolves to (the
        // Python the venv was made from) — only a name looked up on PATH or an absolute path,
        // never one relative to mlpack's own folder. A program that is no Python (`sh
        // train.sh`) gets python3 as PATH names it: the interpreter whose packages the run's
        // environment capture recorded (RunRecorder.interpreter).
        let programs = [program].compactMap { $0 } + (program.map(RunRecorder.isPython) == true ? [] : ["python3"])
        for program in programs where !program.contains("/") || program.hasPrefix("/") {
            guard let executable = ChildProcess.locate(program) else { continue }
            let asNamed = (executable as NSString).standardizingPath
            for hop in [asNamed, URL(fileURLWithPath: asNamed).resolvingSymlinksInPath().path] where belowHome(hop) {
                let folder = Self.installation((hop as NSString).deletingLastPathComponent, homes: homes)
                if Self.isPythonInstallation(folder) { software.insert(folder) }
            }
        }
        return software.sorted().flatMap { ["--ro-bind", $0, $0] }
    }

    /// A venv (pyvenv.cfg), a Python prefix (bin/python3 beside lib/python3.*) or a pyenv root:
    /// what may be bound from below a home folder. Not ~/.local or ~/.cargo, whatever their
    /// bin/ holds.
    private static func isPythonInstallation(_ folder: String) -> Bool {
        if FileSystem.status(folder + "/pyvenv.cfg")?.isRegular == true { return true }
        if FileSystem.status(folder + "/libexec/pyenv") != nil { return true }
        guard FileSystem.status(folder + "/bin/python3", followLinks: true)?.isRegular == true,
            let libraries = try? FileSystem.directoryEntries(folder + "/lib")
        else { return false }
        return libraries.contains { $0.hasPrefix("python3") }
    }

    /// A tool's installation, not just its bin/ (pyenv's shims need its versions/, a venv its
    /// pyvenv.cfg) — but never the home folder or / itself.
    private static func installation(_ folder: String, homes: Set<String>) -> String {
        guard ["bin", "sbin", "shims"].contains((folder as NSString).lastPathComponent) else { return folder }
        let parent = (folder as NSString).deletingLastPathComponent
        return homes.contains(parent) || parent == "/" ? folder : parent
    }
}

private extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.count > 1 && text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}
