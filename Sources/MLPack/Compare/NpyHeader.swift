/// The header of a `.npy` array (numpy's format, versions 1.0, 2.0 and 3.0): the magic
/// `\x93NUMPY`, a version, the header's length, then a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`. Parsed by hand (never
/// evaluated), with limits on its length and nesting.
struct NpyHeader {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    /// numpy refuses headers over 10000 bytes unless told otherwise; this is generous.
    static let maxHeaderBytes = 1 << 20

    var dtype: TensorDType
    var shape: [Int]
    var fortranOrder: Bool
    /// Where the data starts: after the magic, version, length and header text.
    var dataOffset: UInt64
    var elements: UInt64
    var byteCount: UInt64

    struct Problem: Error { let message: String }

    /// Reads the header through `read(n)`, which returns the next n bytes (fewer at the end).
    static func read(_ read: (Int) throws -> [UInt8]) throws -> NpyHeader {
        func fail(_ message: String) -> Problem { Problem(message: message) }
        let start = try read(8)
        guard start.count == 8, Array(start.prefix(6)) == magic else { throw fail("no .npy magic (\\x93NUMPY)") }
        let (major, minor) = (start[6], start[7])
        guard [1, 2, 3].contains(major), minor == 0 else { throw fail("unsupported .npy version \(major).\(minor)") }
        let lengthBytes = try read(major == 1 ? 2 : 4)
        guard lengthBytes.count == (major == 1 ? 2 : 4) else { throw fail("the header is cut short") }
        let headerLength = lengthBytes.reversed().reduce(0) { $0 << 8 | Int($1) }
        guard headerLength <= maxHeaderBytes else {
            throw fail("header length \(headerLength) is over the \(maxHeaderBytes)-byte limit")
        }
        let text = try read(headerLength)
        guard text.count == headerLength else { throw fail("the header is cut short") }

        var parser = PythonLiteralParser(bytes: text)
        guard case .dict(let fields) = try parser.parseTop() else { throw fail("the header is not a dict") }
        guard case .string(let descr)? = fields["descr"] else {
            if fields["descr"] != nil { throw fail("structured dtypes are not supported") }
            throw fail("the header has no 'descr'")
        }
        guard case .bool(let fortranOrder)? = fields["fortran_order"] else {
            throw fail("the header has no 'fortran_order'")
        }
        guard case .tuple(let dimensions)? = fields["shape"] else { throw fail("the header has no 'shape' tuple") }
        var shape: [Int] = []
        for dimension in dimensions {
            guard case .int(let value) = dimension, value >= 0 else {
                throw fail("the shape holds something other than a non-negative integer")
            }
            shape.append(value)
        }
        let dtype: TensorDType
        switch TensorDType.numpy(descr) {
        case .success(let type): dtype = type
        case .failure(.object): throw fail("dtype \(descr) holds pickled Python objects, which mlpack does not load")
        case .failure(.unsupported): throw fail("unsupported dtype \(descr)")
        }
        guard let sizes = TensorInfo.sizes(shape: shape, dtype: dtype) else {
            throw fail("shape \(shape) is too large to address")
        }
        return NpyHeader(
            dtype: dtype, shape: shape, fortranOrder: fortranOrder,
            dataOffset: UInt64(start.count + lengthBytes.count + headerLength),
            elements: sizes.elements, byteCount: sizes.bytes)
    }
}

/// The subset of Python literals a .npy header uses: dicts, tuples, lists, strings,
/// integers, True, False, None.
private struct PythonLiteralParser {
    enum Value {
        case dict([String: Value])
        case tuple([Value])
        case list([Value])
        case string(String)
        case int(Int)
        case bool(Bool)
        case none
    }

    let bytes: [UInt8]
    var index = 0
    private static let maxDepth = 16

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseTop() throws -> Value {
        let value = try parse(depth: 0)
        skipSpace()
        guard index == bytes.count else { throw problem("unexpected text after the dict") }
        return value
    }

    private func problem(_ message: String) -> NpyHeader.Problem {
        NpyHeader.Problem(message: "the header is not a Python literal (\(message) at byte \(index))")
    }

    private mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x0a, 0x0d, 0x09].contains(bytes[index]) { index += 1 }
    }

    private mutating func parse(depth: Int) throws -> Value {
        guard depth < Self.maxDepth else { throw problem("nested too deeply") }
        skipSpace()
        guard index < bytes.count else { throw problem("unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var fields: [String: Value] = [:]
            try parseSequence(closing: "}") {
                guard case .string(let key) = try $0.parse(depth: depth + 1) else {
                    throw $0.problem("a dict key is not a string")
                }
                $0.skipSpace()
                guard $0.index < $0.bytes.count, $0.bytes[$0.index] == UInt8(ascii: ":") else {
                    throw $0.problem("expected ':'")
                }
                $0.index += 1
                guard fields.updateValue(try $0.parse(depth: depth + 1), forKey: key) == nil else {
                    throw $0.problem("key \(key) twice")
                }
            }
            return .dict(fields)
        case UInt8(ascii: "("), UInt8(ascii: "["):
            let isTuple = bytes[index] == UInt8(ascii: "(")
            index += 1
            var items: [Value] = []
            try parseSequence(closing: isTuple ? ")" : "]") { items.append(try $0.parse(depth: depth + 1)) }
            return isTuple ? .tuple(items) : .list(items)
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = index
            index += 1
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard let value = Int(String(decoding: bytes[start..<index], as: UTF8.self)) else {
                throw problem("an integer out of range")
            }
            // Python 2 wrote long integers as 3L.
            if index < bytes.count, bytes[index] == UInt8(ascii: "L") { index += 1 }
            return .int(value)
        default:
            for (word, value) in [("True", Value.bool(true)), ("False", .bool(false)), ("None", .none)]
            where bytes[index...].starts(with: word.utf8) {
                index += word.utf8.count
                return value
            }
            throw problem("unexpected character")
        }
    }

    /// Items separated by commas (a trailing one allowed) up to `closing`.
    private mutating func parseSequence(
        closing: Unicode.Scalar, item: (inout PythonLiteralParser) throws -> Void
    ) throws {
        while true {
            skipSpace()
            guard index < bytes.count else { throw problem("unexpected end") }
            if bytes[index] == UInt8(ascii: closing) {
                index += 1
                return
            }
            try item(&self)
            skipSpace()
            guard index < bytes.count else { throw problem("unexpected end") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] != UInt8(ascii: closing) {
                throw problem("expected ',' or '\(closing)'")
            }
        }
    }

    private mutating func parseString() throws -> String {
        let quote = bytes[index]
        index += 1
        var out: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == quote { return String(decoding: out, as: UTF8.self) }
            if byte == UInt8(ascii: "\\") {
                guard index < bytes.count else { break }
                out.append(bytes[index])
                index += 1
            } else {
                out.append(byte)
            }
        }
        throw problem("unterminated string")
    }
}
