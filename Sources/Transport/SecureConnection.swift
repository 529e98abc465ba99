import Crypto
import Wire

/// One libp2p connection as a sans-IO state machine: the event loop moves bytes between the socket and the two
/// caller-owned buffers; this type negotiates `/noise`, runs the handshake, negotiates `/yamux/1.0.0` inside the
/// encrypted channel and then turns yamux frames into stream events.
///
/// Buffers: `rx` receives socket bytes and Noise messages are decrypted in place there; `tx` holds bytes waiting
/// for the socket, and outgoing messages are built and encrypted in place there. Each must hold one maximal Noise
/// frame (2 + 65535 bytes): see `bufferSize`.
public struct SecureConnection<Random: RandomSource> {
    public enum Role: Sendable { case dialer, listener }

    public enum Phase: Equatable, Sendable {
        case negotiatingSecurity, handshaking, negotiatingMuxer, open, closed
    }

    /// One maximal Noise frame plus slack for a partial next one: the reason for 64 KiB-class buffers.
    public static var bufferSize: Int { NoiseFrame.headerLength + NoiseFrame.maxLength + 1024 }

    /// Bound on a Noise handshake message: our largest is 200 bytes; peers with larger identity keys or
    /// extensions stay well below 1 KiB.
    public static var maxHandshakeMessage: Int { 1024 }

    static var noiseProtocol: StaticString { "/noise" }
    static var yamuxProtocol: StaticString { "/yamux/1.0.0" }

    public let role: Role
    public private(set) var phase: Phase = .negotiatingSecurity
    private let rx: UnsafeMutableRawBufferPointer
    private let tx: UnsafeMutableRawBufferPointer
    private var rxStart = 0
    private var rxCount = 0
    private var txStart = 0
    private var txCount = 0

    private var securityDialer = MultistreamDialer(proposal: SecureConnection.noiseProtocol)
    private var securityListener = MultistreamListener(supported: InlineArray(repeating: SecureConnection.noiseProtocol), count: 1)
    private var handshake: NoiseHandshake
    public private(set) var session: NoiseSession? = nil
    private var muxerDialer = MultistreamDialer(proposal: SecureConnection.yamuxProtocol)
    private var muxerListener = MultistreamListener(supported: InlineArray(repeating: SecureConnection.yamuxProtocol), count: 1)
    public private(set) var yamux: YamuxSession

    /// Decrypted bytes of the current Noise message not yet processed: rx[plainStart..<plainEnd]; the message's
    /// frame ends at frameEnd.
    private var plainStart = 0
    private var plainEnd = 0
    private var frameEnd = 0
    /// Inner multistream bytes (a message may be split across Noise messages).
    private var negotiation = FixedBytes<512>()
    private var negotiationCount = 0

    public init(role: Role, identity: Ed25519.KeyPair, random: inout Random, rx: UnsafeMutableRawBufferPointer, tx: UnsafeMutableRawBufferPointer) {
        precondition(rx.count >= Self.bufferSize && tx.count >= Self.bufferSize, "connection buffers too small")
        self.role = role
        self.rx = rx
        self.tx = tx
        handshake = NoiseHandshake(role: role == .dialer ? .initiator : .responder, identity: identity, random: &random)
        yamux = YamuxSession(role: role == .dialer ? .dialer : .listener)
    }

    // MARK: Socket side

    /// How far the connection has come, 0 (nothing valid yet) to 6 (open): the security protocol agreed is 1, then one
    /// per Noise message processed, 5 once Noise is done, 6 once the muxer is agreed. A listener under a flood keeps
    /// the connections that got furthest (a real dialler sends its first Noise message with its first bytes).
    public var progress: Int {
        switch phase {
        case .closed, .negotiatingSecurity: 0
        case .handshaking: 1 + handshake.step
        case .negotiatingMuxer: 5
        case .open: 6
        }
    }

    /// Where the next socket read should go.
    public mutating func receiveSpace() -> UnsafeMutableRawBufferPointer {
        // A frame whose plaintext is used up is dead bytes: never keep it (compacting it back to the front would
        // have it decrypted a second time). Safe even if the caller did not drain poll() first.
        if plainStart >= plainEnd && frameEnd > rxStart { rxStart = frameEnd }
        if rxCount == rx.count && rxStart > 0 && plainStart >= plainEnd { compactReceive() }
        return UnsafeMutableRawBufferPointer(rebasing: rx[rxCount...])
    }

    public mutating func received(_ n: Int) { rxCount += n }

    /// Bytes waiting for the socket.
    public var pendingOutput: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: tx[txStart..<txCount]) }

    public mutating func sent(_ n: Int) {
        txStart += n
        if txStart == txCount {
            txStart = 0
            txCount = 0
        }
    }

    private mutating func compactReceive() {
        let live = rxCount - rxStart
        if live > 0 { rx.baseAddress!.copyMemory(from: rx.baseAddress! + rxStart, byteCount: live) }
        rxCount = live
        rxStart = 0
        plainStart = 0
        plainEnd = 0
        frameEnd = 0
    }

    // MARK: Protocol side

    /// Sends the opening messages. Call once, right after the TCP connection is up.
    public mutating func start() throws(ConnectionError) {
        try makeRoom(Multistream.maxMessageLength * 2)
        var w = plainWriter()
        do {
            if role == .dialer { try securityDialer.start(into: &w) } else { try securityListener.start(into: &w) }
        } catch { throw .outputFull }
        commitPlain(w)
        // Optimistic negotiation (rust-libp2p's "V1Lazy"): /noise is the only security protocol we propose, so Noise
        // message 1 follows the proposal at once instead of after the listener's answer. It saves a round trip, and
        // a real dialler's first bytes then carry a Noise message, which a listener under a flood tells apart from
        // connections that stop after the negotiation (see the agent's eviction order).
        if role == .dialer { try writeHandshake() }
    }

    /// Processes received bytes until one event is ready; nil when more input is needed. A `.streamData` view is
    /// valid until the next call.
    public mutating func poll() throws(ConnectionError) -> ConnectionEvent? {
        while true {
            switch phase {
            case .closed:
                return nil
            case .negotiatingSecurity:
                let input = UnsafeRawBufferPointer(rebasing: rx[rxStart..<rxCount])
                let agreed: Bool
                let used: Int
                try makeRoom(Multistream.maxMessageLength * 2)
                do {
                    if role == .dialer {
                        let (outcome, n) = try securityDialer.receive(input)
                        (agreed, used) = (outcome == .agreed, n)
                    } else {
                        var answers = plainWriter()
                        let (outcome, n) = try securityListener.receive(input, answers: &answers)
                        commitPlain(answers)
                        (agreed, used) = (outcome != .pending, n)
                    }
                } catch { throw .negotiation(error) }
                rxStart += used
                guard agreed else { return nil }
                phase = .handshaking
                if handshake.isOurTurn { try writeHandshake() }
            case .handshaking:
                let input = UnsafeRawBufferPointer(rebasing: rx[rxStart..<rxCount])
                // XX messages with our payload are 32, 200 and 168 bytes; anything declaring more than
                // maxHandshakeMessage is refused at once instead of waiting for 64 KiB that never come.
                if input.count >= 2 {
                    let declared = Int(input[0]) << 8 | Int(input[1])
                    if declared == 0 || declared > Self.maxHandshakeMessage { throw .noise(.malformedMessage) }
                }
                guard let frame = NoiseFrame.complete(in: input) else { return nil }
                do { try handshake.readMessage(UnsafeRawBufferPointer(rebasing: input[frame.body])) } catch { throw .noise(error) }
                rxStart += frame.total
                if handshake.isOurTurn { try writeHandshake() }
                if handshake.isComplete {
                    session = handshake.finish()
                    guard session != nil else { throw .noise(.invalidPayload) }
                    phase = .negotiatingMuxer
                    var (w, start) = try encryptedWriter()
                    do {
                        if role == .dialer { try muxerDialer.start(into: &w) } else { try muxerListener.start(into: &w) }
                    } catch { throw .outputFull }
                    try seal(w, plainStart: start)
                }
            case .negotiatingMuxer:
                guard try nextPlaintext() else { return nil }
                let chunk = UnsafeRawBufferPointer(rebasing: rx[plainStart..<plainEnd])
                guard negotiationCount + chunk.count <= 512 else { throw .negotiation(.oversized) }
                negotiation.withUnsafeMutableBytes { raw in
                    for i in 0..<chunk.count { raw[negotiationCount + i] = chunk[i] }
                }
                negotiationCount += chunk.count
                plainStart = plainEnd
                let (agreed, used) = try negotiateMuxer()
                if agreed {
                    phase = .open
                    // Bytes after the agreement are yamux. The agreement completed in the chunk just copied, so
                    // they are that chunk's tail, still in rx: rewind to them instead of copying them back.
                    plainStart = plainEnd - (negotiationCount - used)
                    negotiationCount = 0
                    return .established
                }
                // Keep the unconsumed part of a message split across Noise messages.
                negotiation.withUnsafeMutableBytes { raw in
                    for i in used..<negotiationCount { raw[i - used] = raw[i] }
                }
                negotiationCount -= used
            case .open:
                guard try nextPlaintext() else { return nil }
                let input = UnsafeRawBufferPointer(rebasing: rx[plainStart..<plainEnd])
                let (event, used) = try muxStep(input)
                let base = plainStart
                plainStart += used
                if let event { return Self.rebase(event, by: base, in: UnsafeRawBufferPointer(rx)) }
            }
        }
    }

    /// Runs the muxer negotiation on the accumulated bytes; returns agreement and bytes consumed.
    private mutating func negotiateMuxer() throws(ConnectionError) -> (Bool, Int) {
        var result: Result<(Bool, Int), Multistream.Error> = .success((false, 0))
        var answers = FixedBytes<256>()
        var answerCount = 0
        let accumulated = negotiation  // a copy: the negotiators below mutate self
        accumulated.withUnsafeBytes { raw in
            let input = UnsafeRawBufferPointer(rebasing: raw[0..<negotiationCount])
            answers.withUnsafeMutableBytes { out in
                var w = ByteWriter(out)
                result = role == .dialer ? dialMuxer(input) : listenMuxer(input, &w)
                answerCount = w.count
            }
        }
        if answerCount > 0 {
            var (w, start) = try encryptedWriter()
            let copied = answers.withUnsafeBytes { raw in Self.append(UnsafeRawBufferPointer(rebasing: raw[0..<answerCount]), to: &w) }
            guard copied else { throw .outputFull }
            try seal(w, plainStart: start)
        }
        switch result {
        case .success(let value): return value
        case .failure(let error): throw .negotiation(error)
        }
    }

    private mutating func dialMuxer(_ input: UnsafeRawBufferPointer) -> Result<(Bool, Int), Multistream.Error> {
        do {
            let (outcome, used) = try muxerDialer.receive(input)
            return .success((outcome == .agreed, used))
        } catch { return .failure(error) }
    }

    private mutating func listenMuxer(_ input: UnsafeRawBufferPointer, _ w: inout ByteWriter) -> Result<(Bool, Int), Multistream.Error> {
        do {
            let (outcome, used) = try muxerListener.receive(input, answers: &w)
            return .success((outcome != .pending, used))
        } catch { return .failure(error) }
    }

    /// One yamux step over `input`, sealing any control frames it produced.
    private mutating func muxStep(_ input: UnsafeRawBufferPointer) throws(ConnectionError) -> (YamuxSession.Event?, Int) {
        var (w, start) = try encryptedWriter()
        let result: (YamuxSession.Event?, Int)
        do { result = try yamux.next(in: input, output: &w) } catch { throw .yamux(error) }
        try seal(w, plainStart: start)
        return result
    }

    static func rebase(_ event: YamuxSession.Event, by base: Int, in buffer: UnsafeRawBufferPointer) -> ConnectionEvent {
        switch event {
        case .opened(let id): .streamOpened(id)
        case .accepted(let id): .streamAccepted(id)
        case .data(let id, let range): .streamData(id, UnsafeRawBufferPointer(rebasing: buffer[(base + range.lowerBound)..<(base + range.upperBound)]))
        case .finished(let id): .streamFinished(id)
        case .reset(let id): .streamReset(id)
        case .pong(let value): .pong(value)
        case .goAway(let code): .goAway(code)
        }
    }

    /// Makes the next Noise message's plaintext current; false when no complete message has arrived.
    private mutating func nextPlaintext() throws(ConnectionError) -> Bool {
        if plainStart < plainEnd { return true }
        if frameEnd > rxStart { rxStart = frameEnd }
        let input = UnsafeRawBufferPointer(rebasing: rx[rxStart..<rxCount])
        guard let frame = NoiseFrame.complete(in: input) else {
            if rxStart > 0 && rxStart == rxCount {
                rxStart = 0
                rxCount = 0
                frameEnd = 0
            }
            return false
        }
        guard var current = session else { throw .closed }
        let cipherRange = (rxStart + frame.body.lowerBound)..<(rxStart + frame.body.upperBound)
        let n: Int
        do {
            n = try current.decrypt(
                UnsafeRawBufferPointer(rebasing: rx[cipherRange]), into: UnsafeMutableRawBufferPointer(rebasing: rx[cipherRange]))
        } catch { throw .noise(error) }
        session = current
        plainStart = cipherRange.lowerBound
        plainEnd = plainStart + n
        frameEnd = rxStart + frame.total
        if plainEnd > plainStart { return true }
        // An empty Noise message carries nothing; move on to the next one.
        rxStart = frameEnd
        return try nextPlaintext()
    }

    // MARK: Application side (phase .open)

    public mutating func openStream() throws(ConnectionError) -> UInt32 {
        guard phase == .open else { throw .closed }
        var (w, start) = try encryptedWriter()
        let id: UInt32
        do { id = try yamux.open(output: &w) } catch { throw .yamux(error) }
        try seal(w, plainStart: start)
        return id
    }

    public mutating func write(_ stream: UInt32, _ bytes: UnsafeRawBufferPointer) throws(ConnectionError) {
        guard phase == .open else { throw .closed }
        var (w, start) = try encryptedWriter()
        do { try yamux.write(stream, bytes, output: &w) } catch { throw .yamux(error) }
        try seal(w, plainStart: start)
    }

    public mutating func finish(_ stream: UInt32) throws(ConnectionError) {
        guard phase == .open else { throw .closed }
        var (w, start) = try encryptedWriter()
        do { try yamux.finish(stream, output: &w) } catch { throw .yamux(error) }
        try seal(w, plainStart: start)
    }

    public mutating func reset(_ stream: UInt32) throws(ConnectionError) {
        guard phase == .open else { throw .closed }
        var (w, start) = try encryptedWriter()
        do { try yamux.reset(stream, output: &w) } catch { throw .yamux(error) }
        try seal(w, plainStart: start)
    }

    public mutating func ping(_ value: UInt32) throws(ConnectionError) {
        guard phase == .open else { throw .closed }
        var (w, start) = try encryptedWriter()
        do { try yamux.ping(value, output: &w) } catch { throw .yamux(error) }
        try seal(w, plainStart: start)
    }

    /// Marks the connection closed and wipes its keys; the loop closes the socket.
    public mutating func close() {
        phase = .closed
        handshake.wipe()
        session?.wipe()
        session = nil
    }

    // MARK: Output

    private mutating func makeRoom(_ needed: Int) throws(ConnectionError) {
        if tx.count - txCount >= needed { return }
        let live = txCount - txStart
        if txStart > 0 {
            if live > 0 { tx.baseAddress!.copyMemory(from: tx.baseAddress! + txStart, byteCount: live) }
            txStart = 0
            txCount = live
        }
        guard tx.count - txCount >= needed else { throw .outputFull }
    }

    private mutating func plainWriter() -> ByteWriter { ByteWriter(UnsafeMutableRawBufferPointer(rebasing: tx[txCount...])) }
    private mutating func commitPlain(_ w: ByteWriter) { txCount += w.count }

    private mutating func writeHandshake() throws(ConnectionError) {
        try makeRoom(NoiseFrame.headerLength + 512)
        let out = UnsafeMutableRawBufferPointer(rebasing: tx[(txCount + NoiseFrame.headerLength)...])
        let n: Int
        do { n = try handshake.writeMessage(into: out) } catch { throw .noise(error) }
        NoiseFrame.writeHeader(n, into: UnsafeMutableRawBufferPointer(rebasing: tx[txCount...]))
        txCount += NoiseFrame.headerLength + n
    }

    /// A writer for the plaintext of the next Noise message, placed in `tx` where it will be encrypted in place.
    private mutating func encryptedWriter() throws(ConnectionError) -> (ByteWriter, plainStart: Int) {
        guard session != nil else { throw .closed }
        let overhead = NoiseFrame.headerLength + ChaChaPoly.tagLength
        try makeRoom(overhead + 64)
        let room = min(tx.count - txCount - overhead, NoiseSession.maxPlaintext)
        let plainStart = txCount + NoiseFrame.headerLength
        return (ByteWriter(UnsafeMutableRawBufferPointer(rebasing: tx[plainStart..<(plainStart + room)])), plainStart)
    }

    /// Encrypts what `w` holds as one Noise message and queues it (nothing is sent for an empty writer).
    private mutating func seal(_ w: ByteWriter, plainStart: Int) throws(ConnectionError) {
        guard w.count > 0 else { return }
        guard var current = session else { throw .closed }
        let n: Int
        do {
            n = try current.encrypt(
                UnsafeRawBufferPointer(rebasing: tx[plainStart..<(plainStart + w.count)]),
                into: UnsafeMutableRawBufferPointer(rebasing: tx[plainStart..<(plainStart + w.count + ChaChaPoly.tagLength)]))
        } catch { throw .noise(error) }
        session = current
        NoiseFrame.writeHeader(n, into: UnsafeMutableRawBufferPointer(rebasing: tx[txCount...]))
        txCount += NoiseFrame.headerLength + n
    }

    static func append(_ bytes: UnsafeRawBufferPointer, to w: inout ByteWriter) -> Bool {
        do {
            try w.write(bytes)
            return true
        } catch { return false }
    }
}

public enum ConnectionEvent {
    /// Noise and yamux are up: `session` holds the peer's identity and the channel binding.
    case established
    case streamOpened(UInt32)
    case streamAccepted(UInt32)
    case streamData(UInt32, UnsafeRawBufferPointer)
    case streamFinished(UInt32)
    case streamReset(UInt32)
    case pong(UInt32)
    case goAway(UInt32)
}

public enum ConnectionError: Error, Equatable, Sendable {
    case negotiation(Multistream.Error)
    case noise(NoiseError)
    case yamux(YamuxSession.Error)
    case outputFull
    case closed
}
