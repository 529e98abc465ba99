/// Lowercase hexadecimal and UUID text forms (for display, DHT keys and the command line).
public enum Hex {
    private static let digits: StaticString = "0123456789abcdef"

    @inline(__always)
    public static func digit(_ nibble: UInt8) -> UInt8 { digits.utf8Start[Int(nibble & 0x0F)] }

    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        var out = ""
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.unicodeScalars.append(Unicode.Scalar(digit(b >> 4)))
            out.unicodeScalars.append(Unicode.Scalar(digit(b)))
        }
        return out
    }

    public static func encode<let n: Int>(_ bytes: FixedBytes<n>) -> String {
        bytes.withUnsafeBytes { encode($0) }
    }

    /// Formats 16 bytes as 8-4-4-4-12 lowercase hex. The bytes are shown as they are: no version bits are set.
    public static func uuidString(_ bytes: FixedBytes<16>) -> String {
        var out = ""
        for i in 0..<16 {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.unicodeScalars.append("-") }
            out.unicodeScalars.append(Unicode.Scalar(digit(bytes[i] >> 4)))
            out.unicodeScalars.append(Unicode.Scalar(digit(bytes[i])))
        }
        return out
    }

    /// The value of one hex digit (either case).
    public static func nibble(_ c: UInt8) -> UInt8? { value(c) }

    /// A 16-bit group in lowercase hex without leading zeros ("0" for zero), as IPv6 text writes it.
    public static func group(_ v: UInt16) -> String {
        var out = ""
        var started = false
        for shift in stride(from: 12, through: 0, by: -4) {
            let n = UInt8((v >> UInt16(shift)) & 0xF)
            if n != 0 || started || shift == 0 {
                out.unicodeScalars.append(Unicode.Scalar(digit(n)))
                started = true
            }
        }
        return out
    }

    static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Decodes exactly 2·n hex digits (either case) into n bytes; nil on any other input.
    public static func decode<let n: Int>(_ text: String, as _: FixedBytes<n>.Type = FixedBytes<n>.self) -> FixedBytes<n>? {
        var copy = text
        return copy.withUTF8 { utf8 -> FixedBytes<n>? in
            guard utf8.count == 2 * n else { return nil }
            var out = FixedBytes<n>()
            for i in 0..<n {
                guard let hi = value(utf8[2 * i]), let lo = value(utf8[2 * i + 1]) else { return nil }
                out[i] = hi << 4 | lo
            }
            return out
        }
    }

    /// Parses the 8-4-4-4-12 form, or 32 bare hex digits.
    public static func decodeUUID(_ text: String) -> FixedBytes<16>? {
        var compact = ""
        var index = 0
        for scalar in text.unicodeScalars {
            if scalar == "-" {
                guard index == 8 || index == 12 || index == 16 || index == 20 else { return nil }
                continue
            }
            compact.unicodeScalars.append(scalar)
            index += 1
        }
        return decode(compact, as: FixedBytes<16>.self)
    }
}
