import Wire

/// multistream-select 1.0: each message is uvarint(length) ‖ text ‖ "\n", the length counting the newline.
public enum Multistream {
    public static let header: StaticString = "/multistream/1.0.0"
    static let notAvailable: StaticString = "na"
    /// Protocol ids are short paths; 256 bytes bounds a message (and our accumulation buffers) generously.
    public static let maxMessageLength = 256
    /// Proposals a listener answers before giving up on a peer that never picks a protocol we speak.
    public static let maxProposals = 8

    public enum Error: Swift.Error, Equatable, Sendable {
        case malformed
        case oversized
        case wrongHeader
        case refused
        case tooManyProposals
    }

    public enum Parse: Equatable {
        case needMore
        /// The text (without its newline) is at `text`, the message used `length` bytes.
        case message(text: Range<Int>, length: Int)
    }

    public static func next(in bytes: UnsafeRawBufferPointer) throws(Error) -> Parse {
        let length: UInt64
        let prefix: Int
        do { (length, prefix) = try Uvarint.decode(bytes) } catch {
            if error == .truncated { return .needMore }
            throw .malformed
        }
        guard length >= 1 else { throw .malformed }
        guard length <= UInt64(maxMessageLength) else { throw .oversized }
        let total = prefix + Int(length)
        guard bytes.count >= total else { return .needMore }
        guard bytes[total - 1] == UInt8(ascii: "\n") else { throw .malformed }
        return .message(text: prefix..<(total - 1), length: total)
    }

    public static func write(_ text: UnsafeRawBufferPointer, into writer: inout ByteWriter) throws(WireError) {
        try writer.writeUvarint(UInt64(text.count + 1))
        try writer.write(text)
        try writer.write(UInt8(ascii: "\n"))
    }

    public static func write(_ text: StaticString, into writer: inout ByteWriter) throws(WireError) {
        try write(text.rawBytes, into: &writer)
    }

    /// Before the header has been seen: refuses at once a first message whose declared length cannot be the
    /// header's, so an HTTP request or other stray traffic is dropped without waiting for more bytes.
    static func checkHeaderLength(_ bytes: UnsafeRawBufferPointer) throws(Error) {
        guard let (length, _) = try? Uvarint.decode(bytes) else { return }
        if length != UInt64(header.utf8CodeUnitCount + 1) { throw .wrongHeader }
    }

    /// Reads the next complete message after the header from `bytes[used...]`, checking the header first; nil
    /// when more input is needed. Shared by both sides: each must see the peer's header before anything else.
    static func nextAfterHeader(
        _ bytes: UnsafeRawBufferPointer, used: inout Int, sawHeader: inout Bool
    ) throws(Error) -> UnsafeRawBufferPointer? {
        while true {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[used...])
            if !sawHeader { try checkHeaderLength(rest) }
            guard case .message(let text, let length) = try next(in: rest) else { return nil }
            used += length
            let message = UnsafeRawBufferPointer(rebasing: rest[text])
            if sawHeader { return message }
            guard equals(message, header) else { throw .wrongHeader }
            sawHeader = true
        }
    }

    public static func equals(_ a: UnsafeRawBufferPointer, _ b: StaticString) -> Bool {
        guard a.count == b.utf8CodeUnitCount else { return false }
        for i in 0..<a.count where a[i] != b.utf8Start[i] { return false }
        return true
    }
}

/// The dialer's side: proposes one protocol. It sends the header and the proposal together (pipelined, as
/// go-libp2p does), then waits for the header and the echo.
public struct MultistreamDialer {
    public enum Outcome: Equatable { case pending, agreed }

    /// The protocol id proposed: a copy, so it may come from configuration (e.g. a DHT's protocol id).
    private var proposal = FixedBytes<64>()
    private var proposalLength = 0
    private var sawHeader = false

    public init(proposal: StaticString) {
        self.init(bytes: UnsafeRawBufferPointer(start: proposal.utf8Start, count: proposal.utf8CodeUnitCount))
    }

    /// `bytes` longer than 64 bytes is a caller's error (protocol ids are validated where they are configured).
    public init(bytes: UnsafeRawBufferPointer) {
        proposalLength = min(bytes.count, 64)
        for i in 0..<proposalLength { proposal[i] = bytes[i] }
    }

    public func start(into writer: inout ByteWriter) throws(WireError) {
        try Multistream.write(Multistream.header, into: &writer)
        try proposal.withUnsafeBytes { (raw) throws(WireError) in
            try Multistream.write(UnsafeRawBufferPointer(rebasing: raw[0..<proposalLength]), into: &writer)
        }
    }

    /// Consumes complete messages from `bytes`; returns the outcome and how many bytes were used. Bytes after the
    /// agreement belong to the negotiated protocol.
    public mutating func receive(_ bytes: UnsafeRawBufferPointer) throws(Multistream.Error) -> (Outcome, consumed: Int) {
        var used = 0
        while true {
            guard let message = try Multistream.nextAfterHeader(bytes, used: &used, sawHeader: &sawHeader) else { return (.pending, used) }
            let agreed = proposal.withUnsafeBytes { raw in
                message.count == proposalLength && (0..<proposalLength).allSatisfy { message[$0] == raw[$0] }
            }
            if agreed { return (.agreed, used) }
            if Multistream.equals(message, Multistream.notAvailable) { throw .refused }
            throw .malformed
        }
    }
}

/// The listener's side: answers proposals from a fixed set of protocols.
public struct MultistreamListener {
    public enum Outcome: Equatable {
        case pending
        /// Agreed on `supported[index]`.
        case agreed(index: Int)
    }

    public let supported: InlineArray<4, StaticString>
    public let supportedCount: Int
    private var sawHeader = false
    private var proposals = 0

    public init(supported: InlineArray<4, StaticString>, count: Int) {
        self.supported = supported
        supportedCount = min(count, 4)
    }

    /// Our header, sent as soon as the connection or stream exists.
    public func start(into writer: inout ByteWriter) throws(WireError) {
        try Multistream.write(Multistream.header, into: &writer)
    }

    /// Consumes complete messages, writing answers (echo or "na") into `writer`.
    public mutating func receive(_ bytes: UnsafeRawBufferPointer, answers writer: inout ByteWriter) throws(Multistream.Error) -> (Outcome, consumed: Int) {
        var used = 0
        while true {
            guard let message = try Multistream.nextAfterHeader(bytes, used: &used, sawHeader: &sawHeader) else { return (.pending, used) }
            proposals += 1
            guard proposals <= Multistream.maxProposals else { throw .tooManyProposals }
            for i in 0..<supportedCount where Multistream.equals(message, supported[i]) {
                do { try Multistream.write(message, into: &writer) } catch { throw .oversized }
                return (.agreed(index: i), used)
            }
            // Unknown protocol (py-libp2p opens /ipfs/id/1.0.0), or "ls": answer "na" and wait for another.
            do { try Multistream.write(Multistream.notAvailable, into: &writer) } catch { throw .oversized }
        }
    }
}
