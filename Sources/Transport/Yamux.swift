import Wire

/// yamux (`/yamux/1.0.0`) as a sans-IO session: frames in, events out, frames written into a caller buffer.
///
/// Header: version (0) ‖ type ‖ flags (u16) ‖ stream id (u32) ‖ length (u32), big-endian, 12 bytes. Payloads are
/// handed out as they arrive (a frame may span many Noise messages), so memory does not depend on frame size.
public struct YamuxSession {
    public enum Role: Sendable {
        /// Opens odd stream ids.
        case dialer
        /// Opens even stream ids.
        case listener
    }

    public enum FrameType: UInt8, Sendable { case data = 0, windowUpdate = 1, ping = 2, goAway = 3 }

    public struct Flags: Equatable, Sendable {
        public var rawValue: UInt16
        public static let syn = Flags(rawValue: 1)
        public static let ack = Flags(rawValue: 2)
        public static let fin = Flags(rawValue: 4)
        public static let rst = Flags(rawValue: 8)
        public static let none = Flags(rawValue: 0)
        func contains(_ f: Flags) -> Bool { rawValue & f.rawValue != 0 }
        static func | (a: Flags, b: Flags) -> Flags { Flags(rawValue: a.rawValue | b.rawValue) }
    }

    public enum Error: Swift.Error, Equatable, Sendable {
        case badVersion(UInt8)
        case unknownType(UInt8)
        /// The peer sent more data than the window allowed, or opened a stream with our parity or id 0.
        case protocolViolation
        /// Our output buffer is full; try again after it drained.
        case outputFull
        /// The stream is unknown, closed for writing, or out of send window.
        case streamNotWritable
        /// The session has been told to go away.
        case goingAway
    }

    public enum Event: Equatable, Sendable {
        /// The peer opened a stream (we already acknowledged it).
        case opened(UInt32)
        /// Payload bytes for a stream, at `range` of the input given to `next`.
        case data(UInt32, Range<Int>)
        /// The peer will send no more on this stream.
        case finished(UInt32)
        case reset(UInt32)
        /// The peer acknowledged a stream we opened.
        case accepted(UInt32)
        case pong(UInt32)
        case goAway(UInt32)
    }

    public static let headerLength = 12
    /// The window every stream starts with (yamux spec).
    public static let initialWindow: UInt32 = 256 * 1024
    /// Streams open at once per connection: pairing, ping, and the peer's identify; the rest are refused (RST).
    public static let maxStreams = 4

    struct Stream {
        var id: UInt32 = 0
        var sendWindow: UInt32 = YamuxSession.initialWindow
        var receiveWindow: UInt32 = YamuxSession.initialWindow
        var consumed: UInt32 = 0
        var localFinished = false
        var remoteFinished = false
        var isFree: Bool { id == 0 }
    }

    public let role: Role
    private var streams = InlineArray<4, Stream>(repeating: Stream())
    private var nextID: UInt32
    private var header = FixedBytes<12>()
    private var headerFill = 0
    /// Stream and bytes left of the data frame being received (stream 0: payload to discard).
    private var payloadStream: UInt32 = 0
    private var payloadRemaining: UInt32 = 0
    public private(set) var goingAway = false

    public init(role: Role) {
        self.role = role
        nextID = role == .dialer ? 1 : 2
    }

    public var openStreams: Int {
        var n = 0
        for i in 0..<Self.maxStreams where !streams[i].isFree { n += 1 }
        return n
    }

    // MARK: Receiving

    /// Processes input until one event is ready or the input is used up. Returns the event (if any) and the
    /// bytes consumed. Control answers (ACKs, pongs, window updates, RSTs for refused streams) go to `output`.
    public mutating func next(
        in input: UnsafeRawBufferPointer, output: inout ByteWriter
    ) throws(Error) -> (event: Event?, consumed: Int) {
        var used = 0
        while used < input.count {
            if payloadRemaining > 0 {
                let take = min(Int(payloadRemaining), input.count - used)
                let range = used..<(used + take)
                used += take
                payloadRemaining -= UInt32(take)
                if payloadStream == 0 { continue }  // discarding a refused stream's payload
                try credit(payloadStream, UInt32(take), output: &output)
                if payloadRemaining == 0, let fin = pendingFinish {
                    pendingFinish = nil
                    pendingEvent = fin
                    if let index = find(payloadStream) { releaseIfDone(index) }
                }
                return (.data(payloadStream, range), used)
            }
            if let event = pendingEvent {
                pendingEvent = nil
                return (event, used)
            }
            // Accumulate a header.
            let take = min(Self.headerLength - headerFill, input.count - used)
            for i in 0..<take { header[headerFill + i] = input[used + i] }
            headerFill += take
            used += take
            guard headerFill == Self.headerLength else { break }
            headerFill = 0
            if let event = try handleHeader(output: &output) { return (event, used) }
        }
        if payloadRemaining == 0, let event = pendingEvent {
            pendingEvent = nil
            return (event, used)
        }
        return (nil, used)
    }

    /// An event that must follow the payload being delivered (a FIN on a data frame with payload).
    private var pendingFinish: Event? = nil
    private var pendingEvent: Event? = nil

    private mutating func handleHeader(output: inout ByteWriter) throws(Error) -> Event? {
        guard header[0] == 0 else { throw .badVersion(header[0]) }
        guard let type = FrameType(rawValue: header[1]) else { throw .unknownType(header[1]) }
        let flags = Flags(rawValue: UInt16(header[2]) << 8 | UInt16(header[3]))
        let id = be32(4)
        let length = be32(8)

        switch type {
        case .ping:
            if flags.contains(.syn) {
                try writeFrame(.ping, .ack, 0, length, output: &output)
                return nil
            }
            return .pong(length)
        case .goAway:
            goingAway = true
            return .goAway(length)
        case .data, .windowUpdate:
            break
        }
        guard id != 0 else { throw .protocolViolation }

        var opened: Event? = nil
        var slot = find(id)
        if flags.contains(.syn) {
            // A new stream must carry the peer's parity and must not exist yet.
            let peerParity: UInt32 = role == .dialer ? 0 : 1
            guard id % 2 == peerParity, slot == nil else { throw .protocolViolation }
            if goingAway || !hasFreeSlot {
                try writeFrame(.windowUpdate, .rst, id, 0, output: &output)
                if type == .data { discard(length) }
                return nil
            }
            slot = allocate(id)
            try writeFrame(.windowUpdate, .ack, id, 0, output: &output)
            opened = .opened(id)
        }
        guard let index = slot else {
            // Frames for streams we do not know (already reset, or never opened): drop the payload quietly.
            if type == .data { discard(length) }
            return nil
        }
        var acceptedEvent: Event? = nil
        if flags.contains(.ack) { acceptedEvent = .accepted(id) }

        if flags.contains(.rst) {
            streams[index] = Stream()
            if type == .data { discard(length) }
            return .reset(id)
        }
        if type == .windowUpdate {
            let (sum, overflow) = streams[index].sendWindow.addingReportingOverflow(length)
            guard !overflow else { throw .protocolViolation }
            streams[index].sendWindow = sum
        }
        var finishEvent: Event? = nil
        if flags.contains(.fin) {
            streams[index].remoteFinished = true
            finishEvent = .finished(id)
        }
        if type == .data && length > 0 {
            guard length <= streams[index].receiveWindow else { throw .protocolViolation }
            streams[index].receiveWindow -= length
            payloadStream = id
            payloadRemaining = length
            pendingFinish = finishEvent
            // Report the stream's opening/acceptance first; the payload follows on the next calls.
            if let first = opened ?? acceptedEvent { return first }
            return nil
        }
        if finishEvent != nil { releaseIfDone(index) }
        if let opened {
            pendingEvent = finishEvent
            return opened
        }
        if let acceptedEvent {
            pendingEvent = finishEvent
            return acceptedEvent
        }
        return finishEvent
    }

    private mutating func discard(_ length: UInt32) {
        payloadStream = 0
        payloadRemaining = length
    }

    /// Counts delivered bytes and gives the window back once half of it has been used.
    private mutating func credit(_ id: UInt32, _ n: UInt32, output: inout ByteWriter) throws(Error) {
        guard let index = find(id) else { return }
        streams[index].consumed += n
        if streams[index].consumed >= Self.initialWindow / 2 {
            let delta = streams[index].consumed
            try writeFrame(.windowUpdate, .none, id, delta, output: &output)
            streams[index].receiveWindow += delta
            streams[index].consumed = 0
        }
    }

    // MARK: Sending

    /// Opens a stream; returns its id.
    public mutating func open(output: inout ByteWriter) throws(Error) -> UInt32 {
        guard !goingAway else { throw .goingAway }
        guard hasFreeSlot, nextID < UInt32.max - 2 else { throw .streamNotWritable }
        let id = nextID
        try writeFrame(.windowUpdate, .syn, id, 0, output: &output)
        nextID += 2
        _ = allocate(id)
        return id
    }

    public mutating func write(_ id: UInt32, _ bytes: UnsafeRawBufferPointer, output: inout ByteWriter) throws(Error) {
        guard let index = find(id), !streams[index].localFinished, UInt32(bytes.count) <= streams[index].sendWindow else {
            throw .streamNotWritable
        }
        guard output.remaining >= Self.headerLength + bytes.count else { throw .outputFull }
        try writeFrame(.data, .none, id, UInt32(bytes.count), output: &output)
        do { try output.write(bytes) } catch { throw .outputFull }
        streams[index].sendWindow -= UInt32(bytes.count)
    }

    /// Half-closes our side (FIN).
    public mutating func finish(_ id: UInt32, output: inout ByteWriter) throws(Error) {
        guard let index = find(id), !streams[index].localFinished else { return }
        try writeFrame(.data, .fin, id, 0, output: &output)
        streams[index].localFinished = true
        releaseIfDone(index)
    }

    /// Aborts a stream (RST) and forgets it.
    public mutating func reset(_ id: UInt32, output: inout ByteWriter) throws(Error) {
        guard let index = find(id) else { return }
        try writeFrame(.windowUpdate, .rst, id, 0, output: &output)
        streams[index] = Stream()
    }

    public mutating func ping(_ value: UInt32, output: inout ByteWriter) throws(Error) {
        try writeFrame(.ping, .syn, 0, value, output: &output)
    }

    public mutating func goAway(code: UInt32, output: inout ByteWriter) throws(Error) {
        try writeFrame(.goAway, .none, 0, code, output: &output)
        goingAway = true
    }

    // MARK: Table and encoding

    private var hasFreeSlot: Bool {
        for i in 0..<Self.maxStreams where streams[i].isFree { return true }
        return false
    }

    private func find(_ id: UInt32) -> Int? {
        // Free slots have id 0: without this guard a write to "stream 0" would land in a free slot.
        guard id != 0 else { return nil }
        for i in 0..<Self.maxStreams where streams[i].id == id { return i }
        return nil
    }

    private mutating func allocate(_ id: UInt32) -> Int? {
        for i in 0..<Self.maxStreams where streams[i].isFree {
            streams[i] = Stream()
            streams[i].id = id
            return i
        }
        return nil
    }

    private mutating func releaseIfDone(_ index: Int) {
        if streams[index].localFinished && streams[index].remoteFinished { streams[index] = Stream() }
    }

    private func be32(_ at: Int) -> UInt32 {
        UInt32(header[at]) << 24 | UInt32(header[at + 1]) << 16 | UInt32(header[at + 2]) << 8 | UInt32(header[at + 3])
    }

    func writeFrame(_ type: FrameType, _ flags: Flags, _ id: UInt32, _ length: UInt32, output: inout ByteWriter) throws(Error) {
        guard output.remaining >= Self.headerLength else { throw .outputFull }
        do {
            try output.write(0)
            try output.write(type.rawValue)
            try output.writeUInt16BigEndian(flags.rawValue)
            try output.writeUInt16BigEndian(UInt16(id >> 16))
            try output.writeUInt16BigEndian(UInt16(id & 0xFFFF))
            try output.writeUInt16BigEndian(UInt16(length >> 16))
            try output.writeUInt16BigEndian(UInt16(length & 0xFFFF))
        } catch {
            throw .outputFull
        }
    }
}
