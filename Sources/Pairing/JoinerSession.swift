import Crypto
import Wire

/// The joiner's side of pairing with a typed code: sans-IO. It lives across discovery candidates: a candidate
/// that fails before proving it knows the code sends the session back to `discovering` so that the agent can
/// try the next one (DESIGN §4: first hit = first candidate that completes, not first answer).
///
/// States: discovering → connecting → requestSent → challengeReceived → responseSent → completed, or
/// failed(reason), or expired.
public struct JoinerSession {
    public private(set) var state: JoinerState = .discovering
    public let sessionID: SessionID
    public let deadline: Instant
    private var secrets: CodeSecrets
    private var identity: Ed25519.KeyPair
    private let localDevice: DeviceInfo
    private var binding: ChannelBinding? = nil
    private var initiatorInfo: DeviceInfo? = nil
    /// The two keys the proofs and session keys use: the code's own (12 words), or — short code — this candidate's
    /// from the PAKE, set when the device's share comes (`shareAwaited` until then, with our scalar and share).
    private var keys: PakeKeys
    private var shareAwaited = false
    private var pakeScalar = CPace.Scalar()
    private var pakeShare = CPace.Element()
    /// Short code: a proof we sent to a peer that has not proved itself yet. Each such proof lets that peer test one
    /// password guess offline (the one it built its share from: an impostor answering our dial), so peers that never
    /// prove themselves are counted (`peerLeftUnproven`, on the session the agent keeps: each candidate's exchange is
    /// a copy) and bounded like the device's failed attempts.
    private var proofUnanswered = false
    private var unprovenPeers = 0
    private let maxUnprovenPeers: Int

    public init(code: PairingCode, identity: Ed25519.KeyPair, localDevice: DeviceInfo, policy: WindowPolicy, now: Instant) {
        secrets = CodeSecrets(code: code)
        keys = PakeKeys(confirmKey: secrets.confirmKey, codeSecret: secrets.codeSecret)
        maxUnprovenPeers = policy.maxFailedAttempts
        sessionID = secrets.sessionID
        self.identity = identity
        self.localDevice = localDevice
        deadline = now.adding(seconds: policy.expirySeconds)
    }

    /// The key that opens the initiator's DHT advertisement.
    public var advertKey: SymmetricKey { secrets.advertKey }
    public var ipnsSeed: SymmetricKey { secrets.ipnsSeed }

    public mutating func tick(now: Instant) -> JoinerStep {
        guard !state.isTerminal, now >= deadline else { return JoinerStep() }
        finish(.expired)
        return JoinerStep(close: true, event: .expired)
    }

    /// The agent started dialling a candidate.
    public mutating func connecting(now: Instant) -> JoinerStep {
        let expired = tick(now: now)
        if expired.event != nil { return expired }
        guard state == .discovering else { return JoinerStep() }
        state = .connecting
        return JoinerStep(event: .stateChanged(.connecting))
    }

    /// The encrypted channel to the candidate is up: send our request, bound to this channel (with a short code, our
    /// PAKE share first; the request follows the device's share).
    public mutating func connected(binding: ChannelBinding, now: Instant) -> JoinerStep {
        var random = SystemRandom()
        return connected(binding: binding, now: now, random: &random)
    }

    public mutating func connected<R: RandomSource>(binding: ChannelBinding, now: Instant, random: inout R) -> JoinerStep {
        let expired = tick(now: now)
        if expired.event != nil { return expired }
        guard state == .connecting else { return JoinerStep() }
        self.binding = binding
        state = .requestSent
        if let password = secrets.password {
            (pakeScalar, pakeShare) = ShortCodePake.start(
                password: password, handshakeHash: binding.handshakeHash, sessionID: sessionID, random: &random)
            shareAwaited = true
            return JoinerStep(reply: .share(PakeShare(sessionID: sessionID, share: pakeShare)), event: .stateChanged(.requestSent))
        }
        return JoinerStep(reply: .request(request(binding)), event: .stateChanged(.requestSent))
    }

    private func request(_ binding: ChannelBinding) -> PairingRequest {
        let proof = Transcript.joinerProof(
            confirmKey: keys.confirmKey, handshakeHash: binding.handshakeHash, sessionID: sessionID, publicKey: identity.publicKey)
        // Who we are waits for the Response: this peer has not proved the code yet (it may be a spoofed answer).
        return PairingRequest(sessionID: sessionID, deviceInfo: .withheld, publicKey: identity.publicKey, joinerProof: proof)
    }

    /// The candidate's connection failed or closed.
    public mutating func connectionLost(now: Instant) -> JoinerStep {
        let expired = tick(now: now)
        if expired.event != nil { return expired }
        switch state {
        case .connecting, .requestSent:
            return dropCandidate(.connectionLost)
        case .challengeReceived:
            // The authentic initiator (it proved the code) went away mid-exchange: no other candidate can be it.
            finish(.failed(.connectionLost))
            return JoinerStep(close: true, event: .failed(.connectionLost))
        case .responseSent:
            // It may have recorded us and sent a confirmation we never got: say so, so that nobody is left believing
            // in a pairing the other side does not have.
            finish(.failed(.unconfirmed))
            return JoinerStep(close: true, event: .failed(.unconfirmed))
        default:
            return JoinerStep()
        }
    }

    public mutating func receive(_ message: PairingMessage, now: Instant) -> JoinerStep {
        let expired = tick(now: now)
        if expired.event != nil { return expired }
        guard let binding else { return JoinerStep() }
        switch (state, message) {
        case (.requestSent, .share(let share)) where shareAwaited:
            guard share.sessionID == sessionID,
                let derived = try? ShortCodePake.finish(pakeScalar, peer: share.share, joinerShare: pakeShare, deviceShare: share.share, sessionID: sessionID)
            else { return dropCandidate(.protocolViolation) }
            pakeScalar.wipe()
            shareAwaited = false
            keys = derived
            proofUnanswered = true
            return JoinerStep(reply: .request(request(binding)))
        case (.requestSent, .challenge(let challenge)) where !shareAwaited:
            let expected = Transcript.initiatorProof(
                confirmKey: keys.confirmKey, handshakeHash: binding.handshakeHash, sessionID: sessionID,
                challenge: challenge.challenge)
            guard challenge.sessionID == sessionID, expected.constantTimeEquals(challenge.initiatorProof) else {
                // Whoever answered does not hold the code (a spoofed mDNS answer, a squatted DHT key).
                return dropCandidate(.initiatorProofInvalid)
            }
            state = .challengeReceived
            proofUnanswered = false
            initiatorInfo = challenge.deviceInfo
            let signature = Transcript.withSignedMessage(
                sessionID: sessionID, challenge: challenge.challenge, handshakeHash: binding.handshakeHash
            ) { Ed25519.sign($0, with: identity.secretKey) }
            state = .responseSent
            return JoinerStep(
                reply: .response(Response(sessionID: sessionID, signature: signature, deviceInfo: localDevice)),
                event: .challengeAccepted(challenge.deviceInfo))
        case (.requestSent, .complete(let complete)):
            // Short code: the device that its three public digits found refused our proof, so the secret digits were
            // mistyped. Final: looking on could only reach the same device, until the code expires.
            if secrets.isShort, complete.rejection == .wrongCode {
                finish(.failed(.digitsRefused))
                return JoinerStep(close: true, event: .failed(.digitsRefused))
            }
            // Refused before the peer proved it holds the code: it may be an impostor, so try other candidates.
            return dropCandidate(.rejected(complete.rejection ?? .protocolError))
        case (.responseSent, .complete(let complete)):
            guard complete.sessionID == sessionID, let initiatorInfo else {
                finish(.failed(.protocolViolation))
                return JoinerStep(close: true, event: .failed(.protocolViolation))
            }
            if let rejection = complete.rejection {
                finish(.failed(.rejected(rejection)))
                return JoinerStep(close: true, event: .failed(.rejected(rejection)))
            }
            let keys = Transcript.sessionKeys(
                codeSecret: keys.codeSecret, exporter: binding.exporter, sessionID: sessionID, isInitiator: false)
            let peer = PairedPeer(deviceInfo: initiatorInfo, publicKey: binding.remoteIdentity, sessionKeys: keys)
            finish(.completed)
            return JoinerStep(close: true, event: .paired(peer))
        case (.requestSent, _):
            return dropCandidate(.protocolViolation)
        case (.responseSent, _):
            finish(.failed(.protocolViolation))
            return JoinerStep(close: true, event: .failed(.protocolViolation))
        default:
            return JoinerStep()
        }
    }

    /// Gives up on this candidate only; the session goes on discovering until it expires.
    private mutating func dropCandidate(_ reason: JoinerFailure) -> JoinerStep {
        var step = JoinerStep(close: true, event: .candidateFailed(reason))
        step.proofExposed = proofUnanswered
        binding?.wipe()
        binding = nil
        wipePake()
        initiatorInfo = nil
        state = .discovering
        return step
    }

    /// A candidate's exchange ended with `proofExposed`: count it here, on the session that outlives the candidates.
    /// At the limit (the policy's attempts, 5 by default) the session fails: nobody gets more guesses from us than
    /// from the device.
    public mutating func peerLeftUnproven() -> JoinerStep {
        guard !state.isTerminal else { return JoinerStep() }
        unprovenPeers += 1
        guard unprovenPeers >= maxUnprovenPeers else { return JoinerStep() }
        finish(.failed(.unprovenPeers(unprovenPeers)))
        return JoinerStep(close: true, event: .failed(.unprovenPeers(unprovenPeers)))
    }

    private mutating func finish(_ terminal: JoinerState) {
        state = terminal
        binding?.wipe()
        binding = nil
        secrets.wipe()
        wipePake()
        keys.wipe()
    }

    /// A short code's keys belong to one candidate's connection; the 12 words' stay until the session ends.
    private mutating func wipePake() {
        pakeScalar.wipe()
        shareAwaited = false
        proofUnanswered = false
        if secrets.isShort { keys.wipe() }
    }

    /// Wipes the identity copy this session holds (the agent keeps its own). Call when done with the session.
    public mutating func wipe() {
        identity.wipe()
        secrets.wipe()
        binding?.wipe()
        wipePake()
        keys.wipe()
    }
}

/// Why a joiner gave up on a candidate or on the session.
public enum JoinerFailure: Equatable, Sendable {
    /// The peer's proof of the code was wrong: it does not hold the code.
    case initiatorProofInvalid
    /// The initiator refused us.
    case rejected(RejectReason)
    case protocolViolation
    case connectionLost
    /// The connection ended after our Response and before the initiator's Complete: it may have recorded us.
    case unconfirmed
    /// Short code: this many peers took our proof without proving they hold the code (each could test one guess).
    case unprovenPeers(Int)
    /// Short code: the device refused our proof: a mistyped secret digit.
    case digitsRefused

    public var description: String {
        switch self {
        case .initiatorProofInvalid: "peer could not prove it knows the code (impostor or stale advertisement)"
        case .rejected(let reason): "initiator refused: " + reason.description
        case .protocolViolation: "peer broke the pairing protocol"
        case .connectionLost: "connection lost"
        case .digitsRefused:
            "the device refused these digits (wrong pairing code): check the code on its display and join again"
        case .unprovenPeers(let n):
            String(n) + " peers took a proof of this short code without proving they hold it (the device refusing the digits, or something on this network posing as it): check the digits, or start a new code on the device"
        case .unconfirmed:
            "the connection was lost before the other device confirmed the pairing; it may have recorded this device: if its device list shows this one, forget it there, then pair again"
        }
    }
}

public struct JoinerStep: Sendable {
    public var reply: PairingMessage? = nil
    public var close = false
    public var event: JoinerEvent? = nil
    /// Short code: the dropped candidate got our proof and never proved itself (see `peerLeftUnproven`).
    public var proofExposed = false
    public init(reply: PairingMessage? = nil, close: Bool = false, event: JoinerEvent? = nil) {
        self.reply = reply
        self.close = close
        self.event = event
    }
}

public enum JoinerEvent: Sendable {
    case stateChanged(JoinerState)
    /// The initiator proved the code; we signed its challenge.
    case challengeAccepted(DeviceInfo)
    /// This candidate is out; keep discovering.
    case candidateFailed(JoinerFailure)
    case failed(JoinerFailure)
    case paired(PairedPeer)
    case expired
}

/// The states of a joiner's pairing session.
public enum JoinerState: Equatable, Sendable {
    case discovering
    case connecting
    case requestSent
    case challengeReceived
    case responseSent
    case completed
    case failed(JoinerFailure)
    case expired

    public var isTerminal: Bool {
        switch self {
        case .completed, .failed, .expired: true
        default: false
        }
    }

    public var name: String {
        switch self {
        case .discovering: "discovering"
        case .connecting: "connecting"
        case .requestSent: "request-sent"
        case .challengeReceived: "challenge-received"
        case .responseSent: "response-sent"
        case .completed: "completed"
        case .failed: "failed"
        case .expired: "expired"
        }
    }
}
