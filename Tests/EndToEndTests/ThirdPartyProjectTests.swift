import Foundation
import TestSupport
import Testing

/// Issue 24's acceptance, as a new user meets it on a third-party numpy project: a package
/// imported through PYTHONPATH=. by scripts in their own folder (so that only PYTHONPATH
/// finds it), a venv outside the project, prepare writing a folder,
/// pretrain, an uncommitted edit, fine-tune with --init; plain `mlpack run` throughout.
@Suite("A third-party project, recorded with no flags")
struct ThirdPartyProjectTests {
    static let files: [String: String] = [
        "mlfs/__init__.py": "",
        "mlfs/model.py": """
        import numpy as np
        LR = 0.1
        def train(x, y, w, epochs):
            for _ in range(epochs):
                w = w - LR * (x.T @ (x @ w - y) / len(x))
            return w

        """,
        "scripts/prepare.py": """
        import os, numpy as np
        rng = np.random.default_rng(0)
        os.makedirs("data/processed", exist_ok=True)
        for i in range(4):
            x = rng.normal(size=(64, 3))
            np.save(f"data/processed/x{i}.npy", x)
            np.save(f"data/processed/y{i}.npy", x @ np.array([1.0, -2.0, 0.5]) + 0.01 * rng.normal(size=64))

        """,
        "scripts/pretrain.py": """
        import os, numpy as np
        from mlfs.model import train
        x = np.concatenate([np.load(f"data/processed/x{i}.npy") for i in range(4)])
        y = np.concatenate([np.load(f"data/processed/y{i}.npy") for i in range(4)])
        os.makedirs("checkpoints", exist_ok=True)
        np.save("checkpoints/pre.npy", train(x, y, np.zeros(3), 20))

        """,
        "scripts/finetune.py": """
        import sys, numpy as np
        from mlfs.model import train
        init = sys.argv[sys.argv.index("--init") + 1]
        x, y = np.load("data/processed/x0.npy"), np.load("data/processed/y0.npy")
        np.save("final.npy", train(x, y, np.load(init), 10))

        """,
        ".gitignore": "data/\ncheckpoints/\nfinal.npy\n*.mlpack\nkeys/\n",
    ]

    @Test(
        "recorded with plain mlpack run, packed, published with --public, rebuilt by a reviewer with another HOME and no venv"
    )
    func publishedAndRebuilt() async throws {
        try await withSandbox { box in
            let root = try box.mkdir("author/project")
            for (path, text) in Self.files { try box.write("author/project/" + path, text) }
            try await must("git", ["init", "-q"], cwd: root)
            try await must("git", ["add", "-A"], cwd: root)
            try await must(
                "git", ["-c", "user.name=T", "-c", "user.email=t@example.org", "commit", "-qm", "v1"], cwd: root)
            let venv = box.path("author/venv")
            try await must("uv", ["venv", "-q", "--no-config", "--system-site-packages", venv])
            let python = venv + "/bin/python"
            let author = ["HOME": box.path("author"), "PYTHONPATH": "."]
            for (step, arguments) in [
                ("prepare", ["scripts/prepare.py"]), ("pretrain", ["scripts/pretrain.py"]),
                ("finetune", ["scripts/finetune.py", "--init", "checkpoints/pre.npy"]),
            ] {
                if step == "finetune" {
                    try box.write(
                        "author/project/mlfs/model.py",
                        Self.files["mlfs/model.py"]!.replacingOccurrences(
                            of: "LR = 0.1", with: "LR = 0.05"))
                }
                let ran = try await mlpack(["run", "--", python] + arguments, cwd: root, environment: author)
                #expect(ran.status == 0, "\(step): \(ran)")
            }
            let keys = try await mlpack(
                ["key", "generate", "--output", box.path("author/keys/me"), "--unencrypted"], environment: author)
            #expect(keys.status == 0, "\(keys)")
            let pack = box.path("author/paper.mlpack")
            let made = try await mlpack(
                ["create", "--output", pack, "--output-of", "final.npy", "--key", box.path("author/keys/me.key")],
                cwd: root, environment: author)
            #expect(made.status == 0, "\(made)")
            #expect(!made.err.contains("no public URI"), "prepare's folder is a checkpoint, not data: \(made)")
            let roles = try await inspectJSON(pack).roles
            #expect(roles.first { $0.role == "run" }?.items == 3, "\(roles)")
            #expect(roles.first { $0.role == "data-ref" } == nil, "nothing for the reviewer to fetch: \(roles)")
            let published = box.path("public.mlpack")
            let redacted = try await mlpack(
                ["redact", pack, "--output", published, "--public", "--key", box.path("author/keys/me.key")],
                environment: author)
            #expect(redacted.status == 0, "\(redacted)")

            // The reviewer: the author's machine is gone (project, venv, home); her own
            // HOME, no PYTHONPATH, nothing placed by hand.
            try FileManager.default.moveItem(atPath: box.path("author"), toPath: box.path("gone"))
            try box.mkdir("reviewer")
            let reviewer = [
                "HOME": box.path("reviewer"), "XDG_CACHE_HOME": box.path("reviewer/.cache"), "PYTHONPATH": "",
                "VIRTUAL_ENV": "",
            ]
            let rebuilt = try await mlpack(
                [
                    "verify", published, "--rebuild", "--python-env", "host", "--key", box.path("gone/keys/me.pub"),
                    "--json",
                ], cwd: box.path("reviewer"), environment: reviewer)
            #expect(rebuilt.status == 0, "\(rebuilt)")
            let report = try #require(try JSONSerialization.jsonObject(with: rebuilt.stdout) as? [String: Any])
            #expect(report["verdict"] as? String == "reproduced")
            #expect((report["sandbox"] as? String)?.contains("bubblewrap") == true, "\(report["sandbox"] ?? "")")
            let runs = (report["runs"] as? [[String: Any]] ?? []).compactMap { $0["status"] as? String }
            #expect(runs == ["ok", "ok", "ok"], "\(runs)")
        }
    }
}
