import Foundation

extension ROCrate {
    /// Checks a pack's RO-Crate view by what it states, not by its bytes (spec/FORMAT.md
    /// §6.3): the view is derived and unsigned, so a verifier checks the facts it gives about
    /// the pack (its name, its date, every item present with its size and SHA-256, and no
    /// file the pack does not hold) — which a second reader can do from the spec alone.
    static func check(_ bytes: [UInt8], manifest: Manifest, items: [Item]) throws {
        func wrong(_ problem: String) -> MLPackError {
            .integrity(
                entry: Layout.roCrate,
                problem: "does not match the pack's items (RO-Crate view tampered with: \(problem))")
        }
        guard let crate = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            crate["@context"] != nil, let graph = crate["@graph"] as? [Any]
        else { throw wrong("no @context and @graph") }
        var entities: [String: [String: Any]] = [:]
        for entity in graph {
            guard let entity = entity as? [String: Any], let id = entity["@id"] as? String else {
                throw wrong("an entity without an @id")
            }
            guard entities.updateValue(entity, forKey: id) == nil else { throw wrong("@id \(id) twice") }
        }
        func types(_ entity: [String: Any]) -> Set<String> {
            if let many = entity["@type"] as? [Any] { return Set(many.compactMap { $0 as? String }) }
            return (entity["@type"] as? String).map { [$0] } ?? []
        }
        func references(_ value: Any?) -> Set<String> {
            let values = value as? [Any] ?? value.map { [$0] } ?? []
            return Set(values.compactMap { ($0 as? [String: Any])?["@id"] as? String })
        }
        guard let descriptor = entities[metadataPath], references(descriptor["about"]) == ["./"] else {
            throw wrong("no metadata descriptor about ./")
        }
        guard let root = entities["./"], types(root).contains("Dataset") else { throw wrong("no root dataset ./") }
        guard root["name"] as? String == manifest.name else { throw wrong("the root's name is not the pack's") }
        guard root["datePublished"] as? String == manifest.created else {
            throw wrong("the root's datePublished is not the pack's created time")
        }
        let parts = references(root["hasPart"])
        var present = Set<String>()
        for item in items {
            let id = Builder.uri(item.path)
            present.insert(id)
            guard let entity = entities[id], types(entity).contains("File") else {
                throw wrong("no File entity for \(item.path)")
            }
            guard entity["contentSize"] as? String == String(item.size), entity["sha256"] as? String == item.sha256
            else { throw wrong("\(item.path) has another size or sha256") }
            guard parts.contains(id) else { throw wrong("the root's hasPart lacks \(item.path)") }
        }
        // Fragments, folders, the descriptor and absolute URIs (the profile) describe no file of
        // the pack; every other @id must be an item present (a withheld one must be gone).
        let absoluteURI = #/^[A-Za-z][A-Za-z0-9+.\-]*:/#
        for id in entities.keys.sorted()
        where !(id.hasPrefix("#") || id.hasSuffix("/") || id == metadataPath || id.contains(absoluteURI)) {
            guard present.contains(id) else { throw wrong("entity \(id) is not an item of the pack") }
        }
    }
}
