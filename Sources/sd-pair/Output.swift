import CSupport

/// Writes whole lines straight to file descriptors, so output is complete and ordered even when the agent is
/// killed right after, and identical in host and Embedded builds (which have different `print` buffering).
enum Output {
    static func line(_ text: String) { write(fd: 1, text + "\n") }
    static func error(_ text: String) { write(fd: 2, "sd-pair: " + text + "\n") }

    static func write(fd: Int32, _ text: String) {
        var copy = text
        copy.withUTF8 { utf8 in _ = sd_write_all(fd, utf8.baseAddress, utf8.count) }
    }
}
