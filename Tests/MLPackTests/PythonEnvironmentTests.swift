import Foundation
import TestSupport
import Testing

@testable import MLPack

/// What materialising a capture's Python needs: PEP 610 origins in the capture, the
/// interpreter mapping of a replayed command, the import root of an editable project, uv output.
@Suite("Python environment")
struct PythonEnvironmentUnitTests {
    @Test("the probe's direct_url.json: editable in the project, a folder elsewhere, a VCS URL, a malformed one")
    func directURLs() throws {
        let json = #"""
            {"version": "3.11.7", "packages": [
              {"name": "trainer", "version": "0.1", "direct": {"url": "file:///work/proj", "dir_info": {"editable": true}}},
              {"name": "tool", "version": "1", "direct": {"url": "file:///work/proj/libs/tool", "dir_info": {}}},
              {"name": "mine", "version": "2", "direct": {"url": "file:///home/alice/src/mine", "dir_info": {"editable": true}}},
              {"name": "lib", "version": "3", "direct": {"url": "https://tok:en@github.com/a/lib", "vcs_info": {"vcs": "git", "commit_id": "abc123"}}},
              {"name": "odd", "version": "4", "direct": {"nourl": 1}},
              {"name": "numpy", "version": "2.0.0"}]}
            """#
        let packages = try #require(PythonParsers.probe(json, projectRoot: "/work/proj")).python.packages
        let byName = Dictionary(uniqueKeysWithValues: packages.map { ($0.name, $0) })
        #expect(byName["trainer"] == .init(name: "trainer", version: "0.1", editable: true, directURL: "."))
        #expect(byName["tool"] == .init(name: "tool", version: "1", directURL: "libs/tool"))
        #expect(byName["mine"] == .init(name: "mine", version: "2", editable: true, directURL: "local"))
        #expect(byName["lib"]?.directURL == "git+https://github.com/a/lib@abc123", "never the user or password")
        #expect(byName["odd"] == .init(name: "odd", version: "4"), "a malformed file costs only the origin")
        #expect(byName["numpy"] == .init(name: "numpy", version: "2.0.0"))
        #expect(byName["trainer"]?.isFromProject == true)
        #expect(byName["tool"]?.isFromProject == true)
        #expect(byName["mine"]?.isFromProject == false)
        #expect(byName["lib"]?.isFromProject == false)

        // pip install -r still reads python-packages.txt: what no index holds is a comment.
        let capture = EnvironmentCapture(python: .init(version: "3.11.7", packages: packages))
        let text = String(decoding: try #require(capture.pythonPackagesText()), as: UTF8.self)
        #expect(text.contains("# trainer==0.1 (editable, from .)\n"))
        #expect(text.contains("numpy==2.0.0\n"))
        #expect(!text.contains("\ntrainer==0.1"))
    }

    @Test(
        "the interpreter of a replayed command becomes the environment's: a path, python3.X, a #! script; others stay",
        arguments: [
            (["/home/a/venv/bin/python", "train.py"], ["ENV", "train.py"]),
            (["python3.11", "-m", "pkg"], ["ENV", "-m", "pkg"]),
            (["python", "t.py"], ["ENV", "t.py"]),
            (["./run.py", "--x"], ["ENV", "./run.py", "--x"]),
            (["./direct.py"], ["ENV", "-u", "./direct.py"]),
            (["./tool.sh"], ["./tool.sh"]),
            (["sh", "train.sh"], ["sh", "train.sh"]),
            (["pythonic"], ["pythonic"]),
        ])
    func interpreterMapping(argv: [String], expected: [String]) throws {
        let folder = try FileSystem.makeTemporaryDirectory(prefix: "mlpack-test-shebang")
        defer { FileSystem.removeTree(folder) }
        try writeBytes(folder + "/run.py", Array("#!/usr/bin/env python3\nprint(1)\n".utf8))
        try writeBytes(folder + "/direct.py", Array("#!/home/a/venv/bin/python -u\nprint(1)\n".utf8))
        try writeBytes(folder + "/tool.sh", Array("#!/bin/sh\necho\n".utf8))
        #expect(Replay.mapInterpreter(argv, to: "ENV", directory: folder) == expected)
    }

    @Test("an environment's import root for an editable project: its folder, or its src/")
    func importRoot() {
        let flat = EnvironmentCapture.Package(name: "t", version: "1", editable: true, directURL: ".")
        #expect(PythonEnvironmentBuilder.importRoot(flat, files: ["t/__init__.py"]) == "/mlpack/project")
        #expect(PythonEnvironmentBuilder.importRoot(flat, files: ["src/t/__init__.py"]) == "/mlpack/project/src")
        let nested = EnvironmentCapture.Package(name: "t", version: "1", editable: true, directURL: "libs/t")
        #expect(PythonEnvironmentBuilder.importRoot(nested, files: ["libs/t/t.py"]) == "/mlpack/project/libs/t")
    }

    @Test("uv's failure line, without its tree drawing; how many packages it fetched")
    func uvOutput() {
        let output = """
            Using Python 3.11.7 environment at: /x
              × No solution found when resolving dependencies:
              ╰─▶ Because pip was not found in the package registry and you require pip==23.2.1, we can conclude that your requirements are unsatisfiable.
            """
        #expect(UV.lastLine(output).hasPrefix("Because pip was not found in the package registry"))
        #expect(UV.prepared("Resolved 5 packages in 3ms\nPrepared 3 packages in 1.20s\nInstalled 5 packages") == 3)
        #expect(UV.prepared("Resolved 5 packages in 3ms\nInstalled 5 packages") == 0)
    }
}
