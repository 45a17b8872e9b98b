import Foundation
import Testing

/// The RO-Crate view checked by the reference validator, rocrate-validator (PyPI
/// roc-validator), for the Process Run Crate 0.5 profile, with no network:
/// fixtures/ro-crate/validate-offline.py inlines the RO-Crate 1.1 context from
/// fixtures/ro-crate/context-1.1.jsonld. fixtures/ro-crate/example/ is a crate folder written
/// by the library (the library tests keep it byte-identical to what ROCrate.metadata makes).
@Suite("RO-Crate view: rocrate-validator on the example crate")
struct ROCrateValidationTests {
    static let fixtures = Repo.root + "/fixtures/ro-crate"
    static let example = fixtures + "/example"

    static func validate(_ crate: String, severity: String = "required") async throws -> ProcessResult {
        let result = try await run(
            "python3", [fixtures + "/validate-offline.py", crate, "--severity", severity], timeout: 300)
        if result.status == 3 { Issue.record("roc-validator is not installed: run scripts/setup.sh\n\(result)") }
        return result
    }

    @Test("the example crate is a valid Process Run Crate 0.5 at the REQUIRED severity")
    func exampleIsValid() async throws {
        let result = try await Self.validate(Self.example)
        #expect(result.status == 0, "\(result)")
        #expect(result.out.contains(": valid as process-run-crate-0.5 at severity required"), "\(result)")
    }

    @Test("without an instrument, a CreateAction breaks the profile's MUST: exit 1, the check named")
    func actionWithoutInstrument() async throws {
        try await withSandbox { box in
            let crate = box.path("crate")
            try await must("cp", ["-R", Self.example, crate])
            try await must(
                "python3",
                [
                    "-c",
                    """
                    import json, sys
                    path = sys.argv[1] + "/ro-crate-metadata.json"
                    document = json.load(open(path, encoding="utf-8"))
                    for entity in document["@graph"]:
                        if entity.get("@type") == "CreateAction":
                            entity.pop("instrument")
                    json.dump(document, open(path, "w", encoding="utf-8"), indent=2)
                    """, crate,
                ])
            let result = try await Self.validate(crate)
            #expect(result.status == 1, "\(result)")
            #expect(result.out.contains("NOT valid"), "\(result)")
            #expect(result.out.contains("REQUIRED process-run-crate-0.5_"), "\(result)")
            #expect(result.out.contains("MUST have an instrument"), "\(result)")
        }
    }

    @Test("a file the metadata lists but the folder lacks is not valid")
    func missingFile() async throws {
        try await withSandbox { box in
            let crate = box.path("crate")
            try await must("cp", ["-R", Self.example, crate])
            try FileManager.default.removeItem(atPath: crate + "/artifacts/features.npy")
            let result = try await Self.validate(crate)
            #expect(result.status == 1, "\(result)")
            #expect(result.out.contains("artifacts/features.npy"), "\(result)")
        }
    }

    @Test("the inlined context is the RO-Crate 1.1 context (CC0), and the crate names it by URL")
    func context() async throws {
        let check = try await run(
            "python3",
            [
                "-c",
                """
                import hashlib, json, sys
                raw = open(sys.argv[1] + "/context-1.1.jsonld", "rb").read()
                context = json.loads(raw)
                assert context["@id"] == "https://w3id.org/ro/crate/1.1/context", context["@id"]
                assert context["license"]["@id"] == "https://creativecommons.org/publicdomain/zero/1.0/"
                assert context["@context"]["CreateAction"] == "http://schema.org/CreateAction"
                metadata = json.load(open(sys.argv[1] + "/example/ro-crate-metadata.json", encoding="utf-8"))
                assert metadata["@context"][0] == "https://w3id.org/ro/crate/1.1/context", metadata["@context"]
                print(hashlib.sha256(raw).hexdigest())
                """, Self.fixtures,
            ])
        #expect(check.status == 0, "\(check)")
        #expect(
            check.out.trimmingCharacters(in: .whitespacesAndNewlines)
                == "bb5dd0a79ebd5a3b074e2faf96f437503234f8a4b8e84c7149de91eae0d2222a", "\(check)")
    }
}
