/// UTF-8 text of at most `capacity` bytes stored inline (no heap): device names, versions, reasons on the wire.
///
/// Construction validates UTF-8, so a `FixedText` from the network is always well-formed text.
public struct FixedText<let capacity: Int>: Equatable, Sendable {
    private var storage: InlineArray<capacity, UInt8>
    public private(set) var count: Int

    public init() {
        storage = InlineArray(repeating: 0)
        count = 0
    }

    /// Validates and copies `bytes`.
    public init(validating bytes: UnsafeRawBufferPointer) throws(TextError) {
        guard bytes.count <= capacity else { throw .tooLong(length: bytes.count, limit: capacity) }
        guard UTF8Validation.isValid(bytes) else { throw .invalidUTF8 }
        storage = InlineArray(repeating: 0)
        count = bytes.count
        for i in 0..<bytes.count { storage[i] = bytes[i] }
    }

    public init(_ string: String) throws(TextError) {
        var copy = string
        let result = copy.withUTF8 { utf8 in Self.validated(UnsafeRawBufferPointer(utf8)) }
        // A switch rather than `result.get()`: the latter crashes Swift 6.3.1's debug code generation.
        switch result {
        case .success(let v): self = v
        case .failure(let e): throw e
        }
    }

    /// `init(validating:)` as a value, for use inside closures.
    public static func validated(_ bytes: UnsafeRawBufferPointer) -> Result<Self, TextError> {
        do { return .success(try FixedText(validating: bytes)) } catch { return .failure(error) }
    }

    public var isEmpty: Bool { count == 0 }

    public subscript(index: Int) -> UInt8 { storage[index] }

    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let span = storage.span
        return try span.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws(E) -> R in
            try body(UnsafeRawBufferPointer(rebasing: raw[0..<count]))
        }
    }

    /// The text as a `String` (allocates; for display and tests).
    public var string: String {
        withUnsafeBytes { raw in String(decoding: raw, as: UTF8.self) }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for i in 0..<lhs.count where lhs.storage[i] != rhs.storage[i] { return false }
        return true
    }
}

/// Why bytes cannot be a `FixedText`. (Top-level rather than nested: a typed error nested in a value-generic type
/// crashes Swift 6.3.1's debug code generation.)
public enum TextError: Error, Equatable, Sendable {
    case tooLong(length: Int, limit: Int)
    case invalidUTF8
}

/// Strict UTF-8 validation (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
public enum UTF8Validation {
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = bytes[i]
            if b0 < 0x80 {
                i += 1
                continue
            }
            let length: Int
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            switch b0 {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F
            case 0xF0: length = 4; lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F
            default: return false
            }
            guard i + length <= n else { return false }
            let b1 = bytes[i + 1]
            guard b1 >= lower && b1 <= upper else { return false }
            for k in 2..<max(2, length) where bytes[i + k] & 0xC0 != 0x80 { return false }
            i += length
        }
        return true
    }
}
