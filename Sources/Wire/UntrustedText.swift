/// Text from the network — device names in pairing messages, mDNS instance names — before it reaches a log line, a
/// terminal, JSON or the registry: one rule for every path. Refused when validating, replaced by "?" when only shown:
/// - invalid UTF-8 (overlong forms, surrogates, beyond U+10FFFF, truncated sequences);
/// - C0 controls and DEL, and the C1 controls U+0080–U+009F (U+009B is CSI to a terminal that honours C1 controls);
/// - the format characters that make text look other than it is: bidirectional embeddings, overrides and isolates
///   (U+202A–U+202E, U+2066–U+2069), zero-width characters and direction marks (U+200B–U+200F, U+061C), the line
///   and paragraph separators (U+2028, U+2029: line breaks to some readers, and they end a JavaScript string), and
///   the byte order mark (U+FEFF).
/// Over bytes, not Characters: grapheme breaking would pull Unicode tables into Embedded builds.
public enum UntrustedText {
    public static func isForbidden(_ scalar: UInt32) -> Bool {
        scalar < 0x20 || (scalar >= 0x7F && scalar <= 0x9F) || scalar == 0x061C || (scalar >= 0x200B && scalar <= 0x200F)
            || (scalar >= 0x2028 && scalar <= 0x202E) || (scalar >= 0x2066 && scalar <= 0x2069) || scalar == 0xFEFF
    }

    /// The scalar that starts at `i` and its length in bytes; nil for an invalid sequence.
    public static func scalar(_ raw: UnsafeRawBufferPointer, at i: Int) -> (value: UInt32, length: Int)? {
        let b0 = UInt32(raw[i])
        if b0 < 0x80 { return (b0, 1) }
        let length: Int
        let minimum: UInt32
        var value: UInt32
        switch b0 {
        case 0xC2...0xDF: (length, minimum, value) = (2, 0x80, b0 & 0x1F)
        case 0xE0...0xEF: (length, minimum, value) = (3, 0x800, b0 & 0x0F)
        case 0xF0...0xF4: (length, minimum, value) = (4, 0x10000, b0 & 0x07)
        default: return nil
        }
        guard i + length <= raw.count else { return nil }
        for k in 1..<length {
            let b = UInt32(raw[i + k])
            guard b & 0xC0 == 0x80 else { return nil }
            value = value << 6 | (b & 0x3F)
        }
        guard value >= minimum, value <= 0x10FFFF, !(value >= 0xD800 && value <= 0xDFFF) else { return nil }
        return (value, length)
    }

    /// Valid UTF-8 with nothing forbidden in it.
    public static func isClean(_ raw: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        while i < raw.count {
            guard let (value, length) = scalar(raw, at: i), !isForbidden(value) else { return false }
            i += length
        }
        return true
    }

    /// At most `limit` bytes of `raw` (whole scalars) for a log line; each forbidden character and each byte that is
    /// not valid UTF-8 is shown as "?".
    public static func printable(_ raw: UnsafeRawBufferPointer, limit: Int = 64) -> String {
        var out = ""
        var i = 0
        while i < raw.count {
            let decoded = scalar(raw, at: i)
            guard let (value, length) = decoded, !isForbidden(value) else {
                guard out.utf8.count < limit else { break }
                out.unicodeScalars.append("?")
                i += decoded?.length ?? 1  // a forbidden character is one "?", an invalid byte too
                continue
            }
            guard out.utf8.count + length <= limit, let s = Unicode.Scalar(value) else { break }
            out.unicodeScalars.append(s)
            i += length
        }
        return out
    }
}
