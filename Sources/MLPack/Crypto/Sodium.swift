internal import CSodium

/// The one place that touches libsodium: randomness, Ed25519, BLAKE2b, scrypt and wiping.
enum Sodium {
    private static let initialized: Bool = sodium_init() >= 0

    private static func ready() { precondition(initialized, "libsodium failed to initialise") }

    static func randomBytes(_ count: Int) -> [UInt8] {
        ready()
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return bytes
    }

    static let ed25519PublicKeyBytes = 32
    static let ed25519SecretKeyBytes = 64
    static let ed25519SignatureBytes = 64

    /// A new Ed25519 key pair; the secret half is libsodium's 64-byte form (seed ‖ public key).
    static func ed25519KeyPair() -> (publicKey: [UInt8], secretKey: SecretBytes) {
        ready()
        var publicKey = [UInt8](repeating: 0, count: ed25519PublicKeyBytes)
        let secretKey = SecretBytes(count: ed25519SecretKeyBytes)
        publicKey.withUnsafeMutableBytes { pk in
            secretKey.withUnsafeMutableBytes { sk in
                _ = crypto_sign_keypair(pk.baseAddress!, sk.baseAddress!)
            }
        }
        return (publicKey, secretKey)
    }

    static func ed25519Sign(_ message: [UInt8], secretKey: SecretBytes) -> [UInt8] {
        ready()
        precondition(secretKey.count == ed25519SecretKeyBytes)
        var signature = [UInt8](repeating: 0, count: ed25519SignatureBytes)
        signature.withUnsafeMutableBytes { sig in
            message.withUnsafeBytes { m in
                secretKey.withUnsafeBytes { sk in
                    _ = crypto_sign_detached(sig.baseAddress!, nil, m.baseAddress, UInt64(m.count), sk.baseAddress!)
                }
            }
        }
        return signature
    }

    static func ed25519Verify(_ signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        ready()
        guard signature.count == ed25519SignatureBytes, publicKey.count == ed25519PublicKeyBytes else { return false }
        return signature.withUnsafeBytes { sig in
            message.withUnsafeBytes { m in
                publicKey.withUnsafeBytes { pk in
                    crypto_sign_verify_detached(sig.baseAddress!, m.baseAddress, UInt64(m.count), pk.baseAddress!) == 0
                }
            }
        }
    }

    /// BLAKE2b with an output of `length` bytes (16...64), keyed when `key` is given.
    static func blake2b(_ parts: [[UInt8]], length: Int, key: SecretBytes? = nil) -> [UInt8] {
        ready()
        // crypto_generichash_state is not imported into Swift: allocate it by size, aligned.
        let state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        defer {
            sodium_memzero(state, crypto_generichash_statebytes())
            state.deallocate()
        }
        let statePointer = OpaquePointer(state)
        if let key {
            key.withUnsafeBytes { k in _ = crypto_generichash_init(statePointer, k.baseAddress, k.count, length) }
        } else {
            _ = crypto_generichash_init(statePointer, nil, 0, length)
        }
        for part in parts {
            part.withUnsafeBytes { p in _ = crypto_generichash_update(statePointer, p.baseAddress, UInt64(p.count)) }
        }
        var out = [UInt8](repeating: 0, count: length)
        out.withUnsafeMutableBytes { o in _ = crypto_generichash_final(statePointer, o.baseAddress!, length) }
        return out
    }

    /// scrypt (libsodium's scryptsalsa208sha256) stretched to `length` bytes; nil when the
    /// parameters ask for more memory than the machine gives.
    static func scrypt(
        password: SecretBytes, salt: [UInt8], opsLimit: UInt64, memLimit: UInt64, length: Int
    ) -> SecretBytes? {
        ready()
        let out = SecretBytes(count: length)
        let rc = out.withUnsafeMutableBytes { o in
            password.withUnsafeBytes { p in
                salt.withUnsafeBytes { s in
                    crypto_pwhash_scryptsalsa208sha256(
                        o.baseAddress!, UInt64(o.count), p.baseAddress!.assumingMemoryBound(to: CChar.self),
                        UInt64(p.count),
                        s.baseAddress!, opsLimit, Int(memLimit))
                }
            }
        }
        return rc == 0 ? out : nil
    }

    static let scryptSaltBytes = 32

    static func wipe(_ pointer: UnsafeMutableRawBufferPointer) {
        if let base = pointer.baseAddress { sodium_memzero(base, pointer.count) }
    }
}

/// Secret material (keys, passwords, key streams): one heap copy, wiped with
/// `sodium_memzero` when released, never printed.
public final class SecretBytes: @unchecked Sendable, CustomStringConvertible {
    private let storage: UnsafeMutableRawBufferPointer

    init(count: Int) {
        storage = .allocate(byteCount: max(count, 1), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        self.count = count
    }

    /// Takes a copy of `bytes` and wipes the caller's array.
    public convenience init(consuming bytes: inout [UInt8]) {
        self.init(count: bytes.count)
        bytes.withUnsafeMutableBytes { source in
            if let base = source.baseAddress { storage.baseAddress!.copyMemory(from: base, byteCount: source.count) }
            Sodium.wipe(source)
        }
    }

    public let count: Int

    deinit {
        Sodium.wipe(storage)
        storage.deallocate()
    }

    public var description: String { "<secret: \(count) bytes>" }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[..<count]))
    }

    func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(rebasing: storage[..<count]))
    }

    /// A copy of bytes `range` (for the public half of a secret key, say).
    func copyBytes(_ range: Range<Int>) -> [UInt8] {
        withUnsafeBytes { Array($0[range]) }
    }

    func xor(with other: SecretBytes) {
        precondition(other.count == count)
        withUnsafeMutableBytes { mine in other.withUnsafeBytes { theirs in for i in 0..<count { mine[i] ^= theirs[i] } }
        }
    }
}
