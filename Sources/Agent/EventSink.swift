import CSupport
import Pairing

/// What a pairing does, as it happens. `--events json` prints these for a NAS web UI; the embeddable API
/// (`SDPair.PairingAgent`) hands them to the vendor's callback.
public enum PairingEvent: Equatable, Sendable {
    /// Initiator: a window is open with this code, to show to the person (the session id is nil when a running
    /// daemon opened the window for `invite`).
    case waiting(code: String, sessionID: String?, expiresIn: UInt32)
    /// Joiner: looking for the device by mDNS and the DHT.
    case discovering
    case connecting
    case requestSent
    /// Joiner: the initiator proved it holds the code; we answer its challenge.
    case challengeReceived(deviceName: String)
    /// Initiator: a joiner proved the code; we sent it a challenge. (Its name comes with its answer, in `completed`.)
    case challengeSent
    /// Initiator: a wrong code or a bad proof; `remaining` attempts before the code burns.
    case attemptFailed(reason: String, remaining: Int)
    /// Joiner: a discovered address did not pair; still looking.
    case candidateFailed(reason: String)
    /// `relayed`: the pairing ran through a circuit relay (a direct connection otherwise).
    case completed(deviceID: String, deviceName: String, relayed: Bool = false)
    case failed(reason: String)
    /// Joiner: the window ended without a pairing; what each discovery path did, what was tried, the likely cause.
    case summary(text: String)
    case expired
    /// Daemon: the window ended (whichever way); the daemon goes on.
    case windowClosed

    public var name: StaticString {
        switch self {
        case .waiting: "waiting"
        case .discovering: "discovering"
        case .connecting: "connecting"
        case .requestSent: "request-sent"
        case .challengeReceived: "challenge-received"
        case .challengeSent: "challenge-sent"
        case .attemptFailed: "attempt-failed"
        case .candidateFailed: "candidate-failed"
        case .completed: "completed"
        case .failed: "failed"
        case .summary: "summary"
        case .expired: "expired"
        case .windowClosed: "window-closed"
        }
    }

    /// One JSON object: `{"event":"waiting","code":"…","session_id":"…","expires_in":300,"time":1795589307}`. (The
    /// `waiting` event of `--events json` is written by `emitWaiting`, from fixed storage, with the code's mode.)
    public func json(time: Int64) -> String {
        var line = "{\"event\":\"" + JSON.text(name) + "\""
        switch self {
        case .waiting(let code, let session, let seconds):
            JSON.add(&line, "code", JSON.string(code))
            if let session { JSON.add(&line, "session_id", JSON.string(session)) }
            JSON.add(&line, "expires_in", String(seconds))
        case .challengeReceived(let name):
            JSON.add(&line, "device_name", JSON.string(name))
        case .attemptFailed(let reason, let remaining):
            JSON.add(&line, "reason", JSON.string(reason))
            JSON.add(&line, "remaining", String(remaining))
        case .candidateFailed(let reason), .failed(let reason):
            JSON.add(&line, "reason", JSON.string(reason))
        case .summary(let text):
            JSON.add(&line, "text", JSON.string(text))
        case .completed(let id, let name, let relayed):
            JSON.add(&line, "device_id", JSON.string(id))
            JSON.add(&line, "device_name", JSON.string(name))
            JSON.add(&line, "path", relayed ? "\"relay\"" : "\"direct\"")
        case .discovering, .connecting, .requestSent, .challengeSent, .expired, .windowClosed:
            break
        }
        JSON.add(&line, "time", String(time))
        return line + "}"
    }

    /// The event for a joiner state that is news by itself (the other states come with events of their own).
    public init?(joinerState: JoinerState) {
        switch joinerState {
        case .discovering: self = .discovering
        case .connecting: self = .connecting
        case .requestSent: self = .requestSent
        default: return nil
        }
    }
}

/// Where a node's events go: nowhere, a JSON line per event (`--events json`), or a callback.
public struct EventSink {
    private let handler: ((PairingEvent) -> Void)?
    /// `--events json`: where the lines go, so that the `waiting` line, which carries the code, is written from
    /// fixed storage rather than through a String (`emitWaiting`).
    private var jsonFD: Int32? = nil

    public init(_ handler: ((PairingEvent) -> Void)?) { self.handler = handler }

    public static var off: EventSink { EventSink(nil) }

    /// `--events json`: one line per event on `fd`.
    public static func json(fd: Int32) -> EventSink {
        var sink = EventSink { event in
            var line = event.json(time: sd_unix_time()) + "\n"
            line.withUTF8 { _ = sd_write_all(fd, $0.baseAddress, $0.count) }
        }
        sink.jsonFD = fd
        return sink
    }

    public var enabled: Bool { handler != nil }

    public func emit(_ event: PairingEvent) { handler?(event) }

    /// `waiting`, with the code: as JSON from fixed storage, or to a callback (whose String copy is its own).
    public func emitWaiting(_ words: CodeWords, sessionID: String?, expiresIn: UInt32) {
        guard let fd = jsonFD else {
            if handler != nil { emit(.waiting(code: words.string, sessionID: sessionID, expiresIn: expiresIn)) }
            return
        }
        // The same object `json(time:)` writes; the words need no escaping (lowercase letters and spaces).
        var line = SecretLine()
        line.append("{\"event\":\"waiting\",\"code\":\"")
        line.append(words)
        // The mode, and a short code's digits without dashes (for a 7-segment driver).
        if words.isShort {
            line.append("\",\"mode\":\"short\",\"digits\":\"")
            line.appendDigits(of: words)
            line.append("\"")
        } else {
            line.append("\",\"mode\":\"words\"")
        }
        if let sessionID { line.appendText(",\"session_id\":" + JSON.string(sessionID)) }
        line.appendText(",\"expires_in\":" + String(expiresIn) + ",\"time\":" + String(sd_unix_time()) + "}\n")
        line.write(fd: fd)
        line.wipe()
    }
}

public enum JSON {
    /// A JSON string literal. Text from peers never holds control characters (UntrustedText), but reasons and names
    /// are escaped fully anyway: quotes, backslashes, control characters — and `<`, `>`, `&`, U+2028 and U+2029 as
    /// \uXXXX, so that a web UI may put an event inside a <script> block or an HTML attribute as it is.
    public static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            let v = scalar.value
            if scalar == "\"" {
                out += "\\\""
            } else if scalar == "\\" {
                out += "\\\\"
            } else if v < 0x20 || v == 0x3C || v == 0x3E || v == 0x26 || v == 0x2028 || v == 0x2029 {
                out += "\\u"
                for shift in [UInt32(12), 8, 4, 0] { out += String(hexDigit(v >> shift & 0xF)) }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Appends `,"key":value` (value already encoded). Out of line: one copy of the string appends, not one per field.
    @inline(never)
    static func add(_ line: inout String, _ key: StaticString, _ value: String) {
        line += ",\"" + text(key) + "\":" + value
    }

    /// A key or event name (ASCII, nothing to escape).
    static func text(_ s: StaticString) -> String {
        String(decoding: UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount), as: UTF8.self)
    }

    static func hexDigit(_ v: UInt32) -> Character { Character(Unicode.Scalar(v < 10 ? 48 + v : 87 + v)!) }
}
