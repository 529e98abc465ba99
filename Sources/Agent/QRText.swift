import CSupport
import Crypto
import Pairing

/// `--qr`: the code as a QR code in a terminal, so a phone can read the words instead of a person typing them.
/// Drawn with Unicode half blocks, two module rows per text line, light modules as blocks, inside a light quiet
/// zone. On a terminal the colours are forced, white blocks on black, so the code reads the right way round on a
/// light background too; in a log (not a terminal) there are no escape sequences, and the drawing is right for the
/// usual light-on-dark text.
public enum QRText {
    /// The largest symbol accepted: version 10 (57 modules a side). Twelve words need version 4 or 5.
    public static let maxWidth = 57
    /// Modules of light margin on each side. The standard asks for 4; 2 is what terminal QR tools use, and phone
    /// readers find the code with it (tests decode our output with zbar).
    public static let quietZone = 2

    public enum Failure: Error, Equatable {
        /// libqrencode.so.4 is not installed (Debian: libqrencode4).
        case libraryMissing
        case encodingFailed
    }

    /// The drawing's bytes (UTF-8 text lines). It encodes the code, so the caller wipes it once written; the
    /// modules and the C string handed to libqrencode are wiped here.
    /// `colours`: force light modules white on black (for a terminal: without it, a terminal with a light
    /// background shows the code inverted, which many phone readers refuse); never for a log, where the escape
    /// sequences would turn the lines into binary data.
    public static func render(_ words: CodeWords, colours: Bool) -> Result<[UInt8], Failure> {
        let capacity = maxWidth * maxWidth
        let modules = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: capacity)
        defer {
            Sodium.wipe(UnsafeMutableRawBufferPointer(modules))
            modules.deallocate()
        }
        var text = SecretLine()
        text.append(words)
        let width = text.withCString { sd_qr_encode($0, modules.baseAddress, Int32(capacity)) }
        text.wipe()
        if width == -ENOENT { return .failure(.libraryMissing) }
        guard width > 0 else { return .failure(.encodingFailed) }
        return .success(layoutBytes(UnsafeBufferPointer(modules), width: Int(width), colours: colours))
    }

    /// The text lines for `width` × `width` modules (1 = dark), each line ending in a newline.
    public static func layout(_ modules: UnsafeBufferPointer<UInt8>, width: Int, colours: Bool = false) -> String {
        String(decoding: layoutBytes(modules, width: width, colours: colours), as: UTF8.self)
    }

    static func layoutBytes(_ modules: UnsafeBufferPointer<UInt8>, width: Int, colours: Bool) -> [UInt8] {
        let side = width + 2 * quietZone
        func light(_ x: Int, _ y: Int) -> Bool {
            let (mx, my) = (x - quietZone, y - quietZone)
            guard mx >= 0, my >= 0, mx < width, my < width else { return true }
            return modules[my * width + mx] == 0
        }
        // Built as UTF-8 bytes: each half block is 3 bytes (E2 96 xx), so a line is at most 3 × 65 + 1 bytes.
        var out: [UInt8] = []
        out.reserveCapacity((side + 1) / 2 * (3 * side + 1))
        var y = 0
        while y < side {
            if colours { append("\u{1B}[97;40m", to: &out) }  // bright white on black
            for x in 0..<side {
                // A last odd row has nothing below it: the line's lower half stays dark (terminal background).
                let upper = light(x, y)
                let lower = y + 1 < side && light(x, y + 1)
                if upper || lower {
                    // U+2588 full block, U+2580 upper half, U+2584 lower half.
                    out += [0xE2, 0x96, upper && lower ? 0x88 : (upper ? 0x80 : 0x84)]
                } else {
                    out.append(0x20)
                }
            }
            if colours { append("\u{1B}[0m", to: &out) }
            out.append(0x0A)
            y += 2
        }
        return out
    }

    static func append(_ s: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }
}
