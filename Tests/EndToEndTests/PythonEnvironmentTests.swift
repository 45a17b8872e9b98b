import Foundation
import TestSupport
import Testing

/// `verify --rebuild` on a machine that has nothing of the author's: the pack's Python
/// environment built with uv from a package index (here a PEP 503 folder served on
/// loopback, with wheels the test builds), offline.
@Suite("Python environment of a rebuild", .serialized)
struct PythonEnvironmentTests: RebuildSuite {
    /// Two versions of `tinypkg`, whose `scale()` changes what the training writes.
    static let makeWheels = #"""
        import base64, hashlib, os, sys, zipfile
        def wheel(folder, name, version, body):
            info = f"{name}-{version}.dist-info"
            files = {f"{name}/__init__.py": body,
                     f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                     f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: mlpack-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
            def digest(text):
                return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
            files[f"{info}/RECORD"] = "".join(f"{p},sha256={digest(c)},{len(c.encode())}\n" for p, c in files.items()) + f"{info}/RECORD,,\n"
            os.makedirs(folder, exist_ok=True)
            with zipfile.ZipFile(os.path.join(folder, f"{name}-{version}-py3-none-any.whl"), "w") as z:
                for p, c in files.items():
                    z.writestr(zipfile.ZipInfo(p, (2020, 1, 1, 0, 0, 0)), c)
        for version in ("1.0", "2.0"):
            wheel(sys.argv[1] + "/simple/tinypkg", "tinypkg", version, f"def scale():\n    return {version}\n")
        """#

    /// Writes weights.npy (float64, by hand: the venv has no numpy) and metrics.json.
    static let train = #"""
        import json, struct
        from trainer_values import values
        xs = values()
        header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d,), }" % len(xs)
        header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
        with open("weights.npy", "wb") as f:
            f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack("<%dd" % len(xs), *xs))
        with open("metrics.json", "w") as f:
            json.dump({"loss": sum(xs)}, f)
        """#

    static let values = "import tinypkg\n\ndef values():\n    return [tinypkg.scale() * i for i in range(4)]\n"

    /// A PEP 503 index on loopback: `python3 -m http.server` serving `folder`, stopped by its pid.
    final class LoopbackIndex {
        let process = Process()
        let port: Int

        init(serving folder: String) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", folder, "0",
            ]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            var text = ""
            while !text.contains("port ") || !text.contains("(") {
                let data = pipe.fileHandleForReading.availableData
                guard !data.isEmpty else { break }
                text += String(decoding: data, as: UTF8.self)
            }
            guard let range = text.range(of: #"port (\d+)"#, options: .regularExpression),
                let port = Int(text[range].dropFirst(5))
            else {
                kill(process.processIdentifier, SIGKILL)
                throw TestError("http.server did not say its port: \(text)")
            }
            self.port = port
        }

        var url: String { "http://127.0.0.1:\(port)/simple" }

        /// SIGKILL: a child started from a test thread inherits its blocked signals, SIGTERM among them.
        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The wheels, the index serving them, the author's venv (tinypkg 1.0, with pip and
    /// setuptools as `python -m venv` leaves them) below `authorHome`, and a reviewer's home
    /// whose own venv on PATH has tinypkg 2.0.
    struct World {
        let box: Sandbox
        let index: LoopbackIndex
        let authorHome: String
        let authorPython: String
        let reviewer: [String: String]

        func stop() { index.stop() }
    }

    func world(in box: Sandbox) async throws -> World {
        try box.write("make-wheels.py", Self.makeWheels)
        try await must("python3", [box.path("make-wheels.py"), box.path("index")])
        let wheels = box.path("index/simple/tinypkg")
        let authorHome = try box.mkdir("author-home")
        let venv = authorHome + "/.cache/venvs/train"
        // ensurepip takes a minute when the whole suite shares the machine.
        let made = try await run("python3", ["-m", "venv", venv], timeout: 600)
        guard made.status == 0 else { throw TestError("python3 -m venv: \(made)") }
        try await must(
            "uv",
            [
                "pip", "install", "--no-config", "--python", venv + "/bin/python", "--offline", "--no-deps",
                "--find-links", wheels, "tinypkg==1.0",
            ], environment: ["UV_CACHE_DIR": box.path("author-uv-cache")])
        let reviewerHome = try box.mkdir("reviewer-home")
        let own = reviewerHome + "/.venvs/mine"
        try await must("uv", ["venv", "--no-config", "--python", "3", own])
        try await must(
            "uv",
            [
                "pip", "install", "--no-config", "--python", own + "/bin/python", "--offline", "--no-deps",
                "--find-links", wheels, "tinypkg==2.0",
            ], environment: ["UV_CACHE_DIR": box.path("author-uv-cache")])
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let reviewer = [
            "HOME": reviewerHome, "XDG_CACHE_HOME": reviewerHome + "/.cache",
            "UV_CACHE_DIR": reviewerHome + "/.cache/uv",
            "PATH": own + "/bin:" + path, "VIRTUAL_ENV": "",
        ]
        return World(
            box: box, index: try LoopbackIndex(serving: box.path("index")), authorHome: authorHome,
            authorPython: venv + "/bin/python", reviewer: reviewer)
    }

    func rebuild(_ pack: String, _ world: World, _ extra: [String]) async throws -> (ProcessResult, [String: Any]) {
        let result = try await mlpack(
            ["verify", pack, "--rebuild", "--json", "--report", world.box.path("review.md")] + extra,
            environment: world.reviewer)
        let report = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any] ?? [:]
        return (result, report)
    }

    func environments(_ report: [String: Any]) -> [[String: Any]] {
        report["pythonEnvironments"] as? [[String: Any]] ?? []
    }

    func installed(_ environment: [String: Any]) -> [String] {
        (environment["installed"] as? [[String: Any]] ?? []).map { "\($0["name"]!) \($0["version"]!)" }
    }

    @Test(
        "a venv outside the project: rebuilt from the index with tinypkg 1.0 (reproduced, cached the second time); the host's 2.0 is not reproduced"
    )
    func fromIndex() async throws {
        try await withSandbox { box in
            let world = try await world(in: box)
            defer { world.stop() }
            let root = try await project(
                in: box, ["train.py": Self.train, "trainer_values.py": Self.values, ".gitignore": "*.npy\n*.json\n"])
            try await record(["--metrics", "metrics.json", "--", world.authorPython, "train.py"], in: root)
            let pack = box.path("model.mlpack")
            try await create(pack, from: root, of: "weights.npy")

            let (first, report) = try await rebuild(pack, world, ["--allow-unsigned", "--index-url", world.index.url])
            #expect(first.status == 0, "\(first)")
            #expect(report["verdict"] as? String == "reproduced", "\(first)")
            let environment = try #require(environments(report).first, "\(first)")
            #expect(environment["source"] as? String == "pack")
            #expect(environment["reused"] as? Bool == false)
            #expect(installed(environment).contains("tinypkg 1.0"), "\(environment)")
            #expect((environment["from"] as? String)?.contains(world.index.url) == true)
            #expect(environment["used"] as? String == environment["recorded"] as? String)
            // pip and setuptools (as `python -m venv` left them) are not on this index: named, not fatal.
            let missing = (environment["notInstalled"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(Set(missing).isSubset(of: ["pip", "setuptools"]), "\(environment)")
            let markdown = String(decoding: try readBytes(box.path("review.md")), as: UTF8.self)
            #expect(markdown.contains("## Python environments"))
            #expect(markdown.contains("`tinypkg` 1.0"))
            #expect(
                (report["drift"] as? [String: Any]).map { "\($0)" }?.contains("tinypkg") != true,
                "the drift is about the environment the runs got: tinypkg 1.0 on both sides")

            let (second, again) = try await rebuild(pack, world, ["--allow-unsigned", "--index-url", world.index.url])
            #expect(second.status == 0, "\(second)")
            #expect(environments(again).first?["reused"] as? Bool == true, "\(second)")
            let text = try await mlpack(
                ["verify", pack, "--rebuild", "--allow-unsigned", "--offline"], environment: world.reviewer)
            #expect(text.status == 0, "\(text)")
            #expect(text.out.contains("reused from the cache"), "\(text)")

            // This machine's Python (tinypkg 2.0 on PATH): not reproduced, with the numbers.
            let (host, hostReport) = try await rebuild(pack, world, ["--allow-unsigned", "--python-env", "host"])
            #expect(host.status == 4, "\(host)")
            #expect(hostReport["verdict"] as? String == "not reproduced")
            let weights = (hostReport["outputs"] as? [[String: Any]] ?? []).first {
                ($0["item"] as? String)?.hasSuffix("weights.npy") == true
            }
            #expect(weights?["verdict"] as? String == "different", "\(host)")
            let comparison = weights?["comparison"] as? [String: Any]
            #expect(comparison?["maxAbsoluteDifference"] as? Double == 3, "\(host)")
            #expect(environments(hostReport).first?["source"] as? String == "host")
            // Issue 24: the author's venv lies below /tmp, which the sandbox replaces: the
            // swap is said, and the drift is that of the Python that stands in.
            let notes = environments(hostReport).first?["notes"] as? [String] ?? []
            #expect(
                notes.contains {
                    $0.hasPrefix(world.authorPython + ", which the run was recorded with, is not visible")
                },
                "\(notes)")
            let drift = "\(hostReport["drift"] ?? "")"
            #expect(drift.contains("tinypkg"), "the drift names the reviewer's tinypkg 2.0: \(drift)")

            // Without the index and offline with an empty uv cache: tinypkg is named as not installed.
            var bare = world.reviewer
            bare["UV_CACHE_DIR"] = box.path("empty-uv-cache")
            bare["XDG_CACHE_HOME"] = box.path("empty-cache")
            let offline = try await mlpack(
                ["verify", pack, "--rebuild", "--allow-unsigned", "--offline"], environment: bare)
            #expect(offline.status == 4, "\(offline)")
            #expect(offline.out.contains("not installed: tinypkg 1.0"), "\(offline)")
        }
    }

    @Test(
        "the project installed editable, the venv in the author's home, published with redact --public: reproduced from the snapshot"
    )
    func editablePublic() async throws {
        try await withSandbox { box in
            let world = try await world(in: box)
            defer { world.stop() }
            let root = try await project(
                in: box,
                [
                    "scripts/train.py": Self.train.replacingOccurrences(
                        of: "from trainer_values import values", with: "from trainer import values"),
                    "trainer/__init__.py": Self.values,
                    "pyproject.toml": "[project]\nname = \"trainer\"\nversion = \"0.1\"\n",
                    ".gitignore": "*.npy\n*.json\n",
                ])
            // What `pip install -e .` leaves in the venv (flat layout), written as pip writes it:
            // offline, this machine's setuptools could not build it.
            let site = try #require(
                try FileManager.default.subpathsOfDirectory(atPath: world.authorHome + "/.cache/venvs/train/lib").first
                {
                    $0.hasSuffix("/site-packages")
                })
            let sitePackages = world.authorHome + "/.cache/venvs/train/lib/" + site
            try writeBytes(sitePackages + "/__editable__.trainer-0.1.pth", Array((root + "\n").utf8))
            let info = sitePackages + "/trainer-0.1.dist-info"
            try FileManager.default.createDirectory(atPath: info, withIntermediateDirectories: true)
            try writeBytes(info + "/METADATA", Array("Metadata-Version: 2.1\nName: trainer\nVersion: 0.1\n".utf8))
            try writeBytes(
                info + "/direct_url.json", Array(#"{"dir_info": {"editable": true}, "url": "file://\#(root)"}"#.utf8))

            try await mlpack(["key", "generate", "--output", box.path("author"), "--unencrypted"]).expectSuccess()
            let author = ["HOME": world.authorHome]
            let recorded = try await mlpack(
                ["run", "--metrics", "metrics.json", "--", world.authorPython, "scripts/train.py"], cwd: root,
                environment: author)
            #expect(recorded.status == 0, "\(recorded)")
            let pack = box.path("model.mlpack")
            try await mlpack(
                ["create", "--output", pack, "--output-of", "weights.npy", "--key", box.path("author.key")], cwd: root,
                environment: author
            ).expectSuccess()
            let published = box.path("public.mlpack")
            try await mlpack(
                ["redact", pack, "--output", published, "--public", "--key", box.path("author.key")],
                environment: author
            ).expectSuccess()

            // The capture says editable, from the project folder, and names no path.
            try await mlpack(["extract", published, "--to", box.path("out")]).expectSuccess()
            let extracted = box.path("out")
            let envFolder = try #require(try FileManager.default.contentsOfDirectory(atPath: extracted + "/env").first)
            let platform = try json(extracted + "/env/\(envFolder)/platform.json")
            let packages = (platform["python"] as? [String: Any])?["packages"] as? [[String: Any]] ?? []
            let trainer = try #require(packages.first { $0["name"] as? String == "trainer" })
            #expect(trainer["editable"] as? Bool == true)
            #expect(trainer["directURL"] as? String == ".")
            // The interpreter is a name the rebuild maps, never `~/…`.
            let runs = try FileManager.default.contentsOfDirectory(atPath: extracted + "/runs")
            let run = try json(extracted + "/runs/" + runs.first!)
            #expect((run["argv"] as? [String])?.first == "python", "\(run)")

            let (result, report) = try await rebuild(
                published, world, ["--key", box.path("author.pub"), "--index-url", world.index.url])
            #expect(result.status == 0, "\(result)")
            #expect(report["verdict"] as? String == "reproduced", "\(result)")
            let environment = try #require(environments(report).first)
            #expect(installed(environment).contains("tinypkg 1.0"))
            #expect("\(environment["notes"] ?? "")".contains("installed from the code snapshot, editable: trainer 0.1"))

            // A colleague's environment outside a rebuild.
            let built = try await mlpack(
                [
                    "env", "build", published, "--to", box.path("colleague-env"), "--index-url", world.index.url,
                    "--json",
                ],
                environment: world.reviewer)
            #expect(built.status == 0, "\(built)")
            let version = try await must(
                box.path("colleague-env/bin/python"), ["-c", "import tinypkg; print(tinypkg.scale())"])
            #expect(version.out == "1.0\n")
        }
    }
}

extension ProcessResult {
    func expectSuccess(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(status == 0, "\(self)", sourceLocation: sourceLocation)
    }
}
