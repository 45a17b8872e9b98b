import Foundation

/// The public keys the user trusts: given with `--key`, or `.pub` files in a keyring folder
/// (default `$XDG_CONFIG_HOME/mlpack/trusted/`, else `~/.config/mlpack/trusted/`).
public struct TrustedKeys: Sendable {
    public var keys: [PublicKey]
    public var warnings: [String]

    public init(keys: [PublicKey] = [], warnings: [String] = []) {
        self.keys = keys
        self.warnings = warnings
    }

    public static var defaultKeyring: String {
        let environment = Host.current.environment
        let config =
            environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? Host.current.home + "/.config"
        return config + "/mlpack/trusted"
    }

    /// `keyArguments` are `.pub` paths or public-key lines; a keyring that does not exist is
    /// simply empty, a malformed file in it is skipped with a warning.
    public static func load(keyArguments: [String], keyring: String?) throws -> TrustedKeys {
        var trusted = TrustedKeys(keys: try keyArguments.map(PublicKey.load))
        let folder = keyring ?? defaultKeyring
        guard FileSystem.status(folder, followLinks: true)?.isDirectory == true else {
            if keyring != nil { throw MLPackError.usage("\(input: .keyring) \(folder): not a directory") }
            return trusted
        }
        for name in try FileSystem.directoryEntries(folder).sorted() where name.hasSuffix(".pub") {
            let path = folder + "/" + name
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                let key = try? PublicKey(fileText: text)
            else {
                trusted.warnings.append("\(path): not a minisign public key, ignored")
                continue
            }
            trusted.keys.append(key)
        }
        return trusted
    }

    /// Adds `key` to the keyring as `<key id>.pub`; returns the file's path.
    public static func trust(_ key: PublicKey, keyring: String?) throws -> String {
        let folder = keyring ?? defaultKeyring
        try FileSystem.makeDirectories(folder)
        let path = folder + "/" + key.id + ".pub"
        do { try key.fileText.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw MLPackError.io(path: path, reason: "cannot write the public key")
        }
        return path
    }
}

/// What a pack's signature is worth (spec/FORMAT.md §10).
public enum SignatureStatus: Sendable, Equatable, CustomStringConvertible {
    case unsigned
    /// Valid, by a key the user trusts.
    case trusted(keyId: String)
    /// Valid, by a key the user has not said they trust.
    case untrusted(keyId: String, publicKey: String)

    public var isTrusted: Bool { if case .trusted = self { true } else { false } }

    public var keyId: String? {
        switch self {
        case .unsigned: nil
        case .trusted(let keyId), .untrusted(let keyId, _): keyId
        }
    }

    public var description: String {
        switch self {
        case .unsigned: "unsigned"
        case .trusted(let keyId): "valid, by trusted key \(keyId)"
        case .untrusted(let keyId, _): "valid, by key \(keyId), which is not trusted"
        }
    }

    /// Checks the signature over the manifest's exact bytes against the signer the manifest
    /// names; returns that signer, or nil for an unsigned pack. Anything that does not verify
    /// is an integrity failure: nothing else of the pack is looked at before this passed.
    static func validSigner(
        manifest: Manifest, manifestBytes: [UInt8], signatureBytes: [UInt8]?, manifestPath: String = Layout.manifest,
        signaturePath: String = Layout.signature
    ) throws -> PublicKey? {
        func invalid(_ entry: String, _ problem: String) -> MLPackError { .integrity(entry: entry, problem: problem) }
        switch (manifest.signer, signatureBytes) {
        case (nil, nil):
            return nil
        case (nil, .some):
            throw invalid(signaturePath, "present, but the manifest names no signer")
        case (.some(let signer), nil):
            throw invalid(signaturePath, "missing: the manifest is signed by key \(signer.keyId)")
        case (.some(let signer), .some(let bytes)):
            let key: PublicKey
            do { key = try PublicKey(base64: signer.publicKey) } catch {
                throw invalid(manifestPath, "the signer's public key is malformed")
            }
            guard key.id == signer.keyId else {
                throw invalid(manifestPath, "the signer's key id does not match its public key")
            }
            let signature: Signature
            do { signature = try Signature(parsing: bytes) } catch { throw invalid(signaturePath, "\(error)") }
            guard signature.keyId == key.keyId else {
                throw invalid(
                    signaturePath, "made with key \(signature.keyIdText), not with the signer's key \(key.id)")
            }
            guard signature.verifies(manifestBytes, with: key) else {
                throw invalid(
                    signaturePath, "does not verify: the manifest or the signature was changed after signing")
            }
            return key
        }
    }

    /// What a valid signer is worth to this user: trusted when a trusted key has its id and
    /// its bytes; the same id with other bytes is an integrity failure.
    static func of(_ signer: PublicKey?, trusting trusted: TrustedKeys) throws -> SignatureStatus {
        guard let signer else { return .unsigned }
        guard let known = trusted.keys.first(where: { $0.keyId == signer.keyId }) else {
            return .untrusted(keyId: signer.id, publicKey: signer.base64)
        }
        guard known.key == signer.key else {
            throw MLPackError.integrity(
                entry: Layout.signature, problem: "key id \(signer.id) is trusted, but with a different public key")
        }
        return .trusted(keyId: signer.id)
    }
}
