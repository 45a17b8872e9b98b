import Foundation
import MLPack

/// Where passwords come from: `MLPACK_PASSWORD`, else a prompt on the terminal without echo.
enum Password {
    static let environmentVariable = "MLPACK_PASSWORD"

    static func read(prompt: String, confirm: Bool) throws -> SecretBytes {
        if let value = ProcessInfo.processInfo.environment[environmentVariable] {
            var bytes = Array(value.utf8)
            return SecretBytes(consuming: &bytes)
        }
        let tty = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard tty >= 0 else {
            throw MLPackError.usage("a password is needed: set \(environmentVariable) or run on a terminal")
        }
        defer { close(tty) }
        var first = try ask(prompt, tty: tty)
        if confirm {
            var second = try ask("Password (again): ", tty: tty)
            defer { wipe(&second) }
            guard first == second else {
                wipe(&first)
                throw MLPackError.usage("the passwords do not match")
            }
        }
        return SecretBytes(consuming: &first)
    }

    private static func ask(_ prompt: String, tty: Int32) throws -> [UInt8] {
        _ = prompt.withCString { write(tty, $0, strlen($0)) }
        var saved = termios()
        let canHide = tcgetattr(tty, &saved) == 0
        if canHide {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(tty, TCSAFLUSH, &quiet)
        }
        defer {
            if canHide { tcsetattr(tty, TCSAFLUSH, &saved) }
            _ = write(tty, "\n", 1)
        }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while Foundation.read(tty, &byte, 1) == 1, byte != UInt8(ascii: "\n") {
            bytes.append(byte)
        }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        return bytes
    }

    private static func wipe(_ bytes: inout [UInt8]) {
        for i in bytes.indices { bytes[i] = 0 }
    }
}
