/// The control socket's protocol, between `sd-pair invite` (or a vendor's own tool) and a running `sd-pair serve`.
/// Sans-IO: requests and replies as bytes; `ControlServer` and the invite client only move them.
///
/// One request line per connection (a trailing CR is allowed):
///
///     invite      open a pairing window; the connection then follows the window until it closes
///     status      one line about the daemon, then the daemon closes the connection
///
/// Reply lines (`<` daemon to client):
///
///     code <w1 … w12>              the new window's code (invite)
///     expires <seconds>            its lifetime (invite)
///     paired <device-id> <name>    the window closed with a pairing, recorded in the registry (invite)
///     closed <reason>              the window closed without one: expired, burned, cancelled (invite)
///     status idle | status open <seconds left>
///     error <message>              refused: a window is already open, unknown request, …
///
/// The words travel only over this 0600 socket, once, to the process that asked for the window.
public enum ControlRequest: Equatable, Sendable {
    case invite
    case status
}

public enum ControlProtocolError: Error, Equatable, Sendable {
    /// No newline within `ControlProtocol.maxRequest` bytes.
    case oversized
    /// A complete line that is not a request we know.
    case unknown
}

/// A reply line: its verb and the text after it.
public struct ControlReply: Equatable, Sendable {
    public enum Verb: CaseIterable, Sendable {
        case code, expires, paired, closed, status, error

        public var name: StaticString {
            switch self {
            case .code: "code"
            case .expires: "expires"
            case .paired: "paired"
            case .closed: "closed"
            case .status: "status"
            case .error: "error"
            }
        }
    }

    public var verb: Verb
    public var text: String

    public init(_ verb: Verb, _ text: String) {
        self.verb = verb
        self.text = text
    }

    /// `expires`: the seconds, when they are 1–6 digits.
    public var seconds: UInt32? {
        guard verb == .expires, !text.utf8.isEmpty, text.utf8.count <= 6 else { return nil }
        var value: UInt32 = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + UInt32(byte - UInt8(ascii: "0"))
        }
        return value
    }
}

public enum ControlProtocol {
    /// Longest request line accepted. The longest request is 7 bytes; 64 leaves room for a CR and later verbs
    /// without letting a client make the daemon hold more than this per connection.
    public static let maxRequest = 64
    /// Longest reply line a client accepts: "paired " + 36-byte device id + a 64-byte name is the longest real one
    /// (the code line is at most 5 + 12 × 9 bytes).
    public static let maxReply = 256

    /// The request at the start of `bytes`; `.success(nil)` while its newline has not arrived.
    public static func request(_ bytes: UnsafeRawBufferPointer) -> Result<ControlRequest?, ControlProtocolError> {
        guard let end = bytes.firstIndex(of: UInt8(ascii: "\n")) else {
            return bytes.count >= maxRequest ? .failure(.oversized) : .success(nil)
        }
        guard end < maxRequest else { return .failure(.oversized) }
        var line = UnsafeRawBufferPointer(rebasing: bytes[0..<end])
        if line.last == UInt8(ascii: "\r") { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
        if matches(line, "invite") { return .success(.invite) }
        if matches(line, "status") { return .success(.status) }
        return .failure(.unknown)
    }

    /// What the daemon does with a request, sans-IO (`Node.answer` carries it out). `windowDeadline`: the open
    /// window's deadline in monotonic milliseconds, nil when none is open.
    public enum Answer: Equatable {
        /// Send this line, then close the connection.
        case reply(ControlReply)
        /// Open a window: its code and lifetime go to this client, which then follows the window until it closes.
        /// When no window can be opened, the reply is `cannotOpen`.
        case openWindow
    }

    @inline(__always)
    public static func answer(_ request: Result<ControlRequest, ControlProtocolError>, windowDeadline: UInt64?, now: UInt64) -> Answer {
        switch request {
        case .failure(.oversized): .reply(ControlReply(.error, "request too long"))
        case .failure(.unknown): .reply(ControlReply(.error, "unknown request (expected invite or status)"))
        case .success(.status): .reply(ControlReply(.status, windowDeadline.map { "open " + String(($0 > now ? $0 - now : 0) / 1000) } ?? "idle"))
        case .success(.invite):
            windowDeadline == nil ? .openWindow : .reply(ControlReply(.error, "a pairing window is already open (its code is in the daemon's log)"))
        }
    }

    /// `openWindow` could not: this agent has no windows to open (not a daemon), or making one failed.
    public static var cannotOpen: ControlReply { ControlReply(.error, "this agent cannot open a pairing window") }

    public static func encode(_ request: ControlRequest) -> StaticString {
        switch request {
        case .invite: "invite\n"
        case .status: "status\n"
        }
    }

    public static func encode(_ reply: ControlReply) -> String {
        String(decoding: UnsafeRawBufferPointer(start: reply.verb.name.utf8Start, count: reply.verb.name.utf8CodeUnitCount), as: UTF8.self)
            + " " + reply.text + "\n"
    }

    /// One reply line without its newline; nil for a line that is no reply (the client reports it).
    public static func reply(_ line: UnsafeRawBufferPointer) -> ControlReply? {
        guard line.count <= maxReply, let space = line.firstIndex(of: UInt8(ascii: " ")) else { return nil }
        let verbBytes = UnsafeRawBufferPointer(rebasing: line[0..<space])
        guard let verb = ControlReply.Verb.allCases.first(where: { matches(verbBytes, $0.name) }) else { return nil }
        let reply = ControlReply(verb, String(decoding: line[(space + 1)...], as: UTF8.self))
        if verb == .expires && reply.seconds == nil { return nil }
        return reply
    }

    static func matches(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        bytes.elementsEqual(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }
}
