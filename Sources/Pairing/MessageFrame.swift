import Wire

/// Framing of pairing messages on their yamux stream: uvarint(length) ‖ message (Docs/PROTOCOL.md §4.1).
public enum MessageFrame {
    /// DESIGN's bound for one framed message on the stream. v1 messages are far smaller (`MessageCodec
    /// .maxMessageLength`); the frame limit leaves room for later versions while bounding a stream's buffer.
    public static let maxBodyLength = 4096

    public enum Error: Swift.Error, Equatable, Sendable {
        case oversized(length: UInt64)
        case malformedLength
        case emptyBody
    }

    public enum Result: Equatable {
        /// Not enough bytes yet; call again when more have arrived.
        case needMore
        /// A complete body at `bodyRange` of the input; the frame used `frameLength` bytes.
        case frame(bodyRange: Range<Int>, frameLength: Int)
    }

    /// Looks for one complete frame at the start of `bytes`.
    public static func next(in bytes: UnsafeRawBufferPointer) throws(Error) -> Result {
        let length: UInt64
        let prefix: Int
        do {
            (length, prefix) = try Uvarint.decode(bytes)
        } catch {
            if error == .truncated { return .needMore }
            throw .malformedLength
        }
        guard length > 0 else { throw .emptyBody }
        guard length <= UInt64(maxBodyLength) else { throw .oversized(length: length) }
        let total = prefix + Int(length)
        guard bytes.count >= total else { return .needMore }
        return .frame(bodyRange: prefix..<total, frameLength: total)
    }

    /// Encodes `message` with its length prefix into `writer`.
    public static func write(_ message: PairingMessage, into writer: inout ByteWriter) throws(WireError) {
        // Encode the body after a maximal-width gap, then move it down behind the real prefix: one pass, no heap.
        let start = writer.count
        let gap = Uvarint.encodedLength(UInt64(maxBodyLength))
        _ = try writer.reserve(gap)
        try MessageCodec.encode(message, into: &writer)
        let bodyLength = writer.count - start - gap
        let prefixLength = Uvarint.encodedLength(UInt64(bodyLength))
        let buffer = writer.buffer
        var prefixWriter = ByteWriter(UnsafeMutableRawBufferPointer(rebasing: buffer[start..<(start + prefixLength)]))
        try prefixWriter.writeUvarint(UInt64(bodyLength))
        if prefixLength != gap {
            let from = buffer.baseAddress! + start + gap
            let to = buffer.baseAddress! + start + prefixLength
            to.copyMemory(from: from, byteCount: bodyLength)
        }
        writer.truncate(to: start + prefixLength + bodyLength)
    }

    /// `write` for callers that only need the bytes: the frame as a view into `buffer`, or nil if it does not fit.
    public static func encoded(_ message: PairingMessage, into buffer: UnsafeMutableRawBufferPointer) -> UnsafeRawBufferPointer? {
        var writer = ByteWriter(buffer)
        do { try write(message, into: &writer) } catch { return nil }
        return writer.written
    }
}
