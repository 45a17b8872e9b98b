import Foundation

/// Where a replayed run executes. A pack's code is a stranger's code: by default it runs in
/// bubblewrap with no network (a loopback-only namespace), the system read-only, no access
/// to the user's home, and only its own workspace writable.
struct Sandbox {
    let bubblewrap: String?
    let allowNetwork: Bool

    var description: String {
        guard bubblewrap != nil else { return "none (--unsafe-no-sandbox)" }
        return allowNetwork ? "bubblewrap, network allowed" : "bubblewrap, no network"
    }

    static func make(allowNetwork: Bool, unsafeNoSandbox: Bool) throws -> Sandbox {
        if unsafeNoSandbox { return Sandbox(bubblewrap: nil, allowNetwork: true) }
        guard let bwrap = ChildProcess.locate("bwrap") else {
            throw MLPackError.usage("bubblewrap (bwrap) is not installed, and a pack's code must not run unconfined: install it (apt install bubblewrap) or pass --unsafe-no-sandbox")
        }
        guard ChildProcess.run([bwrap, "--ro-bind", "/", "/", "--unshare-net", "--", "/bin/true"], timeout: 30) != nil else {
            throw MLPackError.usage("bubblewrap cannot create a sandbox here (user namespaces disabled?): fix that, or pass --unsafe-no-sandbox")
        }
        return Sandbox(bubblewrap: bwrap, allowNetwork: allowNetwork)
    }

    /// The full command line that runs `argv` in `directory`, with `workspace` writable and
    /// `readOnly` files bound where the run expects them (inputs it named by absolute path).
    func command(_ argv: [String], workspace: String, directory: String, readOnly: [(source: String, target: String)]) -> [String] {
        guard let bubblewrap else {
            return ["/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh", directory] + argv
        }
        var arguments = [bubblewrap, "--die-with-parent", "--new-session", "--unshare-all"]
        if allowNetwork { arguments.append("--share-net") }
        arguments += systemBinds()
        arguments += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", workspace, workspace]
        for bind in readOnly { arguments += ["--ro-bind", bind.source, bind.target] }
        // bwrap's root is a writable tmpfs: once everything is mounted, make it read-only too.
        arguments += ["--remount-ro", "/", "--chdir", directory, "--"] + argv
        return arguments
    }

    /// The system, read-only: /usr, /etc (without the password databases), /opt, the top
    /// folders that are links into /usr, and the software folders on PATH (a pyenv or conda
    /// below the home folder) — but never the home folder itself.
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
        for secret in ["/etc/shadow", "/etc/gshadow", "/etc/sudoers"] where FileSystem.status(secret) != nil {
            binds += ["--ro-bind", "/dev/null", secret]
        }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        let system = ["/usr", "/etc", "/opt", "/bin", "/sbin", "/lib", "/proc", "/dev", "/tmp"]
        var software = Set<String>()
        for entry in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let real = URL(fileURLWithPath: String(entry)).resolvingSymlinksInPath().path
            guard FileSystem.status(real)?.isDirectory == true else { continue }
            // A tool's installation, not just its bin/ (pyenv's shims need its versions/).
            let parent = (real as NSString).deletingLastPathComponent
            var folder = ["bin", "sbin", "shims"].contains((real as NSString).lastPathComponent) ? parent : real
            if folder == home || folder == "/" { folder = real }
            if real == home || system.contains(where: { folder == $0 || folder.hasPrefix($0 + "/") }) { continue }
            software.insert(folder)
        }
        for folder in software.sorted() { binds += ["--ro-bind", folder, folder] }
        return binds
    }
}
