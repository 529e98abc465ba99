import Crypto
import Wire

/// Runs one whole pairing between an initiator window and a joiner session in memory, through the real message
/// codec and stream framing, as the transport will (encode → frame → deframe → decode). The channel binding is
/// supplied by the caller in place of a Noise session. Used by `sd-pair demo`, the benchmark and the tests.
public enum LoopbackExchange {
    /// One side of the exchange.
    public struct Party: Sendable {
        public var code: PairingCode
        public var identity: Ed25519.KeyPair
        public var device: DeviceInfo
        public init(code: PairingCode, identity: Ed25519.KeyPair, device: DeviceInfo) {
            self.code = code
            self.identity = identity
            self.device = device
        }
    }

    public struct Outcome: Sendable {
        public var initiatorState: InitiatorState
        public var joinerState: JoinerState
        /// What the initiator recorded about the joiner, when it completed.
        public var initiatorPeer: PairedPeer?
        /// What the joiner recorded about the initiator, when it completed.
        public var joinerPeer: PairedPeer?
        public var messages = 0
        public var bytesOnWire = 0
    }

    /// The message budget of one exchange: request, challenge, response, complete (a short code: two shares first).
    static let maxMessages = 6

    /// `trace` gets one line per message, for the demo; pass `{ _ in }` to stay quiet.
    public static func run<R: RandomSource>(
        initiator: Party, joiner: Party, handshakeHash: FixedBytes<32>, exporter: SymmetricKey,
        policy: WindowPolicy, now: Instant, random: R, trace: (String) -> Void
    ) -> Outcome {
        var window = InitiatorWindow(code: initiator.code, localDevice: initiator.device, policy: policy, now: now, random: random)
        var session = JoinerSession(code: joiner.code, identity: joiner.identity, localDevice: joiner.device, policy: policy, now: now)
        // Each side sees the other's identity as Noise would have authenticated it.
        var handshake = InitiatorHandshake(
            binding: ChannelBinding(handshakeHash: handshakeHash, exporter: exporter, remoteIdentity: joiner.identity.publicKey))
        let joinerBinding = ChannelBinding(handshakeHash: handshakeHash, exporter: exporter, remoteIdentity: initiator.identity.publicKey)

        var outcome = Outcome(initiatorState: window.state, joinerState: session.state)
        var buffer = FixedBytes<4200>()  // one framed message at most (MessageFrame.maxBodyLength + prefix)

        _ = session.connecting(now: now)
        var toInitiator = session.connected(binding: joinerBinding, now: now).reply
        var toJoiner: PairingMessage? = nil
        while outcome.messages < maxMessages {
            if let message = toInitiator {
                toInitiator = nil
                guard let received = transfer(message, through: &buffer, outcome: &outcome, trace: trace, arrow: "joiner → initiator") else { break }
                let step = window.receive(received, on: &handshake, now: now)
                if case .paired(let peer) = step.event { outcome.initiatorPeer = peer }
                toJoiner = step.reply
            } else if let message = toJoiner {
                toJoiner = nil
                guard let received = transfer(message, through: &buffer, outcome: &outcome, trace: trace, arrow: "initiator → joiner") else { break }
                let step = session.receive(received, now: now)
                if case .paired(let peer) = step.event { outcome.joinerPeer = peer }
                toInitiator = step.reply
            } else {
                break
            }
        }
        buffer.wipe()
        outcome.initiatorState = window.state
        outcome.joinerState = session.state
        session.wipe()
        return outcome
    }

    /// Frames and encodes `message`, then deframes and decodes it, as two ends of a stream would.
    static func transfer(
        _ message: PairingMessage, through buffer: inout FixedBytes<4200>, outcome: inout Outcome, trace: (String) -> Void,
        arrow: String
    ) -> PairingMessage? {
        buffer.withUnsafeMutableBytes { raw -> PairingMessage? in
            guard let wire = MessageFrame.encoded(message, into: raw) else { return nil }
            outcome.messages += 1
            outcome.bytesOnWire += wire.count
            trace(arrow + ": " + message.kindName + " (" + String(wire.count) + " bytes)")
            return decodeFrame(wire)
        }
    }

    static func decodeFrame(_ wire: UnsafeRawBufferPointer) -> PairingMessage? {
        let range: Range<Int>
        do {
            guard case .frame(let bodyRange, _) = try MessageFrame.next(in: wire) else { return nil }
            range = bodyRange
        } catch {
            return nil
        }
        do { return try MessageCodec.decode(UnsafeRawBufferPointer(rebasing: wire[range])) } catch { return nil }
    }
}
