/// A strict pull parser for the metadata read thousands of times per command (each item's
/// disclosure, each seek-index entry): Codable's per-value machinery was most of `inspect`'s
/// time on a big pack. It accepts RFC 8259 JSON, with numbers read where the caller expects
/// unsigned integers; anything else is `malformed`.
struct JSONScanner {
    struct Malformed: Error {
        var offset: Int
    }

    private let bytes: [UInt8]
    private var at = 0
    /// Nesting allowed in values that are skipped, so a hostile document cannot exhaust the stack.
    private static let maxDepth = 64

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Consumes `byte` (after whitespace) or fails.
    mutating func expect(_ byte: UInt8) throws(Malformed) {
        guard take(byte) else { throw Malformed(offset: at) }
    }

    /// Consumes `byte` (after whitespace) if it is next.
    mutating func take(_ byte: UInt8) -> Bool {
        skipSpace()
        guard at < bytes.count, bytes[at] == byte else { return false }
        at += 1
        return true
    }

    /// Only whitespace may follow.
    mutating func end() throws(Malformed) {
        skipSpace()
        guard at == bytes.count else { throw Malformed(offset: at) }
    }

    mutating func string() throws(Malformed) -> String {
        try expect(UInt8(ascii: "\""))
        var out: [UInt8] = []
        var start = at
        while true {
            guard at < bytes.count else { throw Malformed(offset: at) }
            let byte = bytes[at]
            switch byte {
            case UInt8(ascii: "\""):
                defer { at += 1 }
                // Without escapes (the usual case) the bytes are the string.
                let text =
                    out.isEmpty
                    ? String(validating: bytes[start..<at], as: UTF8.self)
                    : String(validating: out + bytes[start..<at], as: UTF8.self)
                guard let text else { throw Malformed(offset: start) }
                return text
            case UInt8(ascii: "\\"):
                out += bytes[start..<at]
                at += 1
                try escape(into: &out)
                start = at
            case ..<0x20:
                throw Malformed(offset: at)
            default:
                at += 1
            }
        }
    }

    /// A non-negative integer without fraction or exponent.
    mutating func unsigned() throws(Malformed) -> UInt64 {
        skipSpace()
        let start = at
        var value: UInt64 = 0
        while at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9") {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(bytes[at] - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw Malformed(offset: start) }
            value = sum
            at += 1
        }
        // No digits, a leading zero, or a fraction/exponent that would make it a non-integer.
        guard at > start, bytes[start] != UInt8(ascii: "0") || at == start + 1,
            at == bytes.count || (bytes[at] != UInt8(ascii: ".") && bytes[at] | 0x20 != UInt8(ascii: "e"))
        else { throw Malformed(offset: start) }
        return value
    }

    /// Any number, as `JSONDecoder` reads it into a Double.
    mutating func double() throws(Malformed) -> Double {
        skipSpace()
        let start = at
        try number()
        return Double(String(decoding: bytes[start..<at], as: UTF8.self)) ?? .infinity
    }

    /// The next byte after whitespace, without consuming it: which kind of value follows.
    mutating func peek() -> UInt8? {
        skipSpace()
        return at < bytes.count ? bytes[at] : nil
    }

    /// Consumes any value and gives its bytes, for a part decoded some other way.
    mutating func rawValue() throws(Malformed) -> ArraySlice<UInt8> {
        skipSpace()
        let start = at
        try skipValue()
        return bytes[start..<at]
    }

    /// Calls `element` for each element of an array.
    mutating func array(_ element: (inout JSONScanner) throws(Malformed) -> Void) throws(Malformed) {
        try expect(UInt8(ascii: "["))
        if take(UInt8(ascii: "]")) { return }
        repeat { try element(&self) } while take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"))
    }

    /// Calls `member` with each key of an object; it must consume the value (or `skipValue()`).
    mutating func object(_ member: (inout JSONScanner, String) throws(Malformed) -> Void) throws(Malformed) {
        try expect(UInt8(ascii: "{"))
        if take(UInt8(ascii: "}")) { return }
        repeat {
            let key = try string()
            try expect(UInt8(ascii: ":"))
            try member(&self, key)
        } while take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
    }

    /// Consumes `null` if it is next.
    mutating func null() -> Bool {
        skipSpace()
        guard bytes[at...].starts(with: Self.nullLiteral) else { return false }
        at += 4
        return true
    }

    /// Consumes any value (a key this reader does not know).
    mutating func skipValue(depth: Int = 0) throws(Malformed) {
        guard depth < Self.maxDepth else { throw Malformed(offset: at) }
        skipSpace()
        guard at < bytes.count else { throw Malformed(offset: at) }
        switch bytes[at] {
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "["): try array { (scanner) throws(Malformed) in try scanner.skipValue(depth: depth + 1) }
        case UInt8(ascii: "{"): try object { (scanner, _) throws(Malformed) in try scanner.skipValue(depth: depth + 1) }
        case UInt8(ascii: "t"): try literal(Self.trueLiteral)
        case UInt8(ascii: "f"): try literal(Self.falseLiteral)
        case UInt8(ascii: "n"): try literal(Self.nullLiteral)
        default: try number()
        }
    }

    private static let nullLiteral = Array("null".utf8)
    private static let trueLiteral = Array("true".utf8)
    private static let falseLiteral = Array("false".utf8)

    private mutating func literal(_ word: [UInt8]) throws(Malformed) {
        guard bytes[at...].starts(with: word) else { throw Malformed(offset: at) }
        at += word.count
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number() throws(Malformed) {
        let start = at
        func digits() throws(Malformed) -> Int {
            let first = at
            while at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9") { at += 1 }
            guard at > first else { throw Malformed(offset: first) }
            return at - first
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
        let integerStart = at
        let count = try digits()
        guard bytes[integerStart] != UInt8(ascii: "0") || count == 1 else { throw Malformed(offset: start) }
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
            at += 1
            _ = try digits()
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
            at += 1
            if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
            _ = try digits()
        }
    }

    private mutating func escape(into out: inout [UInt8]) throws(Malformed) {
        guard at < bytes.count else { throw Malformed(offset: at) }
        let byte = bytes[at]
        at += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(byte)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0c)
        case UInt8(ascii: "n"): out.append(0x0a)
        case UInt8(ascii: "r"): out.append(0x0d)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar) {  // a high surrogate needs its low half
                guard bytes[at...].starts(with: [UInt8(ascii: "\\"), UInt8(ascii: "u")]) else {
                    throw Malformed(offset: at)
                }
                at += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw Malformed(offset: at) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let value = Unicode.Scalar(scalar) else { throw Malformed(offset: at) }
            out += Array(String(Character(value)).utf8)
        default:
            throw Malformed(offset: at - 1)
        }
    }

    private mutating func hex4() throws(Malformed) -> UInt32 {
        guard at + 4 <= bytes.count else { throw Malformed(offset: at) }
        var value: UInt32 = 0
        for byte in bytes[at..<at + 4] {
            guard let digit = Hex.digitValue(byte) else { throw Malformed(offset: at) }
            value = value << 4 | UInt32(digit)
        }
        at += 4
        return value
    }

    private mutating func skipSpace() {
        while at < bytes.count {
            switch bytes[at] {
            case 0x20, 0x09, 0x0a, 0x0d: at += 1
            default: return
            }
        }
    }
}
