import Foundation

/// Metrics files as training scripts write them. Python's `json.dump` writes NaN and the
/// infinities as the bare words `NaN`, `Infinity` and `-Infinity`, which JSON does not
/// allow; they are read as the strings "NaN", "Infinity" and "-Infinity" (and read back as
/// numbers when compared), so a diverged loss is recorded instead of dropping the file.
public enum MetricsJSON {
    /// Metrics are small; a bigger file is not a metrics file.
    public static let maxBytes = 16 << 20

    /// The value, or nil when the bytes are not JSON (with Python's extra words).
    public static func parse(_ bytes: Data) -> JSONValue? {
        guard bytes.count <= maxBytes else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: quotingNonFiniteWords(bytes))
    }

    /// Reads a metrics file: a JSON value; errors name the file.
    static func read(_ path: String) throws -> JSONValue {
        let file = try PosixFile(path: path, mode: .read)
        guard let size = file.seekableSize else { throw MLPackError.io(path: path, reason: "not a regular file") }
        guard size <= UInt64(maxBytes) else {
            throw MLPackError.io(
                path: path, reason: "\(size) bytes: over the \(maxBytes >> 20) MiB a metrics file may hold")
        }
        let bytes = try file.read(at: 0, count: Int(size))
        guard let value = parse(Data(bytes)) else { throw MLPackError.io(path: path, reason: "not valid JSON") }
        return value
    }

    /// The number a value holds: a JSON number, or one of the words for the non-finite ones.
    static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .number(let number): number
        case .string("NaN"): .nan
        case .string("Infinity"): .infinity
        case .string("-Infinity"): -.infinity
        default: nil
        }
    }

    /// The leaves of a value by name: nested keys joined with dots, array elements as
    /// `name[i]`; a bare top-level value is named "value".
    static func flatten(_ value: JSONValue) -> [(name: String, value: JSONValue)] {
        var out: [(String, JSONValue)] = []
        func walk(_ value: JSONValue, _ name: String) {
            switch value {
            case .object(let fields):
                for key in fields.keys.sorted() { walk(fields[key]!, name.isEmpty ? key : name + "." + key) }
            case .array(let elements):
                for (index, element) in elements.enumerated() {
                    walk(element, "\(name.isEmpty ? "value" : name)[\(index)]")
                }
            default:
                out.append((name.isEmpty ? "value" : name, value))
            }
        }
        walk(value, "")
        return out
    }

    /// Quotes `NaN`, `Infinity` and `-Infinity` where they stand as values (outside strings).
    private static func quotingNonFiniteWords(_ bytes: Data) -> Data {
        let words: [[UInt8]] = [Array("NaN".utf8), Array("Infinity".utf8), Array("-Infinity".utf8)]
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var inString = false, escaped = false
        let input = [UInt8](bytes)
        var i = 0
        while i < input.count {
            let byte = input[i]
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                out.append(byte)
                i += 1
                continue
            }
            if byte == UInt8(ascii: "\"") { inString = true }
            if let word = words.first(where: { input[i...].starts(with: $0) }) {
                out.append(UInt8(ascii: "\""))
                out += word
                out.append(UInt8(ascii: "\""))
                i += word.count
                continue
            }
            out.append(byte)
            i += 1
        }
        return Data(out)
    }
}
