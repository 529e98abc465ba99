import Crypto
import Wire

/// The short code for small displays (Docs/PROTOCOL.md §10): 12 decimal digits shown as `DDDS-SSSS-SSSC`.
/// - `D` (3 digits) is public: it names the window on the LAN (its session id is derived from these digits alone), so
///   that a joiner finds the right device when several show a code at once;
/// - `S` (8 digits, 26.6 bits) is the password of a PAKE (CPace): nothing published or sent lets anyone test a guess
///   of it offline, and each connection gets one online guess;
/// - `C` is a Damm check digit over the eleven before it, so a typo is caught before any network attempt (Damm
///   catches every single wrong digit and every swap of two neighbours).
/// Stored as ASCII digits; wipe the code when its window ends.
public struct ShortCode: Sendable {
    public static let digitCount = 12

    /// Only `generate` and `parse` make these, so each is an ASCII digit.
    public private(set) var digits: FixedBytes<12>

    init(digits: FixedBytes<12>) { self.digits = digits }

    /// Eleven uniform random digits (rejection sampling: bytes ≥ 250 are drawn again) and the check digit.
    public static func generate<R: RandomSource>(using rng: inout R) -> ShortCode {
        var digits = FixedBytes<12>()
        var i = 0
        while i < digitCount - 1 {
            var draw: FixedBytes<16> = rng.bytes()
            for k in 0..<16 where i < digitCount - 1 && draw[k] < 250 {
                digits[i] = UInt8(ascii: "0") + draw[k] % 10
                i += 1
            }
            draw.wipe()
        }
        digits[digitCount - 1] = UInt8(ascii: "0") + checkDigit(digits, count: digitCount - 1)
        return ShortCode(digits: digits)
    }

    public mutating func wipe() { digits.wipe() }

    /// The Damm check digit (its value) of the first `count` ASCII digits: the interim digit after running them
    /// through the table. Appending it makes the whole run end on 0.
    static func checkDigit(_ digits: FixedBytes<12>, count: Int) -> UInt8 {
        var interim: UInt8 = 0
        for i in 0..<count { interim = dammStep(interim, digits[i] &- UInt8(ascii: "0")) }
        return interim
    }

    /// One step through Damm's totally anti-symmetric quasigroup of order 10 (H. M. Damm, 2004), as one row-major
    /// string of 100 digits: row = interim digit, column = next digit.
    static func dammStep(_ interim: UInt8, _ digit: UInt8) -> UInt8 {
        let table: StaticString =
            "0317598642709215486342068713591750983426612304597836742095815869720134894536201794386172052581436790"
        // `% 10`: an index inside the table whatever the bytes (callers pass digits 0–9).
        return table.utf8Start[Int(interim % 10) * 10 + Int(digit % 10)] - UInt8(ascii: "0")
    }

    /// The three public digits.
    var discriminator: FixedBytes<3> { digits.withUnsafeBytes { FixedBytes(copying: UnsafeRawBufferPointer(rebasing: $0[0..<3]))! } }

    /// The eight secret digits: CPace's password.
    var password: FixedBytes<8> { digits.withUnsafeBytes { FixedBytes(copying: UnsafeRawBufferPointer(rebasing: $0[3..<11]))! } }

    /// `DDDS-SSSS-SSSC` in fixed storage (14 bytes: one 16-character LCD line).
    public var spelled: CodeWords {
        var out = CodeWords()
        digits.withUnsafeBytes { raw in
            for i in 0..<3 {
                if i > 0 { out.append(ShortCode.dash) }
                out.append(UnsafeRawBufferPointer(rebasing: raw[(i * 4)..<(i * 4 + 4)]))
            }
        }
        return out
    }

    static var dash: UnsafeRawBufferPointer {
        let s: StaticString = "-"
        return UnsafeRawBufferPointer(start: s.utf8Start, count: 1)
    }

    /// Whether typed text has the short code's shape: digits with spaces or dashes between, and no letter.
    static func looksShort(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var digits = 0
        for c in bytes {
            if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                digits += 1
            } else if !(c == UInt8(ascii: " ") || c == UInt8(ascii: "-") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r")) {
                return false
            }
        }
        return digits > 0
    }

    /// Reads the digits of text `looksShort` accepted: exactly 12, the last a valid check digit.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(CodeError) -> ShortCode {
        var digits = FixedBytes<12>()
        var found = 0
        for c in bytes where c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
            if found < digitCount { digits[found] = c }
            found += 1
        }
        guard found == digitCount else {
            digits.wipe()
            throw .wrongDigitCount(found: found)
        }
        guard checkDigit(digits, count: digitCount) == 0 else {
            digits.wipe()
            throw .digitTypo
        }
        return ShortCode(digits: digits)
    }
}
