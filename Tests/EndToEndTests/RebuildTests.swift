import Foundation
import TestSupport
import Testing

/// `mlpack verify --rebuild`: replay a pack's lineage in bubblewrap and compare the outputs.
@Suite("Verify by rebuild")
struct RebuildTests: RebuildSuite {
    @Test("the demo's two-stage pack rebuilds to reproduced; the reports say so in Markdown and JSON")
    func demoReproduces() async throws {
        try await withSandbox { box in
            let (pack, project) = try await demoPack(in: box)
            let cache = box.path("cache")
            let result = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--cache", cache, "--report",
                box.path("review.md"),
            ])
            #expect(result.status == 0, "\(result)")
            #expect(result.out.contains("sandbox: bubblewrap, no network"))
            #expect(result.out.contains("result: REPRODUCED"))
            #expect(result.err.contains("run 1/2 \"pretrain\""), "progress per run on the terminal")
            let markdown = String(decoding: try readBytes(box.path("review.md")), as: UTF8.self)
            #expect(markdown.contains("**Result: reproduced**"))
            #expect(markdown.contains("| identical | `artifacts/finetuned.safetensors`"))

            let jsonReport = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--cache", cache, "--json",
                "--report",
                box.path("review.json"),
            ])
            #expect(jsonReport.status == 0, "\(jsonReport)")
            let report = try #require(try JSONSerialization.jsonObject(with: jsonReport.stdout) as? [String: Any])
            #expect(report["verdict"] as? String == "reproduced")
            #expect(report["workdir"] == nil, "the workspaces are removed unless kept")
            let runs = try #require(report["runs"] as? [[String: Any]])
            #expect(runs.map { $0["name"] as? String } == ["pretrain", "finetune"])
            #expect(runs.allSatisfy { $0["status"] as? String == "ok" })
            let outputs = try #require(report["outputs"] as? [[String: Any]])
            let weights = try #require(outputs.first { $0["item"] as? String == "artifacts/finetuned.safetensors" })
            #expect(weights["verdict"] as? String == "identical")
            #expect(weights["decisive"] as? Bool == true)
            #expect(try json(box.path("review.json"))["verdict"] as? String == "reproduced")

            // --keep leaves the workspaces and logs.
            let kept = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--cache", cache, "--workdir",
                box.path("work"), "-q",
            ])
            #expect(kept.status == 0, "\(kept)")
            #expect(exists(box.path("work")))
            #expect(
                try FileManager.default.subpathsOfDirectory(atPath: box.path("work")).contains { $0.hasSuffix(".log") })

            // Missing data: a clear error naming the reference and where it was looked for; nothing runs.
            try FileManager.default.moveItem(atPath: project + "/dataset", toPath: box.path("dataset-moved"))
            let missing = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--cache",
                box.path("empty-cache"),
            ])
            #expect(missing.status == 2, "\(missing)")
            #expect(missing.errLines.filter { $0.contains("error") }.count == 1, "\(missing)")
            #expect(missing.err.contains("missing data: data reference dataset (mounted at dataset"))
            #expect(missing.err.contains("not in the cache"))
            #expect(!missing.err.contains("run 1/2"))
        }
    }

    /// Issue 21: what a batch scheduler's jobs run, one run each, in a shared folder.
    @Test("a rebuild in parts: each run replayed alone in a shared --workdir, then --collect compares: reproduced")
    func inParts() async throws {
        try await withSandbox { box in
            let (pack, _) = try await demoPack(in: box)
            let inspected = try await mlpack(["inspect", pack, "--json"])
            let lineage = try #require(
                (try JSONSerialization.jsonObject(with: inspected.stdout) as? [String: Any])?["lineage"]
                    as? [[String: Any]])
            let ids = lineage.compactMap { $0["run"] as? String }
            #expect(ids.count == 2)
            let common = [
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--cache", box.path("cache"),
                "--workdir", box.path("shared"),
            ]
            // The second run alone first: the first's workspace is not there to read from.
            let early = try await mlpack(common + ["--replay-run", ids[1]])
            #expect(early.status == 2 && early.err.contains("was not replayed in"), "\(early)")
            try? FileManager.default.removeItem(atPath: box.path("shared"))

            let incomplete = try await mlpack(common + ["--collect"])
            #expect(incomplete.status == 4 && incomplete.out.contains("not run"), "\(incomplete)")
            for id in ids {
                let step = try await mlpack(common + ["--replay-run", id])
                #expect(step.status == 0 && step.out == "run \(id): ok\n", "\(step)")
                #expect(exists(box.path("shared/results/\(id).json")))
            }
            let collected = try await mlpack(common + ["--collect", "--report", box.path("review.md")])
            #expect(collected.status == 0, "\(collected)")
            #expect(collected.out.contains("result: REPRODUCED"))
            #expect(!collected.err.contains("run 1/2"), "nothing is replayed again")
            let markdown = String(decoding: try readBytes(box.path("review.md")), as: UTF8.self)
            #expect(markdown.contains("| identical | `artifacts/finetuned.safetensors`"))

            let unknown = try await mlpack(common + ["--replay-run", "nope"])
            #expect(unknown.status == 2 && unknown.err.contains("no run nope to replay"), "\(unknown)")
            let alone = try await mlpack(["verify", pack, "--collect"])
            #expect(alone.status == 2, "\(alone)")
        }
    }

    @Test(
        "training seeded from the clock rebuilds to not reproduced (exit 4) with the numbers; a loose --atol accepts it"
    )
    func clockSeed() async throws {
        try await withSandbox { box in
            let pack = try await clockSeededPack(in: box)

            let untrusted = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--workdir", box.path("never"),
            ])
            #expect(untrusted.status == 3, "\(untrusted)")
            #expect(!exists(box.path("never")), "nothing runs before the signature is trusted")

            let result = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--report", box.path("r.json"),
            ])
            #expect(result.status == 4, "\(result)")
            #expect(result.out.contains("result: NOT REPRODUCED"))
            #expect(result.out.contains("different"))
            #expect(result.out.contains("max abs"))
            #expect(result.out.contains("in w"))
            #expect(result.out.contains("workspaces and logs kept in"))
            let report = try json(box.path("r.json"))
            #expect(report["verdict"] as? String == "not reproduced")
            let outputs = try #require(report["outputs"] as? [[String: Any]])
            let model = try #require(outputs.first { $0["item"] as? String == "artifacts/model.safetensors" })
            #expect(model["verdict"] as? String == "different")
            let comparison = try #require(model["comparison"] as? [String: Any])
            #expect((comparison["maxAbsoluteDifference"] as? Double ?? 0) > 0)
            #expect(comparison["worst"] as? String == "w")
            let tensors = try #require(comparison["tensors"] as? [[String: Any]])
            #expect(tensors.first { $0["name"] as? String == "steps" }?["verdict"] as? String == "identical")
            let metrics = try #require(outputs.first { ($0["path"] as? String) == "metrics.json" })
            #expect(metrics["verdict"] as? String == "different")
            if let workdir = report["workdir"] as? String { try? FileManager.default.removeItem(atPath: workdir) }

            // Standard-normal weights never differ by 100: within tolerance, and the timing does not count.
            let loose = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--atol", "100", "--json",
            ])
            #expect(loose.status == 0, "\(loose)")
            let looseReport = try #require(try JSONSerialization.jsonObject(with: loose.stdout) as? [String: Any])
            #expect(looseReport["verdict"] as? String == "reproduced")
            let looseOutputs = try #require(looseReport["outputs"] as? [[String: Any]])
            #expect(
                looseOutputs.first { $0["item"] as? String == "artifacts/model.safetensors" }?["verdict"] as? String
                    == "within tolerance")
        }
    }

    /// Issue 24: a git-tracked config given with -i became a data reference no one could
    /// fetch, and only the reviewer found out, told to "give --data-uri".
    @Test(
        "tracked -i inputs travel as code; an unfetchable reference is warned about; a reviewer gives --data NAME=PATH")
    func unfetchableInputs() async throws {
        try await withSandbox { box in
            let root = try await project(
                in: box,
                [
                    "configs/base.yaml": "scale: 3\n",
                    "train.py": """
                    rows = open("data/rows.csv").read().split()
                    scale = int(open("configs/base.yaml").read().split(":")[1])
                    open("out.txt", "w").write(str(scale * sum(map(int, rows))))

                    """, ".gitignore": "data/\nout.txt\n",
                ])
            try box.write("project/data/rows.csv", "1\n2\n")
            try box.write("project/data/more.csv", "4\n")
            try await record(
                ["-i", "configs/base.yaml", "-i", "configs", "-i", "data", "--", "python3", "train.py"], in: root)
            let runs = try await mlpack(["runs", "--json"], cwd: root)
            #expect(!runs.out.contains("configs"), "tracked inputs are code, not data inputs: \(runs.out)")

            let pack = box.path("data.mlpack")
            let made = try await mlpack(
                ["create", "--output", pack, "--output-of", "out.txt", "--unsigned"], cwd: root)
            #expect(made.status == 0, "\(made)")
            #expect(
                made.errLines.contains {
                    $0.contains("data reference data has no public URI") && $0.contains("--data data=PATH")
                        && $0.contains("--data-uri data=https://")
                }, "\(made)")
            #expect(!made.err.contains("configs"), "\(made)")
            let named = try await mlpack(
                [
                    "create", "--output", box.path("named.mlpack"), "--output-of", "out.txt", "--unsigned",
                    "--data-uri", "data=https://example.org/rows/",
                ],
                cwd: root)
            #expect(named.status == 0 && !named.err.contains("no public URI"), "\(named)")
            let unknown = try await mlpack(
                [
                    "create", "--output", box.path("x.mlpack"), "--output-of", "out.txt", "--unsigned", "--data-uri",
                    "nope=https://example.org/",
                ],
                cwd: root)
            #expect(unknown.status == 2 && unknown.err.contains("no data reference nope (it has: data)"), "\(unknown)")
            #expect(!exists(box.path("x.mlpack")))

            let keys = try await mlpack(["key", "generate", "--output", box.path("author"), "--unencrypted"])
            #expect(keys.status == 0, "\(keys)")
            let published = try await mlpack(
                ["redact", pack, "--output", box.path("public.mlpack"), "--public", "--key", box.path("author.key")])
            #expect(published.status == 0, "\(published)")
            #expect(published.err.contains("data reference data has no public URI"), "\(published)")

            // The reviewer: the author's path is gone; she holds a copy.
            try FileManager.default.moveItem(atPath: root + "/data", toPath: box.path("copy"))
            let rebuild = ["verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned"]
            let missing = try await mlpack(rebuild + ["--cache", box.path("cache-1")])
            #expect(missing.status == 2 && missing.err.contains("--data NAME=PATH"), "\(missing)")
            let given = try await mlpack(
                rebuild + ["--cache", box.path("cache-2"), "--data", "data=" + box.path("copy")])
            #expect(given.status == 0 && given.out.contains("REPRODUCED"), "\(given)")
            let checked = try await mlpack([
                "verify", pack, "--allow-unsigned", "--cache", box.path("cache-3"), "--data=data=" + box.path("copy"),
            ])
            #expect(checked.status == 0 && checked.out.contains("fetched"), "\(checked)")

            try box.write("copy/more.csv", "5\n")
            let altered = try await mlpack(
                rebuild + ["--cache", box.path("cache-4"), "--data", "data=" + box.path("copy")])
            #expect(altered.status != 0 && altered.status != 4, "\(altered)")
            let blobs = (try? FileManager.default.contentsOfDirectory(atPath: box.path("cache-4/blobs/sha256"))) ?? []
            #expect(blobs.isEmpty, "nothing of a reference that failed is cached: \(blobs)")
            let wrongName = try await mlpack(
                rebuild + ["--cache", box.path("cache-5"), "--data", "dataset=" + box.path("copy")])
            #expect(
                wrongName.status == 2 && wrongName.errLines.filter { $0.contains("error") }.count == 1, "\(wrongName)")
            #expect(wrongName.err.contains("has no data reference dataset (it has: data)"), "\(wrongName)")
        }
    }

    /// Issue 24: a rebuild showed nothing of the running step.
    @Test("--follow shows each run's output as it runs, with control characters made harmless")
    func follow() async throws {
        try await withSandbox { box in
            let root = try await project(
                in: box,
                [
                    "train.py": """
                    import sys, time
                    print("epoch 1 \\x1b]0;owned\\x07\\x1b[2J", flush=True)
                    time.sleep(0.3)
                    print("epoch 2", file=sys.stderr, flush=True)
                    open("out.txt", "w").write("done")

                    """, ".gitignore": "out.txt\n",
                ])
            try await record(["--", "python3", "train.py"], in: root)
            let pack = box.path("follow.mlpack")
            try await create(pack, from: root, of: "out.txt")
            let followed = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--follow",
            ])
            #expect(followed.status == 0, "\(followed)")
            let lines = followed.errLines
            let first = try #require(lines.firstIndex { $0.hasPrefix("epoch 1") }, "\(followed)")
            #expect(lines[first] == "epoch 1 ?]0;owned??[2J", "\(lines[first])")
            let second = try #require(lines.firstIndex(of: "epoch 2"), "\(followed)")
            let done = try #require(lines.firstIndex { $0.contains(": ok in ") }, "\(followed)")
            #expect(first < second && second < done, "\(lines)")
            #expect(!followed.err.contains("\u{1b}"))
            let quiet = try await mlpack(["verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned"])
            #expect(quiet.status == 0 && !quiet.err.contains("epoch"), "\(quiet)")
        }
    }

    /// Issue 24: `PYTHONPATH=. mlpack run` worked live, and the rebuild failed to import.
    @Test("PYTHONPATH inside the project and MPLBACKEND are recorded and replayed; one leaving the project is refused")
    func pythonPathAndBackendReplayed() async throws {
        try await withSandbox { box in
            let root = try await project(
                in: box,
                [
                    "lib/helper.py": "VALUE = 41\n",
                    "train.py": """
                    import os, helper
                    open("out.txt", "w").write(f"{helper.VALUE + 1} {os.environ.get('MPLBACKEND')}")

                    """, ".gitignore": "out.txt\n",
                ])
            let outside = try box.mkdir("elsewhere")
            let run = try await mlpack(
                ["run", "--", "python3", "train.py"], cwd: root,
                environment: ["PYTHONPATH": "lib:\(outside)", "MPLBACKEND": "Agg"])
            #expect(run.status == 0, "\(run)")
            #expect(run.errLines.contains { $0.contains("PYTHONPATH: \(outside) is outside the project") }, "\(run)")
            #expect(String(decoding: try readBytes(root + "/out.txt"), as: UTF8.self) == "42 Agg")
            let line = try #require(run.errLines.last { $0.hasPrefix("mlpack: recorded run ") })
            let id = String(line.dropFirst("mlpack: recorded run ".count).prefix { $0 != " " })
            let shown = try await mlpack(["runs", "show", id, "--json"], cwd: root)
            let record = try #require(try JSONSerialization.jsonObject(with: shown.stdout) as? [String: Any])
            #expect(record["pythonPath"] as? [String] == ["lib"], "\(shown)")
            let pack = box.path("path.mlpack")
            try await create(pack, from: root, of: "out.txt")
            let rebuilt = try await mlpack(
                ["verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--json"],
                environment: ["PYTHONPATH": "", "MPLBACKEND": ""])
            #expect(rebuilt.status == 0, "\(rebuilt)")

            try editRecord(in: root) { $0["pythonPath"] = ["lib", "../../etc"] }
            let hostile = box.path("hostile.mlpack")
            try await create(hostile, from: root, of: "out.txt")
            let refused = try await mlpack([
                "verify", hostile, "--rebuild", "--python-env", "host", "--allow-unsigned",
            ])
            #expect(
                refused.status != 0 && refused.err.contains("PYTHONPATH entry ../../etc leaves the project"),
                "\(refused)")
        }
    }

    @Test("a rebuilt metrics file holding NaN and Infinity, as Python writes them, compares by value")
    func nonFiniteMetrics() async throws {
        try await withSandbox { box in
            let root = try await project(
                in: box,
                [
                    "train.py": """
                    import json
                    json.dump({"loss": float("nan"), "best": float("inf"), "accuracy": 0.5}, open("metrics.json", "w"))
                    open("model.txt", "w").write("trained")

                    """, ".gitignore": "model.txt\nmetrics.json\n",
                ])
            try await record(["--metrics", "metrics.json", "--", "python3", "train.py"], in: root)
            #expect(String(decoding: try readBytes(root + "/metrics.json"), as: UTF8.self).contains("NaN"))
            let pack = box.path("nan.mlpack")
            try await create(pack, from: root, of: "model.txt")
            let result = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--json",
            ])
            #expect(result.status == 0, "\(result)")
            let report = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
            let metrics = try #require(
                (report["outputs"] as? [[String: Any]])?.first { $0["path"] as? String == "metrics.json" })
            #expect(["identical", "equivalent"].contains(metrics["verdict"] as? String), "\(metrics)")
        }
    }

    @Test(
        "verify --rebuild and diff open each pack once (counted with strace); a piped pack rebuilds from its one copy")
    func opensOnce() async throws {
        try await withSandbox { box in
            let root = try await project(
                in: box, ["make.py": "open('out.txt', 'w').write('42')\n", ".gitignore": "out.txt\n"])
            try await record(["--", "python3", "make.py"], in: root)
            let pack = box.path("once.mlpack")
            try await create(pack, from: root, of: "out.txt")
            try FileManager.default.copyItem(atPath: pack, toPath: box.path("twice.mlpack"))
            let piped = try await mlpackFromPipe(
                pack, ["verify", "-", "--rebuild", "--python-env", "host", "--allow-unsigned"])
            #expect(piped.status == 0 && piped.out.contains("result: REPRODUCED"), "\(piped)")
            let trace = box.path("trace")
            for (arguments, packs) in [
                (
                    [
                        "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--unsafe-no-sandbox",
                        "-q",
                    ], [pack]
                ),
                (["diff", pack, box.path("twice.mlpack")], [pack, box.path("twice.mlpack")]),
            ] {
                let traced = try await run(
                    "strace",
                    ["-f", "-qq", "-e", "trace=open,openat,openat2", "-o", trace, try Repo.mlpackBinary()] + arguments)
                #expect(traced.status == 0, "\(traced)")
                let opens = String(decoding: try readBytes(trace), as: UTF8.self).split(separator: "\n")
                for path in packs {
                    let count = opens.filter { $0.contains("\"\(path)\"") && !$0.contains("ENOENT") }.count
                    #expect(count == 1, "\(arguments[0]) opened \(path) \(count) times")
                }
            }
        }
    }

    @Test("a run that opens a network connection fails inside the sandbox, and the report says so")
    func network() async throws {
        try await withSandbox { box in
            let root = try await project(
                in: box,
                [
                    "fetch.py": """
                    import sys, urllib.request
                    data = urllib.request.urlopen(sys.argv[1], timeout=20).read()
                    open("downloaded.bin", "wb").write(data)

                    """, ".gitignore": "downloaded.bin\n",
                ])
            try box.write("served/blob", "weights from a server\n")
            // Recorded with a server on this machine's loopback; the sandbox has its own, empty.
            // The server answers one request and exits, holding none of the harness's files.
            try box.write(
                "serve.py",
                """
                import functools, http.server, os, sys
                os.closerange(3, 65536)
                handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
                server = http.server.HTTPServer(("127.0.0.1", 0), handler)
                server.timeout = 60
                with open(sys.argv[2] + ".tmp", "w") as f:
                    f.write(str(server.server_address[1]))
                os.rename(sys.argv[2] + ".tmp", sys.argv[2])
                server.handle_request()

                """)
            let recorded = try await sh(
                """
                python3 "$3" "$1" "$4" </dev/null >/dev/null 2>&1 &
                for _ in $(seq 100); do [ -f "$4" ] && break; sleep 0.1; done
                "$2" run -- python3 fetch.py "http://127.0.0.1:$(cat "$4")/blob"; status=$?
                wait
                exit $status
                """, [box.path("served"), try Repo.mlpackBinary(), box.path("serve.py"), box.path("port")], cwd: root)
            #expect(recorded.status == 0, "\(recorded)")
            let pack = box.path("net.mlpack")
            try await create(pack, from: root, of: "downloaded.bin")

            let result = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--report", box.path("r.md"),
            ])
            #expect(result.status == 4, "\(result)")
            #expect(result.out.contains("failed"))
            #expect(result.out.contains("network refused"), "\(result)")
            #expect(result.out.contains("missing"))
            let markdown = String(decoding: try readBytes(box.path("r.md")), as: UTF8.self)
            #expect(markdown.contains("**Sandbox:** network refused"))
            #expect(markdown.contains("**Result: NOT reproduced**"))
        }
    }

    @Test("a run that writes outside its workspace fails inside the sandbox, and nothing lands there")
    func writeOutside() async throws {
        try await withSandbox { box in
            // Outside /tmp (the sandbox's /tmp is a private tmpfs) and outside the project.
            let outside = "/var/tmp/mlpack-e2e-" + UUID().uuidString.lowercased()
            defer { try? FileManager.default.removeItem(atPath: outside) }
            let root = try await project(
                in: box,
                [
                    "train.py": """
                    import os, sys
                    os.makedirs(os.path.dirname(sys.argv[1]), exist_ok=True)
                    open(sys.argv[1], "w").write("escaped")
                    open("model.txt", "w").write("trained")

                    """, ".gitignore": "model.txt\n",
                ])
            try await record(["--", "python3", "train.py", outside + "/escape.txt"], in: root)
            #expect(exists(outside + "/escape.txt"))
            try FileManager.default.removeItem(atPath: outside)
            let pack = box.path("escape.mlpack")
            try await create(pack, from: root, of: "model.txt")

            let result = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--json",
            ])
            #expect(result.status == 4, "\(result)")
            #expect(!exists(outside), "the run must not write outside its workspace")
            let report = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
            let run = try #require((report["runs"] as? [[String: Any]])?.first)
            #expect(run["status"] as? String == "failed")
            let refusals = run["sandboxRefusals"] as? [String] ?? []
            #expect(
                refusals.contains {
                    $0.contains("write outside the workspace refused") && $0.contains("Read-only file system")
                }, "\(refusals)")
            if let workdir = report["workdir"] as? String { try? FileManager.default.removeItem(atPath: workdir) }
        }
    }

    @Test("without bubblewrap, a rebuild is refused unless --unsafe-no-sandbox; with it, it runs unconfined")
    func withoutBubblewrap() async throws {
        try await withSandbox { box in
            let root = try await project(
                in: box, ["make.py": "open('out.txt', 'w').write('42')\n", ".gitignore": "out.txt\n"])
            try await record(["--", "python3", "make.py"], in: root)
            let pack = box.path("p.mlpack")
            try await create(pack, from: root, of: "out.txt")
            // A PATH with python3 but no bwrap.
            let bin = try box.mkdir("bin")
            try FileManager.default.createSymbolicLink(
                atPath: bin + "/python3", withDestinationPath: "/usr/bin/python3")
            let refused = try await mlpack(
                ["verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned"], environment: ["PATH": bin])
            #expect(refused.status == 2, "\(refused)")
            #expect(refused.err.contains("bubblewrap (bwrap) is not installed"))
            #expect(refused.err.contains("--unsafe-no-sandbox"))
            let unsafe = try await mlpack(
                ["verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--unsafe-no-sandbox"],
                environment: ["PATH": bin])
            #expect(unsafe.status == 0, "\(unsafe)")
            #expect(unsafe.out.contains("sandbox: none (unconfined, as asked)"))
            #expect(unsafe.out.contains("result: REPRODUCED"))
        }
    }

    @Test("--timeout stops a run that hangs: timed out, not reproduced")
    func timeout() async throws {
        try await withSandbox { box in
            // Hangs only where HOME is a rebuild workspace's home folder.
            let root = try await project(
                in: box,
                [
                    "train.py": """
                    import os, time
                    if os.environ["HOME"].endswith("/home"):
                        time.sleep(600)
                    open("model.txt", "w").write("trained")

                    """, ".gitignore": "model.txt\n",
                ])
            try await record(["--", "python3", "train.py"], in: root)
            let pack = box.path("hang.mlpack")
            try await create(pack, from: root, of: "model.txt")
            let result = try await mlpack([
                "verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned", "--timeout", "2", "--workdir",
                box.path("work"),
            ])
            #expect(result.status == 4, "\(result)")
            #expect(result.out.contains("timed out"))
            #expect(result.out.contains("the rebuild did not write it"))
        }
    }

    @Test("usage: rebuild flags need --rebuild; a pack without runs cannot be rebuilt")
    func usage() async throws {
        try await withSandbox { box in
            let flags = try await mlpack(["verify", "x.mlpack", "--atol", "1"])
            #expect(flags.status == 2)
            #expect(flags.err.contains("go with --rebuild"))
            let negative = try await mlpack(["verify", "x.mlpack", "--rebuild", "--python-env", "host", "--atol", "-1"])
            #expect(negative.status == 2)
            let (pack, _, _) = try await makeStandardPack(in: box)
            let noRuns = try await mlpack(["verify", pack, "--rebuild", "--python-env", "host", "--allow-unsigned"])
            #expect(noRuns.status == 2, "\(noRuns)")
            #expect(noRuns.err.contains("holds no recorded runs"))
        }
    }
}
