import Foundation

/// Rules every path in a pack obeys (spec/FORMAT.md §7.1). The writer refuses to store a
/// name that breaks one; the reader rejects the whole pack.
public enum PackPath {
    static let maxLength = 4096
    static let maxComponentLength = 255

    /// The rule `path` breaks, or nil when it is acceptable. Checked on bytes and scalars,
    /// never on Swift `Character`s: "/" followed by a combining mark is one Character but
    /// still a separator to the file system.
    public static func problem(with path: String) -> String? {
        let bytes = Array(path.utf8)
        let slash = UInt8(ascii: "/")
        if bytes.isEmpty { return "empty path" }
        if bytes.count > maxLength { return "path longer than \(maxLength) bytes" }
        if bytes[0] == slash { return "absolute path" }
        for scalar in path.unicodeScalars {
            if scalar.value == 0 { return "NUL in path" }
            if scalar.value < 0x20 || scalar.value == 0x7f { return "control character in path" }
            if scalar == "\\" { return "backslash in path" }
            if scalar == "%" { return "'%' in path (BagIt would need to escape it)" }
        }
        let ascii = bytes.allSatisfy { $0 < 0x80 }
        if !ascii && bytes != Array(path.precomposedStringWithCanonicalMapping.utf8) {
            return "path is not in Unicode NFC form"
        }
        let components = bytes.split(separator: slash, omittingEmptySubsequences: false)
        for component in components {
            if component.isEmpty { return "empty path component" }
            if component.elementsEqual([0x2e]) || component.elementsEqual([0x2e, 0x2e]) {
                return "'\(String(decoding: component, as: UTF8.self))' in path"
            }
            if component.count > maxComponentLength { return "path component longer than \(maxComponentLength) bytes" }
            if component.first == 0x20 || component.last == 0x20 { return "path component starts or ends with a space" }
        }
        // Anything that treats the path as text must see the same components (ASCII has no
        // combining marks).
        if !ascii && path.split(separator: "/", omittingEmptySubsequences: false).count != components.count {
            return "path component starts with a combining character"
        }
        return nil
    }

    /// Decodes raw tar path bytes, rejecting what is not UTF-8 before any other rule.
    static func decode(_ raw: [UInt8]) -> (path: String?, problem: String?) {
        if raw.contains(0) { return (nil, "NUL in path") }
        guard let text = String(validating: raw, as: UTF8.self) else { return (nil, "path is not valid UTF-8") }
        return (text, problem(with: text))
    }

    /// A printable form of raw path bytes for error messages.
    static func display(_ raw: [UInt8]) -> String {
        let text = String(decoding: raw, as: UTF8.self)
        return text.unicodeScalars.map {
            $0.value < 0x20 || $0.value == 0x7f ? "\\x" + String(format: "%02x", $0.value) : String($0)
        }.joined()
    }

    /// Paths that would land on the same file on a case-insensitive file system share a key.
    static func caseFoldKey(_ path: String) -> String {
        // ASCII is already NFC; Foundation's normalisation is the slow part of reading a big index.
        path.utf8.allSatisfy { $0 < 0x80 } ? path.lowercased() : path.precomposedStringWithCanonicalMapping.lowercased()
    }

    /// The top-level directory: a plain, portable name.
    public static func isValidTopDirectory(_ name: String) -> Bool {
        guard let first = name.utf8.first, first != UInt8(ascii: "."), first != UInt8(ascii: "-"),
            name.utf8.count <= 100
        else { return false }
        return name.utf8.allSatisfy(isPortable)
    }

    /// Turns any text into a valid top-level directory name.
    public static func sanitizedName(_ text: String) -> String {
        var name = String(decoding: text.utf8.map { isPortable($0) ? $0 : UInt8(ascii: "-") }, as: UTF8.self)
        while name.hasPrefix(".") || name.hasPrefix("-") { name.removeFirst() }
        name = String(name.prefix(100))
        return name.isEmpty ? "pack" : name
    }

    private static func isPortable(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
            || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }
}
