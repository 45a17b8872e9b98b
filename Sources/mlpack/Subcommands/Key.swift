import ArgumentParser
import Foundation
import MLPack

struct Key: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make, show and trust minisign-compatible signing keys.",
        subcommands: [Generate.self, Show.self, Trust.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new key pair: BASE.key (secret, mode 0600) and BASE.pub.",
            discussion: """
                The files are minisign's: `minisign -S -s BASE.key` signs with the secret key, \
                `minisign -V -p BASE.pub` verifies. The secret key is encrypted with a password \
                from $MLPACK_PASSWORD or asked twice on the terminal; --unencrypted stores it \
                in the clear. Without --output the pair goes to ~/.config/mlpack/me \
                ($XDG_CONFIG_HOME/mlpack/me when set); a missing folder is made, private to you.
                """)

        @Option(
            name: .shortAndLong,
            help: ArgumentHelp("Base name of the key files (default: ~/.config/mlpack/me).", valueName: "BASE"))
        var output: String?

        @Flag(help: "Store the secret key without a password.")
        var unencrypted = false

        @Option(help: ArgumentHelp("Untrusted comment in the secret key file.", valueName: "TEXT"))
        var comment: String = "mlpack secret key"

        @Flag(help: "Replace existing key files.")
        var force = false

        @OptionGroup var format: OutputOptions

        func run() throws {
            let base = output ?? Host.current.defaultKeyBase
            let secretPath = base + ".key"
            let publicPath = base + ".pub"
            for path in [secretPath, publicPath] where !force && FileManager.default.fileExists(atPath: path) {
                throw MLPackError.usage("\(path) already exists (use --force to replace it)")
            }
            var password: SecretBytes?
            if !unencrypted {
                let entered = try Password.read(prompt: "Password for the new key: ", confirm: true)
                guard entered.count > 0 else {
                    throw MLPackError.usage(
                        "an empty password would leave the key unprotected: pass --unencrypted to mean it")
                }
                password = entered
            }
            let folder = (secretPath as NSString).deletingLastPathComponent
            if !folder.isEmpty && !FileManager.default.fileExists(atPath: folder) {
                do {
                    try FileManager.default.createDirectory(
                        atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                } catch {
                    throw MLPackError.io(path: folder, reason: "cannot make the folder for the key files")
                }
            }
            let key = SecretKey.generate()
            try KeyFiles.write(try key.fileText(password: password, comment: comment), to: secretPath, mode: 0o600)
            try KeyFiles.write(key.publicKey.fileText, to: publicPath, mode: 0o644)
            if format.json {
                return try Terminal.printJSON([
                    "keyId": key.publicKey.id, "publicKey": key.publicKey.base64, "secretKeyFile": secretPath,
                    "publicKeyFile": publicPath,
                ])
            }
            print("wrote \(secretPath) (secret: keep it private) and \(publicPath) (public)")
            print("key id      \(key.publicKey.id)")
            print("public key  \(key.publicKey.base64)")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the key id and public-key line of a .pub or .key file.",
            discussion: "An encrypted .key needs its password ($MLPACK_PASSWORD or a prompt).")

        @Argument(help: ArgumentHelp("A .pub or .key file.", valueName: "FILE"))
        var file: String

        @OptionGroup var format: OutputOptions

        func run() throws {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw MLPackError.io(path: file, reason: "cannot read the key file")
            }
            let key: PublicKey
            if let publicKey = try? PublicKey(fileText: text) {
                key = publicKey
            } else {
                key = try SecretKey.load(path: file) {
                    try Password.read(prompt: "Password for \(file): ", confirm: false)
                }.publicKey
            }
            if format.json { return try Terminal.printJSON(["keyId": key.id, "publicKey": key.base64]) }
            print("key id      \(key.id)")
            print("public key  \(key.base64)")
        }
    }

    struct Trust: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a public key to the keyring that verify trusts.",
            discussion: "Check the key with its owner first: trusting it is saying that its packs are theirs.")

        @Argument(help: ArgumentHelp("A .pub file or a public-key line.", valueName: "KEY"))
        var key: String

        @Option(help: ArgumentHelp("The keyring folder (default: $XDG_CONFIG_HOME/mlpack/trusted).", valueName: "DIR"))
        var keyring: String?

        func run() throws {
            let publicKey = try PublicKey.load(key)
            let path = try TrustedKeys.trust(publicKey, keyring: keyring)
            print("trusting key \(publicKey.id): wrote \(path)")
        }
    }
}

enum KeyFiles {
    /// Writes a new file with `mode` from the start, so a secret key is never readable by others.
    static func write(_ text: String, to path: String, mode: mode_t) throws {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw MLPackError.io(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard Foundation.write(fd, bytes, bytes.count) == bytes.count else {
            throw MLPackError.io(path: path, reason: String(cString: strerror(errno)))
        }
    }
}

/// `--key` and `--keyring`, for the commands that decide whether to trust a pack.
struct TrustOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp("Trust this public key: a .pub file or a public-key line (repeatable).", valueName: "PUB"))
    var key: [String] = []

    @Option(
        help: ArgumentHelp("Folder of trusted .pub files (default: $XDG_CONFIG_HOME/mlpack/trusted).", valueName: "DIR")
    )
    var keyring: String?

    func load() throws -> TrustedKeys { try TrustedKeys.load(keyArguments: key, keyring: keyring) }
}
