import Crypto
import Wire

/// The initiator's side of one pairing window (one code): sans-IO. The transport feeds it decoded messages
/// with the connection's `InitiatorHandshake`; it answers with the message to send and what happened.
///
/// States (the seed's `PairingState`, per window): waitingForConnection → challengeSent → completed, or
/// failed(codeBurned / cancelled), or expired. Several joiners may be mid-handshake at once (each in its own
/// `InitiatorHandshake`); the first to finish wins and every other is refused with `codeUsed`.
public struct InitiatorWindow<Random: RandomSource> {
    public private(set) var sessionID: SessionID
    public let deadline: Instant
    public let policy: WindowPolicy
    public private(set) var failedAttempts = 0
    private var terminal: InitiatorState? = nil
    private var challengesOutstanding = 0
    private var secrets: CodeSecrets
    public let localDevice: DeviceInfo
    private var random: Random

    public init(code: PairingCode, localDevice: DeviceInfo, policy: WindowPolicy, now: Instant, random: Random) {
        secrets = CodeSecrets(code: code)
        sessionID = secrets.sessionID
        self.localDevice = localDevice
        self.policy = policy
        deadline = now.adding(seconds: policy.expirySeconds)
        self.random = random
    }

    public var state: InitiatorState {
        if let terminal { return terminal }
        return challengesOutstanding > 0 ? .challengeSent : .waitingForConnection
    }

    public var remainingAttempts: Int { max(0, policy.maxFailedAttempts - failedAttempts) }

    /// The key that seals this window's DHT advertisement (needed by discovery while the window is open).
    public var advertKey: SymmetricKey { secrets.advertKey }
    public var ipnsSeed: SymmetricKey { secrets.ipnsSeed }

    /// Advances time. Returns `.expired` once, when the deadline passes.
    public mutating func tick(now: Instant) -> InitiatorEvent? {
        guard terminal == nil, now >= deadline else { return nil }
        finish(.expired)
        return .expired
    }

    /// Closes the window early (the owner cancelled). Idempotent.
    public mutating func cancel() {
        if terminal == nil { finish(.failed(.cancelled)) }
    }

    /// The connection carrying `handshake` went away.
    public mutating func connectionClosed(_ handshake: inout InitiatorHandshake) {
        if handshake.phase == .challengeSent { challengesOutstanding -= 1 }
        handshake.finish()
    }

    /// Handles one message from a joiner.
    public mutating func receive(_ message: PairingMessage, on handshake: inout InitiatorHandshake, now: Instant) -> InitiatorStep {
        if let event = tick(now: now) {
            return refuse(&handshake, .expired, event: event)
        }
        if let terminal {
            return refuse(&handshake, Self.refusal(for: terminal), event: nil)
        }
        switch (handshake.phase, message) {
        case (.awaitingRequest, .share(let share)) where secrets.isShort && handshake.pake == nil:
            return handleShare(share, &handshake)
        case (.awaitingRequest, .request(let request)) where secrets.isShort == (handshake.pake != nil):
            return handleRequest(request, &handshake)
        case (.challengeSent, .response(let response)):
            return handleResponse(response, &handshake)
        default:
            return refuse(&handshake, .protocolError, event: .rejected(.protocolError))
        }
    }

    /// Short-code mode: the joiner's CPace share; answer with ours. Nothing here tells the joiner whether its password
    /// was right: that takes a proof in its request, which counts as an attempt when wrong.
    private mutating func handleShare(_ share: PakeShare, _ handshake: inout InitiatorHandshake) -> InitiatorStep {
        // Another session's share: not a guess at our code. A share that is not a group element (or gives the
        // identity): broken or hostile, not a guess either. One refusal site for both (board size).
        var refusal = RejectReason.unknownSession
        if share.sessionID == sessionID, let password = secrets.password {
            var (y, mine) = ShortCodePake.start(
                password: password, handshakeHash: handshake.binding.handshakeHash, sessionID: sessionID, random: &random)
            handshake.pake = try? ShortCodePake.finish(y, peer: share.share, joinerShare: share.share, deviceShare: mine, sessionID: sessionID)
            y.wipe()
            if handshake.pake != nil {
                return InitiatorStep(reply: .share(PakeShare(sessionID: sessionID, share: mine)), close: false, event: nil)
            }
            refusal = .protocolError
        }
        return refuse(&handshake, refusal, event: .rejected(refusal))
    }

    private mutating func handleRequest(_ request: PairingRequest, _ handshake: inout InitiatorHandshake) -> InitiatorStep {
        guard request.sessionID == sessionID else {
            // Not evidence of a guess at our code: another session's joiner reached us. Not counted.
            return refuse(&handshake, .unknownSession, event: .rejected(.unknownSession))
        }
        let expected = Transcript.joinerProof(
            confirmKey: keys(handshake).confirmKey, handshakeHash: handshake.binding.handshakeHash, sessionID: sessionID,
            publicKey: request.publicKey)
        guard expected.constantTimeEquals(request.joinerProof) else {
            return failAttempt(&handshake, .wrongCode)
        }
        guard request.publicKey == handshake.binding.remoteIdentity else {
            return failAttempt(&handshake, .identityMismatch)
        }
        let challenge: FixedBytes<32> = random.bytes()
        handshake.challenge = challenge
        handshake.phase = .challengeSent
        challengesOutstanding += 1
        let proof = Transcript.initiatorProof(
            confirmKey: keys(handshake).confirmKey, handshakeHash: handshake.binding.handshakeHash, sessionID: sessionID,
            challenge: challenge)
        let reply = Challenge(sessionID: sessionID, challenge: challenge, deviceInfo: localDevice, initiatorProof: proof)
        // The joiner's description in the request is a placeholder (DeviceInfo.withheld): it arrives with the Response.
        return InitiatorStep(reply: .challenge(reply), close: false, event: .challengeSent)
    }

    private mutating func handleResponse(_ response: Response, _ handshake: inout InitiatorHandshake) -> InitiatorStep {
        challengesOutstanding -= 1
        handshake.phase = .awaitingRequest  // leaves challengeSent; refuse() below finishes it
        guard response.sessionID == sessionID else {
            return refuse(&handshake, .protocolError, event: .rejected(.protocolError))
        }
        let verified = Transcript.withSignedMessage(
            sessionID: sessionID, challenge: handshake.challenge, handshakeHash: handshake.binding.handshakeHash
        ) { message in Ed25519.isValidSignature(response.signature, of: message, by: handshake.binding.remoteIdentity) }
        guard verified else { return failAttempt(&handshake, .badSignature) }
        let keys = Transcript.sessionKeys(
            codeSecret: keys(handshake).codeSecret, exporter: handshake.binding.exporter, sessionID: sessionID,
            isInitiator: true)
        // The description from the Response: the Noise channel it came on is the one the signature binds.
        let peer = PairedPeer(deviceInfo: response.deviceInfo, publicKey: handshake.binding.remoteIdentity, sessionKeys: keys)
        finish(.completed)
        handshake.finish()
        return InitiatorStep(reply: .complete(Complete(sessionID: sessionID, rejection: nil)), close: true, event: .paired(peer))
    }

    /// The keys of the proofs and session keys on this connection: its PAKE's (short code) or the code's own.
    @inline(never)
    private func keys(_ handshake: InitiatorHandshake) -> PakeKeys {
        handshake.pake ?? PakeKeys(confirmKey: secrets.confirmKey, codeSecret: secrets.codeSecret)
    }

    /// A joiner that reached us with the session id but failed a check only a code holder passes.
    private mutating func failAttempt(_ handshake: inout InitiatorHandshake, _ reason: RejectReason) -> InitiatorStep {
        failedAttempts += 1
        if failedAttempts >= policy.maxFailedAttempts {
            finish(.failed(.codeBurned))
            return refuse(&handshake, .codeBurned, event: .burned(after: reason))
        }
        return refuse(&handshake, reason, event: .attemptFailed(reason, remaining: remainingAttempts))
    }

    private mutating func refuse(_ handshake: inout InitiatorHandshake, _ reason: RejectReason, event: InitiatorEvent?) -> InitiatorStep {
        if handshake.phase == .challengeSent { challengesOutstanding -= 1 }
        handshake.finish()
        return InitiatorStep(reply: .complete(Complete(sessionID: sessionID, rejection: reason)), close: true, event: event)
    }

    private static func refusal(for terminal: InitiatorState) -> RejectReason {
        switch terminal {
        case .completed: .codeUsed
        case .expired: .expired
        case .failed(let reason): reason
        case .waitingForConnection, .challengeSent: .protocolError
        }
    }

    /// Enters a terminal state and wipes the code's secrets: a window that has ended can never verify again.
    private mutating func finish(_ state: InitiatorState) {
        terminal = state
        challengesOutstanding = 0
        secrets.wipe()
    }
}

/// Per-connection state of one joiner's attempt; owned by the transport's connection, passed in by reference.
public struct InitiatorHandshake: Sendable {
    public enum Phase: Equatable, Sendable {
        case awaitingRequest
        case challengeSent
        case done
    }

    public private(set) var binding: ChannelBinding
    public internal(set) var phase: Phase = .awaitingRequest
    var challenge = FixedBytes<32>()
    /// Short-code mode: this connection's keys from the PAKE, once the joiner's share came.
    var pake: PakeKeys? = nil

    public init(binding: ChannelBinding) {
        self.binding = binding
    }

    mutating func finish() {
        phase = .done
        challenge.wipe()
        pake?.wipe()
        pake = nil
        binding.wipe()
    }
}

/// What the transport must do after `InitiatorWindow.receive`.
public struct InitiatorStep: Sendable {
    /// Send this on the stream (always set: every request gets an answer).
    public var reply: PairingMessage?
    /// Close the stream after sending.
    public var close: Bool
    public var event: InitiatorEvent?
}

/// Window-level happenings, for logs, displays and `--events`.
public enum InitiatorEvent: Sendable {
    /// A joiner proved the code (who it is comes with its Response).
    case challengeSent
    /// A code holder's check failed; `remaining` more failures burn the code.
    case attemptFailed(RejectReason, remaining: Int)
    /// The last allowed failure: the code is disabled.
    case burned(after: RejectReason)
    /// Refused without counting an attempt (wrong session, out-of-order message).
    case rejected(RejectReason)
    case paired(PairedPeer)
    case expired
}

/// The states of an initiator's pairing window (the seed's `PairingState`).
public enum InitiatorState: Equatable, Sendable {
    case waitingForConnection
    case challengeSent
    case completed
    case failed(RejectReason)
    case expired

    public var isTerminal: Bool {
        switch self {
        case .waitingForConnection, .challengeSent: false
        case .completed, .failed, .expired: true
        }
    }

    public var name: String {
        switch self {
        case .waitingForConnection: "waiting"
        case .challengeSent: "challenge-sent"
        case .completed: "completed"
        case .failed: "failed"
        case .expired: "expired"
        }
    }
}
