import CSupport

/// `--events json`: one JSON object per line on stdout for each state change, for a NAS web UI to follow.
///
///     {"event":"waiting","session_id":"…","expires_in":300,"time":1795589307}
///
/// Events: waiting, challenge-sent, attempt-failed, connecting, request-sent, challenge-received, completed,
/// failed, expired, window-closed. Field values are strings except numbers named in the docs.
public struct EventSink {
    public let enabled: Bool
    private let write: (String) -> Void

    public init(enabled: Bool, write: @escaping (String) -> Void) {
        self.enabled = enabled
        self.write = write
    }

    public static var off: EventSink { EventSink(enabled: false, write: { _ in }) }

    /// `fields` are (name, already-encoded JSON value) pairs: use `JSON.string` for text.
    public func emit(_ event: String, _ fields: [(String, String)] = []) {
        guard enabled else { return }
        var line = "{\"event\":" + JSON.string(event)
        for (name, value) in fields { line += "," + JSON.string(name) + ":" + value }
        write(line + ",\"time\":" + String(sd_unix_time()) + "}")
    }
}

public enum JSON {
    /// A JSON string literal. Text from peers never holds control characters (DeviceInfo validation), so only
    /// quotes and backslashes need escaping; the rest is valid UTF-8 and passes through.
    public static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            if scalar == "\"" {
                out += "\\\""
            } else if scalar == "\\" {
                out += "\\\\"
            } else if scalar.value < 0x20 {
                out += "\\u00" + (scalar.value < 0x10 ? "0" : "1") + String(hexDigit(scalar.value & 0xF))
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func hexDigit(_ v: UInt32) -> Character { Character(Unicode.Scalar(v < 10 ? 48 + v : 87 + v)!) }
}
