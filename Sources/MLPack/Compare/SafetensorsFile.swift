import Foundation

/// A safetensors file (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length, a JSON header (`__metadata__`, then per tensor `dtype`, `shape` and
/// `data_offsets` relative to the data that follows the header), then the data. Only the
/// header is read into memory; every number in it is checked before it is used, since the
/// file may come from code nobody trusts.
final class SafetensorsFile: TensorContainer {
    /// safetensors' own limit on the header (100 MB); real headers are kilobytes.
    static let maxHeaderBytes: UInt64 = 100_000_000
    /// The largest integer a JSON number holds exactly (the header's numbers go through Double).
    private static let maxExactInteger: Double = 9_007_199_254_740_992

    let path: String
    let tensors: [TensorInfo]
    let metadata: [String: String]
    private let file: PosixFile

    init(path: String) throws {
        func invalid(_ problem: String) -> MLPackError {
            .io(path: path, reason: "not a valid safetensors file: \(problem)")
        }
        let file = try PosixFile(path: path, mode: .read)
        guard let size = file.seekableSize else { throw MLPackError.io(path: path, reason: "not a regular file") }
        guard size >= 8 else { throw invalid("\(size) bytes, shorter than the 8-byte header length") }
        let headerLength = try file.read(at: 0, count: 8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength <= Self.maxHeaderBytes else {
            throw invalid("header length \(headerLength) is over the \(Self.maxHeaderBytes)-byte limit")
        }
        guard headerLength <= size - 8 else {
            throw invalid("header length \(headerLength) runs past the end of the \(size)-byte file")
        }
        guard headerLength >= 2 else { throw invalid("header length \(headerLength) cannot hold a JSON object") }
        let header = try file.read(at: 8, count: Int(headerLength))
        guard header.count == Int(headerLength) else { throw invalid("the header is cut short") }
        guard header.first == UInt8(ascii: "{") else { throw invalid("the header does not start with '{'") }
        // Read with the pull parser: a header may describe a million tensors, which Codable
        // would hold as a tree of values many times the header's size.
        var scanner = JSONScanner(header)
        var metadataJSON: ArraySlice<UInt8>?
        var described: [(name: String, fields: Description)] = []
        do {
            try scanner.object { (scanner, name) throws(JSONScanner.Malformed) in
                if name == "__metadata__" {
                    metadataJSON = try scanner.rawValue()
                } else {
                    described.append((name, try Description(scanner: &scanner)))
                }
            }
            try scanner.end()
        } catch {
            throw invalid("the header is not a JSON object")
        }
        let dataSize = size - 8 - headerLength
        let dataStart = 8 + headerLength

        var metadata: [String: String] = [:]
        if let metadataJSON {
            guard case .object(let fields)? = try? JSONDecoder().decode(JSONValue.self, from: Data(metadataJSON)) else {
                throw invalid("__metadata__ is not an object")
            }
            for (key, field) in fields {
                if case .string(let text) = field { metadata[key] = text } else { metadata[key] = "\(field)" }
            }
        }
        var tensors: [TensorInfo] = []
        var names = Set<String>()
        for (name, fields) in described {
            guard names.insert(name).inserted else { throw invalid("the header describes tensor \(name) twice") }
            guard fields.isObject else { throw invalid("tensor \(name) is not described by an object") }
            guard let dtypeName = fields.dtype else { throw invalid("tensor \(name) has no dtype") }
            guard let dtype = TensorDType.safetensors(dtypeName) else {
                throw invalid("tensor \(name) has the unsupported dtype \(dtypeName)")
            }
            guard let dimensions = fields.shape,
                let shape = Self.integers(dimensions)?.compactMap({ Int(exactly: $0) }), shape.count == dimensions.count
            else { throw invalid("tensor \(name) has no shape of non-negative integers") }
            guard let offsetValues = fields.dataOffsets, offsetValues.count == 2,
                let offsets = Self.integers(offsetValues)
            else { throw invalid("tensor \(name) has no data_offsets [begin, end] of non-negative integers") }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end else {
                throw invalid("tensor \(name) has data_offsets [\(begin), \(end)] that end before they begin")
            }
            guard end <= dataSize else {
                throw invalid(
                    "tensor \(name) has data_offsets [\(begin), \(end)] past the end of the \(dataSize) data bytes")
            }
            guard let sizes = TensorInfo.sizes(shape: shape, dtype: dtype) else {
                throw invalid("tensor \(name) has a shape \(shape) too large to address")
            }
            guard sizes.bytes == end - begin else {
                throw invalid(
                    "tensor \(name): shape \(shape) × \(dtypeName) is \(sizes.bytes) bytes, but data_offsets span \(end - begin)"
                )
            }
            tensors.append(
                TensorInfo(
                    name: name, dtype: dtype, shape: shape, elements: sizes.elements, byteCount: sizes.bytes,
                    position: dataStart + begin))
        }
        tensors.sort { ($0.position, $0.byteCount) < ($1.position, $1.byteCount) }
        for (previous, next) in zip(tensors, tensors.dropFirst())
        where next.position < previous.position + previous.byteCount {
            throw invalid("the data of tensors \(previous.name) and \(next.name) overlap")
        }
        self.path = path
        self.file = file
        self.tensors = tensors
        self.metadata = metadata
    }

    func open(_ tensor: TensorInfo) throws -> any TensorByteStream {
        FileRangeStream(file: file, offset: tensor.position, count: tensor.byteCount, tensor: tensor.name)
    }

    /// The values as integers, or nil unless every one is a whole number from 0 to 2^53.
    private static func integers(_ values: [Double?]) -> [UInt64]? {
        var out: [UInt64] = []
        for value in values {
            guard let number = value, number >= 0, number <= maxExactInteger, number.rounded(.towardZero) == number
            else {
                return nil
            }
            out.append(UInt64(number))
        }
        return out
    }

    /// One tensor's description as the header gives it, each field nil when it is absent or
    /// of another JSON type (the checks above say which).
    private struct Description {
        var isObject = false
        var dtype: String?
        /// Numbers as doubles (as JSON has them), nil for an element that is not a number.
        var shape: [Double?]?
        var dataOffsets: [Double?]?

        init(scanner: inout JSONScanner) throws(JSONScanner.Malformed) {
            guard scanner.peek() == UInt8(ascii: "{") else {
                try scanner.skipValue()
                return
            }
            isObject = true
            var dtype: String?, shape: [Double?]?, dataOffsets: [Double?]?
            try scanner.object { (scanner, key) throws(JSONScanner.Malformed) in
                switch key {
                case "dtype":
                    dtype = scanner.peek() == UInt8(ascii: "\"") ? try scanner.string() : nil
                    if dtype == nil { try scanner.skipValue() }
                case "shape": shape = try Self.numbers(&scanner)
                case "data_offsets": dataOffsets = try Self.numbers(&scanner)
                default: try scanner.skipValue()
                }
            }
            (self.dtype, self.shape, self.dataOffsets) = (dtype, shape, dataOffsets)
        }

        private static func numbers(_ scanner: inout JSONScanner) throws(JSONScanner.Malformed) -> [Double?]? {
            guard scanner.peek() == UInt8(ascii: "[") else {
                try scanner.skipValue()
                return nil
            }
            var values: [Double?] = []
            try scanner.array { (scanner) throws(JSONScanner.Malformed) in
                if let next = scanner.peek(), next == UInt8(ascii: "-") || (0x30...0x39).contains(next) {
                    values.append(try scanner.double())
                } else {
                    try scanner.skipValue()
                    values.append(nil)
                }
            }
            return values
        }
    }
}
