import Foundation

/// minisign-compatible Ed25519 keys and signatures (https://jedisct1.github.io/minisign/):
/// packs signed by mlpack verify with `minisign -V`, and keys made by `minisign -G` sign packs.
public enum Minisign {
    static let algorithm = Array("Ed".utf8)
    static let prehashedAlgorithm = Array("ED".utf8)
    static let scryptAlgorithm = Array("Sc".utf8)
    static let noKDF: [UInt8] = [0, 0]
    static let checksumAlgorithm = Array("B2".utf8)
    static let keyIdBytes = 8
    static let untrustedPrefix = "untrusted comment: "
    static let trustedPrefix = "trusted comment: "

    /// How minisign prints a key id: the 8 bytes as a little-endian integer, in upper-case hex.
    static func display(keyId: [UInt8]) -> String {
        keyId.reversed().map { String(format: "%02X", $0) }.joined()
    }

    /// The lines of a minisign file, without line ends (a trailing CR is tolerated).
    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
    }

    static func base64(_ text: String, length: Int, what: String) throws(KeyError) -> [UInt8] {
        guard let data = Data(base64Encoded: text), data.count == length else {
            throw .malformed("\(what) is not \(length) bytes of base64")
        }
        return Array(data)
    }
}

public enum KeyError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case wrongPassword
    case unsupported(String)

    public var description: String {
        switch self {
        case .malformed(let what): "not a minisign key: \(what)"
        case .wrongPassword: "wrong password for this key"
        case .unsupported(let what): "unsupported minisign key: \(what)"
        }
    }
}

/// A minisign public key: base64 of `Ed` ‖ key id (8) ‖ Ed25519 public key (32).
public struct PublicKey: Sendable, Equatable, Hashable {
    public let keyId: [UInt8]
    public let key: [UInt8]

    init(keyId: [UInt8], key: [UInt8]) {
        self.keyId = keyId
        self.key = key
    }

    /// The key id as minisign prints it (16 upper-case hex digits).
    public var id: String { Minisign.display(keyId: keyId) }

    /// The public-key line, as in a `.pub` file and `minisign -P`.
    public var base64: String { Data(Minisign.algorithm + keyId + key).base64EncodedString() }

    public var fileText: String { "\(Minisign.untrustedPrefix)minisign public key \(id)\n\(base64)\n" }

    public init(base64 text: String) throws(KeyError) {
        let bytes = try Minisign.base64(text.trimmingCharacters(in: .whitespaces), length: 42, what: "public key")
        guard Array(bytes[0..<2]) == Minisign.algorithm else { throw .unsupported("signature algorithm is not Ed") }
        self.init(keyId: Array(bytes[2..<10]), key: Array(bytes[10..<42]))
    }

    public init(fileText: String) throws(KeyError) {
        let lines = Minisign.lines(fileText)
        guard lines.count >= 2, lines[0].hasPrefix(Minisign.untrustedPrefix) else {
            throw .malformed("a public key file starts with \"untrusted comment:\"")
        }
        try self.init(base64: lines[1])
    }

    /// A `--key` argument: the path of a `.pub` file, or the public-key line itself.
    public static func load(_ argument: String) throws -> PublicKey {
        if FileSystem.status(argument, followLinks: true)?.isRegular == true {
            guard let text = try? String(contentsOfFile: argument, encoding: .utf8) else {
                throw MLPackError.io(path: argument, reason: "cannot read the public key")
            }
            do { return try PublicKey(fileText: text) } catch { throw MLPackError.usage("\(argument): \(error)") }
        }
        do { return try PublicKey(base64: argument) } catch {
            throw MLPackError.usage("\(input: .key) \(argument): neither a public key file nor a public key (\(error))")
        }
    }
}

/// A minisign secret key, decrypted in memory (wiped on release).
public final class SecretKey: Sendable {
    let keyId: [UInt8]
    /// libsodium's 64-byte Ed25519 secret key: seed ‖ public key.
    let secret: SecretBytes

    init(keyId: [UInt8], secret: SecretBytes) {
        self.keyId = keyId
        self.secret = secret
    }

    public var publicKey: PublicKey { PublicKey(keyId: keyId, key: secret.copyBytes(32..<64)) }

    public static func generate() -> SecretKey {
        let (_, secret) = Sodium.ed25519KeyPair()
        return SecretKey(keyId: Sodium.randomBytes(Minisign.keyIdBytes), secret: secret)
    }

    /// scrypt parameters for keys mlpack makes: about a second and 64 MiB (minisign itself
    /// uses 1 GiB; readers take the parameters from the file).
    static let opsLimit: UInt64 = 1 << 24
    static let memLimit: UInt64 = 1 << 26
    /// Refuse key files that ask for more than this much scrypt memory (minisign's default).
    static let maxMemLimit: UInt64 = 1 << 30

    /// The `.key` file: `Ed` ‖ kdf ‖ `B2` ‖ salt (32) ‖ opslimit (8) ‖ memlimit (8) ‖
    /// [key id (8) ‖ secret key (64) ‖ BLAKE2b-256 checksum (32)], the bracket XORed with an
    /// scrypt stream of the password (or stored plain, kdf = 00 00, without a password).
    public func fileText(password: SecretBytes?, comment: String) throws -> String {
        var checksumInput = Minisign.algorithm + keyId
        checksumInput += secret.copyBytes(0..<64)
        let checksum = Sodium.blake2b([checksumInput], length: 32)
        Sodium.wipe(checksumInput.withUnsafeMutableBytes { $0 })
        var plain = keyId + secret.copyBytes(0..<64) + checksum
        let keyBlock = SecretBytes(consuming: &plain)
        var header = Minisign.algorithm
        if let password {
            let salt = Sodium.randomBytes(Sodium.scryptSaltBytes)
            guard
                let stream = Sodium.scrypt(
                    password: password, salt: salt, opsLimit: Self.opsLimit, memLimit: Self.memLimit, length: 104)
            else {
                throw MLPackError.io(path: "scrypt", reason: "not enough memory to derive the key")
            }
            keyBlock.xor(with: stream)
            header += Minisign.scryptAlgorithm + Minisign.checksumAlgorithm + salt
            header += Self.littleEndian(Self.opsLimit) + Self.littleEndian(Self.memLimit)
        } else {
            header += Minisign.noKDF + Minisign.checksumAlgorithm + [UInt8](repeating: 0, count: 48)
        }
        var bytes = header + keyBlock.copyBytes(0..<104)
        defer { Sodium.wipe(bytes.withUnsafeMutableBytes { $0 }) }
        return "\(Minisign.untrustedPrefix)\(comment)\n\(Data(bytes).base64EncodedString())\n"
    }

    /// Reads a `.key` file; `password` is asked only when the key is encrypted.
    public static func load(fileText: String, password: () throws -> SecretBytes) throws -> SecretKey {
        let lines = Minisign.lines(fileText)
        guard lines.count >= 2, lines[0].hasPrefix(Minisign.untrustedPrefix) else {
            throw KeyError.malformed("a secret key file starts with \"untrusted comment:\"")
        }
        var bytes = try Minisign.base64(lines[1], length: 158, what: "secret key")
        defer { Sodium.wipe(bytes.withUnsafeMutableBytes { $0 }) }
        guard Array(bytes[0..<2]) == Minisign.algorithm else {
            throw KeyError.unsupported("signature algorithm is not Ed")
        }
        guard Array(bytes[4..<6]) == Minisign.checksumAlgorithm else {
            throw KeyError.unsupported("checksum is not B2")
        }
        var block = Array(bytes[54..<158])
        let keyBlock = SecretBytes(consuming: &block)
        let kdf = Array(bytes[2..<4])
        if kdf == Minisign.scryptAlgorithm {
            let ops = littleEndian(bytes[38..<46])
            let mem = littleEndian(bytes[46..<54])
            guard mem <= maxMemLimit else { throw KeyError.unsupported("scrypt asks for \(mem) bytes of memory") }
            let secretPassword = try password()
            guard
                let stream = Sodium.scrypt(
                    password: secretPassword, salt: Array(bytes[6..<38]), opsLimit: ops, memLimit: mem, length: 104)
            else {
                throw MLPackError.io(path: "scrypt", reason: "not enough memory to derive the key")
            }
            keyBlock.xor(with: stream)
        } else if kdf != Minisign.noKDF {
            throw KeyError.unsupported("key derivation is neither scrypt nor none")
        }
        let keyId = keyBlock.copyBytes(0..<8)
        let secret = SecretBytes(count: 64)
        secret.withUnsafeMutableBytes { out in
            keyBlock.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[8..<72])) }
        }
        // minisign leaves the checksum of unencrypted keys zero; it only proves the password.
        if kdf == Minisign.scryptAlgorithm {
            var input = Minisign.algorithm + keyId
            input += secret.copyBytes(0..<64)
            let checksum = Sodium.blake2b([input], length: 32)
            Sodium.wipe(input.withUnsafeMutableBytes { $0 })
            guard checksum == keyBlock.copyBytes(72..<104) else { throw KeyError.wrongPassword }
        }
        return SecretKey(keyId: keyId, secret: secret)
    }

    public static func load(path: String, password: () throws -> SecretBytes) throws -> SecretKey {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw MLPackError.io(path: path, reason: "cannot read the secret key")
        }
        do { return try load(fileText: text, password: password) } catch let error as KeyError {
            throw MLPackError.usage("\(path): \(error)")
        }
    }

    /// A minisign prehashed (`ED`) signature of `message`, with a signed trusted comment.
    func sign(_ message: [UInt8], trustedComment: String, untrustedComment: String) -> Signature {
        let signature = Sodium.ed25519Sign(Sodium.blake2b([message], length: 64), secretKey: secret)
        let global = Sodium.ed25519Sign(signature + Array(trustedComment.utf8), secretKey: secret)
        return Signature(
            untrustedComment: untrustedComment, algorithm: Minisign.prehashedAlgorithm, keyId: keyId,
            signature: signature, trustedComment: trustedComment, globalSignature: global)
    }

    /// A salt from the secret key and what it salts (keyed BLAKE2b-256): the same inputs and
    /// key give the same pack, and nobody without the key can predict a salt.
    func salt(for parts: [String]) -> [UInt8] {
        Sodium.blake2b([Array("mlpack-salt-v1".utf8)] + parts.map { [0] + Array($0.utf8) }, length: 32, key: secret)
    }

    static func littleEndian(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8((value >> (8 * UInt64($0))) & 0xff) } }
    static func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }
}

/// A `.minisig` file: untrusted comment, `ED` ‖ key id ‖ signature of BLAKE2b-512(file),
/// trusted comment, and the signature of (signature ‖ trusted comment).
public struct Signature: Sendable, Equatable {
    public var untrustedComment: String
    var algorithm: [UInt8]
    var keyId: [UInt8]
    var signature: [UInt8]
    public var trustedComment: String
    var globalSignature: [UInt8]

    public var keyIdText: String { Minisign.display(keyId: keyId) }

    var fileBytes: [UInt8] {
        Array(
            """
            \(Minisign.untrustedPrefix)\(untrustedComment)
            \(Data(algorithm + keyId + signature).base64EncodedString())
            \(Minisign.trustedPrefix)\(trustedComment)
            \(Data(globalSignature).base64EncodedString())

            """.utf8)
    }

    init(
        untrustedComment: String, algorithm: [UInt8], keyId: [UInt8], signature: [UInt8], trustedComment: String,
        globalSignature: [UInt8]
    ) {
        self.untrustedComment = untrustedComment
        self.algorithm = algorithm
        self.keyId = keyId
        self.signature = signature
        self.trustedComment = trustedComment
        self.globalSignature = globalSignature
    }

    init(parsing bytes: [UInt8]) throws(KeyError) {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .malformed("signature is not UTF-8") }
        let lines = Minisign.lines(text)
        guard lines.count >= 4, lines[0].hasPrefix(Minisign.untrustedPrefix),
            lines[2].hasPrefix(Minisign.trustedPrefix),
            lines.dropFirst(4).allSatisfy(\.isEmpty)
        else {
            throw .malformed(
                "a signature has four lines: untrusted comment, signature, trusted comment, global signature")
        }
        let main = try Minisign.base64(lines[1], length: 74, what: "signature")
        untrustedComment = String(lines[0].dropFirst(Minisign.untrustedPrefix.count))
        algorithm = Array(main[0..<2])
        guard algorithm == Minisign.prehashedAlgorithm || algorithm == Minisign.algorithm else {
            throw .unsupported("signature algorithm is neither ED nor Ed")
        }
        keyId = Array(main[2..<10])
        signature = Array(main[10..<74])
        trustedComment = String(lines[2].dropFirst(Minisign.trustedPrefix.count))
        globalSignature = try Minisign.base64(lines[3], length: 64, what: "global signature")
    }

    /// True when both signatures verify with `key` (the key ids are compared by the caller).
    func verifies(_ message: [UInt8], with key: PublicKey) -> Bool {
        let signed = algorithm == Minisign.prehashedAlgorithm ? Sodium.blake2b([message], length: 64) : message
        return Sodium.ed25519Verify(signature, message: signed, publicKey: key.key)
            && Sodium.ed25519Verify(
                globalSignature, message: signature + Array(trustedComment.utf8), publicKey: key.key)
    }
}
