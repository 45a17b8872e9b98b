/// The element type of a tensor, as the file spells it ("F32" in safetensors, "<f4" in
/// .npy) and as the comparison needs it: how wide an element is, how to read it as a number,
/// and whether a tolerance applies (floats) or only exact equality (integers, booleans, and
/// types compared byte for byte).
struct TensorDType: Sendable, Equatable {
    enum Element: Sendable, Equatable {
        case float16, bfloat16, float32, float64
        /// Two floats (real, imaginary), each compared with the tolerance.
        case complex64, complex128
        case signed(bytes: Int)
        case unsigned(bytes: Int)
        case bool
        /// Compared byte for byte only: 8-bit floats, strings, datetimes, raw records.
        case opaque(bytes: Int)
    }

    /// As the file spells it.
    var name: String
    var element: Element
    var bigEndian = false

    var size: Int {
        switch element {
        case .float16, .bfloat16: 2
        case .float32: 4
        case .float64, .complex64: 8
        case .complex128: 16
        case .signed(let bytes), .unsigned(let bytes), .opaque(let bytes): bytes
        case .bool: 1
        }
    }

    var isFloatingPoint: Bool {
        switch element {
        case .float16, .bfloat16, .float32, .float64, .complex64, .complex128: true
        default: false
        }
    }

    /// Two dtypes hold comparable elements when they agree on everything but spelling
    /// ("<f4" and "F32"); a different byte order is comparable too (values are decoded).
    func isComparable(with other: TensorDType) -> Bool { element == other.element }

    /// safetensors' dtypes (https://github.com/huggingface/safetensors, `Dtype`).
    static func safetensors(_ name: String) -> TensorDType? {
        let element: Element
        switch name {
        case "F64": element = .float64
        case "F32": element = .float32
        case "F16": element = .float16
        case "BF16": element = .bfloat16
        case "C64": element = .complex64
        case "I64": element = .signed(bytes: 8)
        case "I32": element = .signed(bytes: 4)
        case "I16": element = .signed(bytes: 2)
        case "I8": element = .signed(bytes: 1)
        case "U64": element = .unsigned(bytes: 8)
        case "U32": element = .unsigned(bytes: 4)
        case "U16": element = .unsigned(bytes: 2)
        case "U8": element = .unsigned(bytes: 1)
        case "BOOL": element = .bool
        // No tolerance is meaningful at 8 bits: equal bytes or different.
        case "F8_E4M3", "F8_E5M2", "F8_E8M0": element = .opaque(bytes: 1)
        default: return nil
        }
        return TensorDType(name: name, element: element)
    }

    /// A numpy `descr` string ("<f4", "|b1", ">i8", "|S10", "<U3", "<M8[ns]"); nil when
    /// mlpack cannot compare it, `object` when it names pickled objects.
    static func numpy(_ descr: String) -> Result<TensorDType, NumpyDTypeProblem> {
        var body = Substring(descr)
        var bigEndian = false
        if let order = body.first, "<>|=".contains(order) {
            bigEndian = order == ">"
            body = body.dropFirst()
        }
        guard let code = body.first else { return .failure(.unsupported) }
        let sizeText = body.dropFirst().prefix { $0.isASCII && $0.isNumber }
        let rest = body.dropFirst(1 + sizeText.count)
        guard let size = Int(sizeText), size > 0, size <= 1 << 20 else {
            return code == "O" ? .failure(.object) : .failure(.unsupported)
        }
        let element: Element
        switch (code, size) {
        case ("f", 2): element = .float16
        case ("f", 4): element = .float32
        case ("f", 8): element = .float64
        case ("c", 8): element = .complex64
        case ("c", 16): element = .complex128
        case ("i", 1), ("i", 2), ("i", 4), ("i", 8): element = .signed(bytes: size)
        case ("u", 1), ("u", 2), ("u", 4), ("u", 8): element = .unsigned(bytes: size)
        case ("b", 1): element = .bool
        // Datetimes and timedeltas are integers with a unit: exact, like integers.
        case ("M", 8), ("m", 8): element = .signed(bytes: 8)
        case ("S", _), ("V", _): element = .opaque(bytes: size)
        case ("U", _) where size <= 1 << 18: element = .opaque(bytes: size * 4)
        // Long doubles are platform-defined: compared byte for byte.
        case ("f", 12), ("f", 16): element = .opaque(bytes: size)
        case ("O", _): return .failure(.object)
        default: return .failure(.unsupported)
        }
        // Only a datetime's unit may follow the size.
        if !rest.isEmpty && !(code == "M" || code == "m") { return .failure(.unsupported) }
        let single = size == 1 || { if case .opaque = element { return true } else { return false } }()
        return .success(TensorDType(name: descr, element: element, bigEndian: bigEndian && !single))
    }

    enum NumpyDTypeProblem: Error { case object, unsupported }
}
