import Foundation
import TestSupport
import Testing

/// `verify --rebuild` against packs made by an attacker: records edited after `mlpack run`,
/// code that behaves only when it is being rebuilt (its HOME is a workspace's `…/home`).
/// Each attack must fail inside the sandbox or be refused before it, and leave the reviewer's
/// machine as it was: canaries untouched, no process left behind.
@Suite("Red team: a hostile pack against verify --rebuild")
struct RedTeamTests: RebuildSuite {
    /// Python that knows whether it is being rebuilt.
    static let rebuilding = "import os\nREBUILDING = os.environ.get('HOME', '').endswith('/home')\n"

    /// The pids of processes with `marker` among their arguments.
    static func processes(running marker: String) -> [String] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return pids.filter { pid in
            pid.allSatisfy(\.isNumber)
                && ((try? readBytes("/proc/\(pid)/cmdline")).map {
                    String(decoding: $0, as: UTF8.self).contains(marker)
                } ?? false)
        }
    }

    /// A run's limits hit, as "LIMIT: DETAIL".
    static func limitsHit(_ run: [String: Any]) -> [String] {
        (run["limitsHit"] as? [[String: Any]] ?? []).map { "\($0["limit"] ?? ""): \($0["detail"] ?? "")" }
    }

    func report(_ result: ProcessResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any], "\(result)")
    }

    func output(_ report: [String: Any], _ path: String) throws -> [String: Any] {
        try #require((report["outputs"] as? [[String: Any]])?.first { $0["path"] as? String == path }, "\(report)")
    }

    func firstRun(_ report: [String: Any]) throws -> [String: Any] {
        try #require((report["runs"] as? [[String: Any]])?.first)
    }

    @Test(
        "a record's LD_PRELOAD (and any loader or shell variable) reaches no process: the canary stays absent, the report names what it dropped"
    )
    func loaderVariables() async throws {
        try await withSandbox { box in
            let canary = box.path("canary")
            try box.write(
                "evil.c",
                """
                #include <fcntl.h>
                #include <unistd.h>
                __attribute__((constructor)) static void owned(void) {
                    int fd = open("\(canary)", O_WRONLY | O_CREAT | O_APPEND, 0644);
                    if (fd >= 0) { write(fd, "owned\\n", 6); close(fd); }
                }

                """)
            let compiler = exists("/usr/bin/cc") ? "cc" : "clang"
            try await must(compiler, ["-shared", "-fPIC", "-o", box.path("evil.so"), box.path("evil.c")])
            // The attack works where nothing filters it: loaded into any dynamically linked program.
            try await must("/bin/sh", ["-c", "true"], environment: ["LD_PRELOAD": box.path("evil.so")])
            #expect(exists(canary), "the shared object must work for this test to mean anything")
            try FileManager.default.removeItem(atPath: canary)

            let root = try await project(
                in: box, ["make.py": "open('out.txt', 'w').write('42')\n", ".gitignore": "out.txt\n"])
            try await record(["--", "python3", "make.py"], in: root)
            try editRecord(in: root) { record in
                record["setVariables"] = [
                    "LD_PRELOAD": box.path("evil.so"), "LD_LIBRARY_PATH": box.path(""), "GCONV_PATH": box.path(""),
                    "BASH_ENV": box.path("evil.sh"), "ENV": box.path("evil.sh"), "PATH": box.path(""),
                    "PYTHONPATH": box.path(""), "OMP_NUM_THREADS": "1",
                ]
            }
            let pack = box.path("preload.mlpack")
            try await create(pack, from: root, of: "out.txt")

            let text = try await mlpack(["verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned"])
            #expect(text.status == 0, "\(text)")
            #expect(!exists(canary), "the pack's LD_PRELOAD was loaded by a process mlpack started")
            #expect(text.out.contains("ignored variable LD_PRELOAD from the pack"), "\(text)")
            let result = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--json",
            ])
            #expect(!exists(canary))
            let ignored = try firstRun(try report(result))["ignoredVariables"] as? [String] ?? []
            #expect(
                ignored == ["BASH_ENV", "ENV", "GCONV_PATH", "LD_LIBRARY_PATH", "LD_PRELOAD", "PATH", "PYTHONPATH"],
                "\(ignored)")
        }
    }

    @Test("a pack swapped on disk after the trust check: the pack replayed is the one that was trusted")
    func swapAfterTrustCheck() async throws {
        try await withSandbox { box in
            let password = ["MLPACK_PASSWORD": "red team"]
            try await must(
                try Repo.mlpackBinary(), ["key", "generate", "--output", box.path("author")], environment: password)
            // Incompressible weights: verifying them takes long enough to swap the file meanwhile.
            let trusted = try await project(
                in: box,
                [
                    "train.py": "import random\nopen('w.bin', 'wb').write(random.Random(0).randbytes(96 << 20))\n",
                    ".gitignore": "w.bin\n",
                ])
            try await record(["--", "python3", "train.py"], in: trusted)
            let signed = try await mlpack(
                [
                    "create", "--output", box.path("trusted.mlpack"), "--output-of", "w.bin", "--key",
                    box.path("author.key"),
                ],
                cwd: trusted, environment: password)
            #expect(signed.status == 0, "\(signed)")
            try FileManager.default.moveItem(atPath: trusted, toPath: box.path("trusted-project"))
            let impostor = try await project(
                in: box, ["train.py": "open('w.bin', 'wb').write(b'impostor')\n", ".gitignore": "w.bin\n"])
            try await record(["--", "python3", "train.py", "--impostor"], in: impostor)
            try await create(box.path("impostor.mlpack"), from: impostor, of: "w.bin")

            let pack = box.path("review.mlpack")
            try FileManager.default.copyItem(atPath: box.path("trusted.mlpack"), toPath: pack)
            // As soon as mlpack holds the pack open, the impostor takes its name.
            let attack = try await sh(
                """
                "$1" verify "$2" --rebuild --key "$3" --json > "$4" 2>/dev/null & pid=$!
                n=0
                until ls -l /proc/$pid/fd 2>/dev/null | grep -q "$2"; do n=$((n+1)); [ $n -gt 20000 ] && break; sleep 0.001; done
                mv -f "$5" "$2"
                kill -0 $pid 2>/dev/null && echo "swapped while it ran"
                wait $pid
                echo "status $?"
                """,
                [
                    try Repo.mlpackBinary(), pack, box.path("author.pub"), box.path("report.json"),
                    box.path("impostor.mlpack"),
                ])
            #expect(attack.out.contains("swapped while it ran"), "\(attack)")
            let result = try #require(
                try JSONSerialization.jsonObject(with: Data(readBytes(box.path("report.json")))) as? [String: Any],
                "\(attack)")
            let command = try firstRun(result)["command"] as? [String]
            #expect(command == ["python3", "train.py"], "the impostor's code was replayed: \(command ?? [])")
            #expect(result["verdict"] as? String == "reproduced", "\(attack)")
            #expect(attack.out.contains("status 0"), "\(attack)")
        }
    }

    @Test("an output under a folder the run replaced by a link to the host is missing, never read")
    func linkedOutputFolder() async throws {
        try await withSandbox { box in
            let secret = try box.mkdir("secret")
            try box.write("secret/metrics.json", #"{"loss": 0.25, "leaked": 424242.5}"#, mode: 0o600)
            let root = try await project(
                in: box,
                [
                    "train.py": Self.rebuilding + """
                        import json, sys
                        if REBUILDING:
                            os.symlink(sys.argv[1], "out")
                        else:
                            os.makedirs("out", exist_ok=True)
                            json.dump({"loss": 0.25}, open("out/metrics.json", "w"))
                        open("model.txt", "w").write("trained")

                        """, ".gitignore": "out/\nmodel.txt\n",
                ])
            try await record(["--metrics", "out/metrics.json", "--", "python3", "train.py", secret], in: root)
            let pack = box.path("link.mlpack")
            try await create(pack, from: root, of: "model.txt")

            let result = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--json",
            ])
            #expect(result.status == 4, "\(result)")
            let metrics = try output(try report(result), "out/metrics.json")
            #expect(metrics["verdict"] as? String == "missing")
            #expect((metrics["note"] as? String ?? "").contains("not a regular file in the workspace"), "\(metrics)")
            #expect(!result.out.contains("424242"), "a host file's value reached the report")
        }
    }

    @Test("a run whose id names mlpack's own folder cannot plant the output it is compared against")
    func forgedVerdict() async throws {
        try await withSandbox { box in
            // The forger plants its own weights under the name mlpack gives its copy of the
            // recorded ones (their digest, which the code can recompute), then writes the same.
            let root = try await project(
                in: box,
                [
                    "train.py": Self.rebuilding + """
                        import hashlib
                        import numpy as np
                        from safetensors.numpy import save, save_file
                        recorded = save({"w": np.ones(4, dtype=np.float32)})
                        if REBUILDING:
                            digest = hashlib.sha256(recorded).hexdigest()
                            for folder in ["..", "../..", "../../expected"]:
                                try:
                                    save_file({"w": np.zeros(4, dtype=np.float32)}, f"{folder}/{digest}-model.safetensors")
                                except OSError:
                                    pass
                            save_file({"w": np.zeros(4, dtype=np.float32)}, "model.safetensors")
                        else:
                            open("model.safetensors", "wb").write(recorded)

                        """, ".gitignore": "*.safetensors\n",
                ])
            try await record(["--", "python3", "train.py"], in: root)
            try editRecord(in: root) { $0["id"] = "expected" }
            let pack = box.path("forged.mlpack")
            try await create(pack, from: root, of: "model.safetensors")

            let result = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--json",
            ])
            #expect(result.status == 4, "weights this code never made were accepted: \(result)")
            #expect(try output(try report(result), "model.safetensors")["verdict"] as? String == "different")
        }
    }

    @Test(
        "a run handed its own answer (the shipped weights as its input) does not reproduce them; every card output gets a row"
    )
    func handedItsAnswer() async throws {
        try await withSandbox { box in
            // "Resume from a checkpoint": when the weights are there already, do nothing.
            let root = try await project(
                in: box,
                [
                    "train.py": """
                    import os
                    if not os.path.exists("model.bin"):
                        open("model.bin", "wb").write(os.urandom(64))

                    """, ".gitignore": "model.bin\n",
                ])
            try await record(["--", "python3", "train.py"], in: root)
            try editRecord(in: root) { record in
                let outputs = record["outputs"] as? [[String: Any]] ?? []
                record["inputs"] = outputs
            }
            let pack = box.path("answer.mlpack")
            try await create(pack, from: root, of: "model.bin")
            let result = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--json",
            ])
            #expect(result.status == 4, "a run that was handed its output was accepted: \(result)")
            let rows = try #require(try report(result)["outputs"] as? [[String: Any]])
            let weights = try #require(
                rows.first { $0["item"] as? String == "artifacts/model.bin" && $0["decisive"] as? Bool == true })
            #expect(weights["verdict"] as? String == "missing", "\(weights)")
        }
    }

    @Test("software folders on PATH below the home folder stay out of the sandbox; the run's own venv there is bound")
    func homeSoftwareFolders() async throws {
        try await withSandbox { box in
            let home = try box.mkdir("home")
            try box.write("home/.cargo/bin/cargo-tool", "#!/bin/sh\n", mode: 0o755)
            let credentials = try box.write("home/.cargo/credentials.toml", "token = \"cio-secret\"\n")
            try await must("python3", ["-m", "venv", "--without-pip", "--system-site-packages", home + "/venv"])
            let environment = [
                "HOME": home,
                "PATH": "\(home)/venv/bin:\(home)/.cargo/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? ""),
            ]
            let root = try await project(
                in: box,
                [
                    "read.py": """
                    import sys
                    try:
                        found = "read: " + open(sys.argv[1]).read()
                    except OSError:
                        found = "blocked"
                    open("out.txt", "w").write(sys.prefix.endswith("/venv") and found or "not the venv")

                    """, ".gitignore": "out.txt\n",
                ])
            let recorded = try await mlpack(
                ["run", "--", "python", "read.py", credentials], cwd: root, environment: environment)
            #expect(recorded.status == 0, "\(recorded)")
            #expect(String(decoding: try readBytes(root + "/out.txt"), as: UTF8.self).hasPrefix("read: "))
            let pack = box.path("home.mlpack")
            try await create(pack, from: root, of: "out.txt")

            let result = try await mlpack(
                [
                    "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--workdir",
                    box.path("work"), "--json",
                ],
                environment: environment)
            #expect(result.status == 4, "\(result)")
            let run = try firstRun(try report(result))
            #expect(run["status"] as? String == "ok", "the venv below the home folder must be usable: \(run)")
            let rebuilt = try FileManager.default.subpathsOfDirectory(atPath: box.path("work/runs")).first {
                $0.hasSuffix("project/out.txt")
            }
            let text = String(decoding: try readBytes(box.path("work/runs/") + (try #require(rebuilt))), as: UTF8.self)
            #expect(text == "blocked", "read ~/.cargo from the sandbox: \(text)")
        }
    }

    @Test(
        "reads of ~/.ssh, /root, /etc/shadow, writes outside, the host's loopback and network, a daemon: all fail inside, nothing is left"
    )
    func escapes() async throws {
        try await withSandbox { box in
            let home = try box.mkdir("home")
            let key = try box.write("home/.ssh/id_ed25519", "PRIVATE KEY\n", mode: 0o600)
            let canary = try box.write("canary", "untouched\n")
            let marker = "mlpack-red-team-" + UUID().uuidString.lowercased()
            let outside = "/var/tmp/" + marker
            // A server on the host's loopback, there for the run to reach if it could.
            try box.write(
                "serve.py",
                """
                import os, socket, sys, time
                os.closerange(3, 65536)
                server = socket.socket()
                server.bind(("127.0.0.1", 0))
                server.listen(8)
                with open(sys.argv[1] + ".tmp", "w") as f:
                    f.write(str(server.getsockname()[1]))
                os.rename(sys.argv[1] + ".tmp", sys.argv[1])
                time.sleep(120)

                """)
            let server = try await sh(
                """
                python3 "$1" "$2" </dev/null >/dev/null 2>&1 & echo $!
                for _ in $(seq 100); do [ -f "$2" ] && break; sleep 0.1; done
                """, [box.path("serve.py"), box.path("port")])
            let serverPid = server.out.trimmingCharacters(in: .whitespacesAndNewlines)
            defer { kill(pid_t(serverPid) ?? 0, SIGKILL) }
            let port = String(decoding: try readBytes(box.path("port")), as: UTF8.self)

            let root = try await project(
                in: box,
                [
                    "probe.py": Self.rebuilding + """
                        import socket, subprocess, sys
                        key, canary, outside, marker, port = sys.argv[1:6]
                        escaped = []
                        def attempt(name, action):
                            try:
                                if action() is not False:
                                    escaped.append(name)
                            except Exception:
                                pass
                        if REBUILDING:
                            attempt("read ~/.ssh", lambda: open(key).read() != "")
                            # /root may hold the run's own interpreter (a pyenv there), bound read-only; nothing else.
                            for name in [".bashrc", ".profile", ".gitconfig", ".bash_history", ".ssh/id_ed25519", ".ssh/id_rsa"]:
                                attempt("read /root/" + name, lambda: open("/root/" + name).read() is not None)
                            attempt("read /etc/shadow", lambda: open("/etc/shadow").read() != "")
                            # The host's canary, not a file of that name in the sandbox's own /tmp.
                            attempt("overwrite the canary", lambda: open(canary).read() == "untouched\\n" and open(canary, "w").write("owned") > 0)
                            attempt("write outside", lambda: open(outside, "w").write("escaped"))
                            attempt("write /dev (a tmpfs of half the memory)", lambda: open("/dev/mlpack-probe", "w").write("x") > 0)
                            attempt("read /etc/shadow-", lambda: open("/etc/shadow-").read() != "")
                            attempt("host loopback", lambda: socket.create_connection(("127.0.0.1", int(port)), timeout=3))
                            attempt("host network", lambda: socket.create_connection(("192.0.2.1", 80), timeout=3))
                            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", marker],
                                             start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        open("escapes.txt", "w").write("".join(e + "\\n" for e in escaped))

                        """, ".gitignore": "escapes.txt\n",
                ])
            try await record(["--", "python3", "probe.py", key, canary, outside, marker, port], in: root)
            #expect(try readBytes(root + "/escapes.txt").isEmpty)
            let pack = box.path("escape.mlpack")
            try await create(pack, from: root, of: "escapes.txt")

            let result = try await mlpack(
                [
                    "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--workdir",
                    box.path("work"), "--json",
                ],
                environment: ["HOME": home])
            let escapes = (try? FileManager.default.subpathsOfDirectory(atPath: box.path("work/runs")))?.first {
                $0.hasSuffix("project/escapes.txt")
            }
            .flatMap { try? readBytes(box.path("work/runs/") + $0) }.map { String(decoding: $0, as: UTF8.self) }
            #expect(escapes == "", "escaped the sandbox: \(escapes ?? "no escapes.txt")")
            #expect(result.status == 0, "\(result)")
            #expect(String(decoding: try readBytes(canary), as: UTF8.self) == "untouched\n")
            #expect(!exists(outside))
            try? FileManager.default.removeItem(atPath: outside)
            #expect(Self.processes(running: marker).isEmpty, "the run's daemon outlived it")
        }
    }

    @Test("a fork bomb is bounded by the process limit, and no process of it is left")
    func forkBomb() async throws {
        try await withSandbox { box in
            let marker = "mlpack-fork-bomb-" + UUID().uuidString.lowercased()
            let root = try await project(
                in: box,
                [
                    "bomb.py": Self.rebuilding + """
                        import sys, time
                        started = 0
                        if REBUILDING:
                            # Bounded here too (2000), so a machine without the limit survives the test.
                            for _ in range(2000):
                                try:
                                    pid = os.fork()
                                except OSError:
                                    break
                                if pid == 0:
                                    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(120)", sys.argv[1]])
                                started += 1
                        open("model.txt", "w").write("trained")

                        """, ".gitignore": "model.txt\n",
                ])
            try await record(["--", "python3", "bomb.py", marker], in: root)
            let pack = box.path("bomb.mlpack")
            try await create(pack, from: root, of: "model.txt")

            let result = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--max-processes", "64",
                "--timeout", "120", "--json",
            ])
            let report = try report(result)
            let limits = try #require(report["limits"] as? [String: Any])
            #expect(
                (limits["notEnforced"] as? [String] ?? []).isEmpty, "this machine should bound processes: \(limits)")
            let hit = Self.limitsHit(try firstRun(report))
            #expect(hit.contains { $0.contains("process limit reached (64 processes") }, "\(hit)")
            #expect(Self.processes(running: marker).isEmpty, "processes of the bomb are left")
        }
    }

    @Test(
        "filling the disk stops at --max-workspace-size; a memory hog stops at --max-memory; the defaults are in the report"
    )
    func diskAndMemory() async throws {
        try await withSandbox { box in
            let root = try await project(
                in: box,
                [
                    "fill.py": Self.rebuilding + """
                        import time
                        if REBUILDING:
                            try:
                                open("big.bin", "wb").write(b"x" * (48 << 20))
                            except OSError as error:
                                print("one big file:", error, flush=True)
                            os.makedirs("fill", exist_ok=True)
                            for n in range(400):
                                open(f"fill/{n}.bin", "wb").write(os.urandom(1 << 20))
                                time.sleep(0.02)
                        open("model.txt", "w").write("trained")

                        """,
                    "hog.py": Self.rebuilding + """
                        if REBUILDING:
                            hog = [b"x" * (16 << 20) for _ in range(64)]
                        open("hog.txt", "w").write("done")

                        """,
                    ".gitignore": "model.txt\nhog.txt\nbig.bin\nfill/\n",
                ])
            try await record(["--", "python3", "fill.py"], in: root)
            let pack = box.path("fill.mlpack")
            try await create(pack, from: root, of: "model.txt")
            let filled = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--max-workspace-size", "20M",
                "--workdir",
                box.path("w1"), "--json",
            ])
            #expect(filled.status == 4, "\(filled)")
            let run = try firstRun(try report(filled))
            #expect(run["status"] as? String == "stopped", "\(run)")
            #expect(
                Self.limitsHit(run).contains { $0.contains("workspace size limit reached (20 MB") },
                "\(run)")
            #expect(
                (run["logTail"] as? [String] ?? []).contains {
                    $0.contains("one big file") && $0.contains("File too large")
                }, "\(run)")
            #expect(FileSystem.diskUsage(box.path("w1/runs")) < 64 << 20)

            try FileManager.default.removeItem(atPath: root + "/.mlpack/runs")
            try await record(["--", "python3", "hog.py"], in: root)
            let hogPack = box.path("hog.mlpack")
            try await create(hogPack, from: root, of: "hog.txt")
            let hog = try await mlpack([
                "verify", hogPack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--max-memory", "256M",
                "--json",
            ])
            #expect(hog.status == 4, "\(hog)")
            let hogRun = try firstRun(try report(hog))
            #expect(
                Self.limitsHit(hogRun).contains { $0.contains("memory limit reached (256 MB)") },
                "\(hogRun)")

            // No flags: every bound is on, at its default.
            let limits = try #require(try report(hog)["limits"] as? [String: Any])
            #expect(limits["timeout"] as? Double == 21600)
            #expect(limits["maxWorkspaceBytes"] as? Int == 32 << 30)
            #expect(limits["maxProcesses"] as? Int == 4096)
        }
    }
}

/// The disk a folder takes, as `du` counts it.
private enum FileSystem {
    static func diskUsage(_ path: String) -> Int {
        let walker = FileManager.default.enumerator(atPath: path)
        var total = 0
        while let name = walker?.nextObject() as? String {
            var st = stat()
            if lstat(path + "/" + name, &st) == 0 { total += Int(st.st_blocks) * 512 }
        }
        return total
    }
}
