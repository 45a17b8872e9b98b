import Foundation
import TestSupport
import Testing

@testable import MLPack

@Suite("Signed packs")
struct SigningTests {
    static func signedOptions(_ dir: TempDir, key: SecretKey, output: String = "demo.mlpack") -> CreateOptions {
        var options = createOptions(dir, output: output, weights: [])
        options.signingKey = key
        return options
    }

    @Test("a signed pack verifies with its key trusted, and is untrusted otherwise")
    func trust() throws {
        try withTemporaryDirectory { dir in
            try makeProject(in: dir)
            let key = SecretKey.generate()
            let created = try PackCreator.create(Self.signedOptions(dir, key: key))
            #expect(created.signer == key.publicKey.id)
            let path = dir.path("demo.mlpack")

            var trusted = VerifyOptions()
            trusted.trusted = TrustedKeys(keys: [key.publicKey])
            let good = try PackVerifier.verify(path, options: trusted)
            #expect(good.verdict == .verified)
            #expect(good.signature == "valid, by trusted key \(key.publicKey.id)")
            #expect(good.signer == key.publicKey.id)
            #expect(good.signerPublicKey == key.publicKey.base64)
            #expect(good.seekIndex == "valid")

            let unknown = try PackVerifier.verify(path, options: allowUnsigned())
            #expect(unknown.verdict == .untrusted, "allowUnsigned does not make an unknown signer trusted")
            #expect(unknown.signature == "valid, by key \(key.publicKey.id), which is not trusted")

            let inspected = try PackInspector.inspect(path)
            #expect(inspected.signer == key.publicKey.id)
            #expect(inspected.signature == "valid")
            #expect(inspected.readThrough == "seek index")

            var extract = ExtractOptions(destination: dir.path("out"))
            extract.trusted = TrustedKeys(keys: [key.publicKey])
            #expect(try PackExtractor.extract(path, options: extract).trusted)

            // A different key with the same id is not the trusted key.
            let impostor = PublicKey(keyId: key.publicKey.keyId, key: SecretKey.generate().publicKey.key)
            var confused = VerifyOptions()
            confused.trusted = TrustedKeys(keys: [impostor])
            let error = expectMLPackError { _ = try PackVerifier.verify(path, options: confused) }
            #expect(error?.category == .invalid)
        }
    }

    @Test("signed packs are reproducible byte for byte; unsigned ones differ only by their salts")
    func reproducible() throws {
        try withTemporaryDirectory { dir in
            try makeProject(in: dir)
            let key = SecretKey.generate()
            _ = try PackCreator.create(Self.signedOptions(dir, key: key, output: "a.mlpack"))
            _ = try PackCreator.create(Self.signedOptions(dir, key: key, output: "b.mlpack"))
            #expect(try dir.read("a.mlpack") == dir.read("b.mlpack"))
            _ = try PackCreator.create(createOptions(dir, output: "c.mlpack", weights: []))
            _ = try PackCreator.create(createOptions(dir, output: "d.mlpack", weights: []))
            #expect(try dir.read("c.mlpack") != dir.read("d.mlpack"))
            #expect(
                try PackInspector.inspect(dir.path("c.mlpack")).files.map(\.sha256)
                    == PackInspector.inspect(dir.path("d.mlpack")).files.map(\.sha256))
        }
    }

    @Test("public and secret key files round-trip")
    func keyFiles() throws {
        let key = SecretKey.generate()
        let publicText = key.publicKey.fileText
        #expect(publicText.hasPrefix("untrusted comment: minisign public key \(key.publicKey.id)\n"))
        #expect(try PublicKey(fileText: publicText) == key.publicKey)
        #expect(try PublicKey(base64: key.publicKey.base64) == key.publicKey)
        #expect(key.publicKey.id.count == 16)
        #expect(key.publicKey.id == key.publicKey.id.uppercased())
        let secretText = try key.fileText(password: nil, comment: "test key")
        let loaded = try SecretKey.load(fileText: secretText, password: { throw TestError("no password needed") })
        #expect(loaded.publicKey == key.publicKey)
        #expect(throws: KeyError.self) { try PublicKey(base64: "not a key") }
        #expect(throws: KeyError.self) { try PublicKey(fileText: key.publicKey.base64) }
    }

    @Test("a signature file parses back and verifies only the signed bytes")
    func signatureFile() throws {
        let key = SecretKey.generate()
        let message = Array("{\"format\":\"mlpack\"}\n".utf8)
        let signature = key.sign(message, trustedComment: "mlpack pack:demo", untrustedComment: "test")
        let parsed = try Signature(parsing: signature.fileBytes)
        #expect(parsed == signature)
        #expect(parsed.verifies(message, with: key.publicKey))
        #expect(!parsed.verifies(message + [0x0a], with: key.publicKey))
        #expect(!parsed.verifies(message, with: SecretKey.generate().publicKey))
        var forged = parsed
        forged.trustedComment = "mlpack pack:other"
        #expect(!forged.verifies(message, with: key.publicKey), "the trusted comment is signed too")
    }
}
