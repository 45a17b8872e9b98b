import Foundation

/// What comparing one tensor's elements found, accumulated chunk by chunk.
struct ElementStats: Sendable {
    var elements: UInt64 = 0
    /// Elements whose bytes differ.
    var changed: UInt64 = 0
    /// Elements outside the tolerance.
    var mismatched: UInt64 = 0
    /// Over elements finite on both sides; relative only where the expected value is not 0.
    var maxAbs: Double = 0
    var maxRel: Double = 0
    /// The nonzero finite |actual − expected| of changed elements, by power of two.
    var differences = DifferenceHistogram()
}

/// How many element differences fall in each power of two, [2^e, 2^(e+1)): one pass, a
/// fixed 128 counters whatever the tensor's size (exponents below −96 or above 31 are
/// counted at those ends).
public struct DifferenceHistogram: Sendable, Equatable {
    static let lowest = -96
    private var counts = [UInt64](repeating: 0, count: 128)

    mutating func add(_ difference: Double) {
        guard difference > 0, difference.isFinite else { return }
        let bin = min(max(Int(difference.exponent), Self.lowest), Self.lowest + 127) - Self.lowest
        counts[bin] &+= 1
    }

    /// The nonempty bins, lowest first.
    public var bins: [DifferenceBin] {
        counts.indices.compactMap {
            counts[$0] == 0 ? nil : DifferenceBin(exponent: $0 + Self.lowest, count: Int(clamping: counts[$0]))
        }
    }
}

/// Element differences d with 2^exponent ≤ d < 2^(exponent+1).
public struct DifferenceBin: Codable, Sendable, Equatable {
    public var exponent: Int
    public var count: Int

    public init(exponent: Int, count: Int) {
        self.exponent = exponent
        self.count = count
    }
}

/// Element-wise comparison of two chunks holding the same elements of one tensor. Floats
/// (half, bfloat16, single, double, and each part of a complex number) match when
/// |actual − expected| ≤ atol + rtol·|expected|; NaN matches NaN (any payload) and nothing
/// else; an infinity matches only the same infinity. Integers and booleans match only when
/// equal; 8-bit floats, strings and raw records only when their bytes are equal.
enum ElementComparison {
    static func compare(
        expected a: UnsafeRawBufferPointer, actual b: UnsafeRawBufferPointer,
        expectedType: TensorDType, actualType: TensorDType, tolerance: ComparisonTolerance,
        into stats: inout ElementStats
    ) {
        let size = expectedType.size
        let count = a.count / size
        stats.elements += UInt64(count)
        // Equal chunks are the common case (a rebuilt model is mostly the same bytes).
        if a.count == b.count, memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0,
            expectedType.bigEndian == actualType.bigEndian
        {
            return
        }
        let (bigA, bigB) = (expectedType.bigEndian, actualType.bigEndian)
        let (atol, rtol) = (tolerance.atol, tolerance.rtol)

        // The width byte order applies to: a complex number's parts are swapped one by one.
        let word = expectedType.element == .complex64 ? 4 : expectedType.element == .complex128 ? 8 : size
        func sameBits(_ offset: Int) -> Bool {
            if bigA == bigB { return memcmp(a.baseAddress! + offset, b.baseAddress! + offset, size) == 0 }
            return stride(from: 0, to: size, by: word).allSatisfy {
                unsigned(a, offset + $0, word, bigA) == unsigned(b, offset + $0, word, bigB)
            }
        }
        func each(_ body: (Int) -> Bool) {
            for i in 0..<count {
                let offset = i * size
                if sameBits(offset) { continue }
                stats.changed += 1
                if !body(offset) { stats.mismatched += 1 }
            }
        }
        func float(_ x: Double, _ y: Double) -> Bool {
            if x.isNaN || y.isNaN { return x.isNaN && y.isNaN }
            if x.isInfinite || y.isInfinite { return x == y }
            let difference = abs(x - y)
            if difference.isFinite {
                stats.differences.add(difference)
                stats.maxAbs = max(stats.maxAbs, difference)
                if x != 0 {
                    let relative = difference / abs(x)
                    if relative.isFinite { stats.maxRel = max(stats.maxRel, relative) }
                }
            }
            return difference <= atol + rtol * abs(x)
        }
        func integer(_ x: Double, _ y: Double, equal: Bool) -> Bool {
            if !equal {
                let difference = abs(x - y)
                stats.differences.add(difference)
                stats.maxAbs = max(stats.maxAbs, difference)
                if x != 0 { stats.maxRel = max(stats.maxRel, difference / abs(x)) }
            }
            return equal
        }

        switch expectedType.element {
        case .float16:
            each { float(half(load16(a, $0, bigA)), half(load16(b, $0, bigB))) }
        case .bfloat16:
            each { float(bfloat(load16(a, $0, bigA)), bfloat(load16(b, $0, bigB))) }
        case .float32:
            each {
                float(Double(Float(bitPattern: load32(a, $0, bigA))), Double(Float(bitPattern: load32(b, $0, bigB))))
            }
        case .float64:
            each { float(Double(bitPattern: load64(a, $0, bigA)), Double(bitPattern: load64(b, $0, bigB))) }
        case .complex64:
            each { offset in
                let real = float(
                    Double(Float(bitPattern: load32(a, offset, bigA))),
                    Double(Float(bitPattern: load32(b, offset, bigB))))
                let imaginary = float(
                    Double(Float(bitPattern: load32(a, offset + 4, bigA))),
                    Double(Float(bitPattern: load32(b, offset + 4, bigB))))
                return real && imaginary
            }
        case .complex128:
            each { offset in
                let real = float(
                    Double(bitPattern: load64(a, offset, bigA)), Double(bitPattern: load64(b, offset, bigB)))
                let imaginary = float(
                    Double(bitPattern: load64(a, offset + 8, bigA)), Double(bitPattern: load64(b, offset + 8, bigB)))
                return real && imaginary
            }
        case .signed(let bytes):
            each { offset in
                let x = signed(a, offset, bytes, bigA), y = signed(b, offset, bytes, bigB)
                return integer(Double(x), Double(y), equal: x == y)
            }
        case .unsigned(let bytes):
            each { offset in
                let x = unsigned(a, offset, bytes, bigA), y = unsigned(b, offset, bytes, bigB)
                return integer(Double(x), Double(y), equal: x == y)
            }
        case .bool:
            each { (a[$0] != 0) == (b[$0] != 0) }
        case .opaque:
            // Reached only for elements whose bytes differ.
            each { _ in false }
        }
    }

    // MARK: Decoding

    private static func load16(_ p: UnsafeRawBufferPointer, _ offset: Int, _ big: Bool) -> UInt16 {
        let raw = p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
        return big ? UInt16(bigEndian: raw) : UInt16(littleEndian: raw)
    }

    private static func load32(_ p: UnsafeRawBufferPointer, _ offset: Int, _ big: Bool) -> UInt32 {
        let raw = p.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        return big ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw)
    }

    private static func load64(_ p: UnsafeRawBufferPointer, _ offset: Int, _ big: Bool) -> UInt64 {
        let raw = p.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        return big ? UInt64(bigEndian: raw) : UInt64(littleEndian: raw)
    }

    private static func unsigned(_ p: UnsafeRawBufferPointer, _ offset: Int, _ bytes: Int, _ big: Bool) -> UInt64 {
        switch bytes {
        case 1: UInt64(p[offset])
        case 2: UInt64(load16(p, offset, big))
        case 4: UInt64(load32(p, offset, big))
        default: load64(p, offset, big)
        }
    }

    private static func signed(_ p: UnsafeRawBufferPointer, _ offset: Int, _ bytes: Int, _ big: Bool) -> Int64 {
        switch bytes {
        case 1: Int64(Int8(bitPattern: p[offset]))
        case 2: Int64(Int16(bitPattern: load16(p, offset, big)))
        case 4: Int64(Int32(bitPattern: load32(p, offset, big)))
        default: Int64(bitPattern: load64(p, offset, big))
        }
    }

    /// IEEE 754 half precision, exactly (no platform Float16 needed).
    static func half(_ bits: UInt16) -> Double {
        let exponent = Int(bits >> 10) & 0x1f
        let fraction = Double(bits & 0x3ff)
        let magnitude: Double
        switch exponent {
        case 0: magnitude = fraction * 0x1p-24
        case 0x1f: magnitude = fraction == 0 ? .infinity : .nan
        default: magnitude = Double(sign: .plus, exponent: exponent - 25, significand: fraction + 1024)
        }
        return bits & 0x8000 != 0 ? -magnitude : magnitude
    }

    /// bfloat16: the top half of a single-precision float.
    static func bfloat(_ bits: UInt16) -> Double { Double(Float(bitPattern: UInt32(bits) << 16)) }
}
