/// UTC timestamps as IPNS writes them (RFC 3339 `date-time`, Go's RFC3339Nano layout as boxo uses it):
/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`. We write whole seconds (Go trims a zero fraction the same way) and read any
/// fraction of 1–9 digits, rounding down. Only `Z`: every IPNS implementation writes UTC, and a reader that
/// accepted offsets would have two spellings of one instant to get right.
public enum RFC3339 {
    public static let length = 20  // without a fraction

    /// Writes `seconds` since 1970-01-01T00:00:00Z (years up to 9999).
    public static func format(_ seconds: UInt64, into out: inout FixedBytes<20>) {
        let clamped = min(seconds, 253_402_300_799)  // 9999-12-31T23:59:59Z
        let rest = Int(clamped % 86_400)
        let (year, month, day) = civil(fromDays: Int64(clamped / 86_400))
        // Digits right to left, field by field: value, width, the separator that follows.
        let fields: [(Int, Int, UInt8)] = [(year, 4, 0x2D), (month, 2, 0x2D), (day, 2, 0x54), (rest / 3600, 2, 0x3A), (rest / 60 % 60, 2, 0x3A), (rest % 60, 2, 0x5A)]
        var k = 0
        for (value, width, separator) in fields {
            var v = value
            for i in stride(from: k + width - 1, through: k, by: -1) {
                out[i] = UInt8(0x30 + v % 10)
                v /= 10
            }
            out[k + width] = separator
            k += width + 1
        }
    }

    /// Seconds since the epoch, or nil for anything that is not a valid UTC timestamp in the form above.
    public static func parse(_ text: UnsafeRawBufferPointer) -> UInt64? {
        guard text.count >= length, text.count <= length + 10 else { return nil }
        func number(_ at: Int, _ digits: Int) -> Int? {
            var v = 0
            for i in at..<(at + digits) {
                let c = text[i]
                guard c >= 0x30, c <= 0x39 else { return nil }
                v = v * 10 + Int(c - 0x30)
            }
            return v
        }
        guard text[4] == 0x2D, text[7] == 0x2D, text[10] == 0x54, text[13] == 0x3A, text[16] == 0x3A,
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              year >= 1970, month >= 1, month <= 12, day >= 1, day <= daysIn(month, year),
              hour < 24, minute < 60, second < 60
        else { return nil }
        var end = 19
        if text[19] == 0x2E {  // a fraction: 1–9 digits, then Z
            end = 20
            while end < text.count - 1, text[end] >= 0x30, text[end] <= 0x39 { end += 1 }
            guard end > 20, end - 20 <= 9 else { return nil }
        }
        guard end == text.count - 1, text[end] == 0x5A else { return nil }
        let days = UInt64(Self.days(year: year, month: month, day: day))
        return days * 86_400 + UInt64(hour * 3600 + minute * 60 + second)
    }

    static func isLeap(_ y: Int) -> Bool { y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) }

    static func daysIn(_ month: Int, _ year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a date in the proleptic Gregorian calendar (years 1970–9999).
    static func days(year: Int, month: Int, day: Int) -> Int {
        // Count from March so that the leap day ends the year: the 400-year cycle is then regular.
        let y = month <= 2 ? year - 1 : year
        let era = y / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The inverse of `days`: (year, month, day) of a day count from 1970-01-01 (negative: before it).
    public static func civil(fromDays z0: Int64) -> (Int, Int, Int) {
        let z = Int(z0) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097  // floor division, for days before the era's start
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (era * 400 + yearOfEra + (month <= 2 ? 1 : 0), month, day)
    }
}
