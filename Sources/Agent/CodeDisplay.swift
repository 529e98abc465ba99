import CSupport

/// `--display <path>`: the code laid out for a small character display or console, 4 lines of 3 words, written
/// when a window opens and cleared when it closes. A display that fails is reported, never fatal: the log line
/// still carries the code.
public struct CodeDisplay {
    public let path: String
    private let log: (String) -> Void

    public init(path: String, log: @escaping (String) -> Void) {
        self.path = path
        self.log = log
    }

    /// Four lines of three words, each ending in a newline.
    public static func layout(_ words: String) -> String {
        // Over UTF-8 bytes: splitting on Characters would pull Unicode normalisation tables into Embedded builds.
        var out = ""
        var index = 0
        var inWord = false
        for byte in words.utf8 {
            if byte == UInt8(ascii: " ") {
                if inWord {
                    out.unicodeScalars.append(index % 3 == 2 ? "\n" : " ")
                    index += 1
                }
                inWord = false
            } else {
                out.unicodeScalars.append(Unicode.Scalar(byte))
                inWord = true
            }
        }
        if inWord { out.unicodeScalars.append("\n") }
        return out
    }

    public func show(_ words: String) { write(Self.layout(words)) }

    public func clear() { write("") }

    private func write(_ text: String) {
        var copy = text
        let rc = copy.withUTF8 { utf8 in path.withCString { sd_show_on_display($0, utf8.baseAddress, utf8.count) } }
        if rc < 0 { log("cannot write the display " + path + " (errno " + String(-rc) + ")") }
    }
}
