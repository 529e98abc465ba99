import Crypto
import Wire

/// Why an initiator turned a joiner down; one byte on the wire in `Complete`.
public enum RejectReason: Equatable, Sendable {
    /// The joiner's proof of the code was wrong.
    case wrongCode
    /// The request named another session.
    case unknownSession
    /// The challenge signature did not verify.
    case badSignature
    /// The public key in the request is not the identity the Noise handshake authenticated.
    case identityMismatch
    case expired
    /// Too many failed attempts: the code no longer works.
    case codeBurned
    /// The code was already used for a completed pairing.
    case codeUsed
    /// A message came out of order or did not match the rest of the exchange.
    case protocolError
    case cancelled
    /// The initiator verified everything but could not record the pairing (e.g. disk full): nothing was kept.
    case storageFailed
    /// The joiner claims the device id of another device already paired here with a different key: refused, so that
    /// no code holder can take over (replace the keys of) a paired device's record.
    case deviceIDTaken
    /// A code this version does not know (sent by a newer peer).
    case unspecified(UInt8)

    public var wireValue: UInt8 {
        switch self {
        case .wrongCode: 1
        case .unknownSession: 2
        case .badSignature: 3
        case .identityMismatch: 4
        case .expired: 5
        case .codeBurned: 6
        case .codeUsed: 7
        case .protocolError: 8
        case .cancelled: 9
        case .storageFailed: 10
        case .deviceIDTaken: 11
        case .unspecified(let v): v
        }
    }

    /// Nil for 0, which means success on the wire.
    public init?(wireValue: UInt8) {
        switch wireValue {
        case 0: return nil
        case 1: self = .wrongCode
        case 2: self = .unknownSession
        case 3: self = .badSignature
        case 4: self = .identityMismatch
        case 5: self = .expired
        case 6: self = .codeBurned
        case 7: self = .codeUsed
        case 8: self = .protocolError
        case 9: self = .cancelled
        case 10: self = .storageFailed
        case 11: self = .deviceIDTaken
        default: self = .unspecified(wireValue)
        }
    }

    public var description: String {
        switch self {
        case .wrongCode: "wrong pairing code"
        case .unknownSession: "no such pairing session (wrong code?)"
        case .badSignature: "challenge signature did not verify"
        case .identityMismatch: "public key does not match the authenticated identity"
        case .expired: "pairing code expired"
        case .codeBurned: "pairing code disabled after too many failed attempts"
        case .codeUsed: "pairing code already used"
        case .protocolError: "protocol error"
        case .cancelled: "pairing cancelled"
        case .storageFailed: "the other device could not record the pairing"
        case .deviceIDTaken: "the other device has already paired a different device with this device id (forget it there first)"
        case .unspecified(let v): "rejected (reason " + String(v) + ")"
        }
    }
}

/// Step 1, joiner → initiator.
public struct PairingRequest: Equatable, Sendable {
    public var sessionID: SessionID
    public var deviceInfo: DeviceInfo
    public var publicKey: Ed25519.PublicKey
    /// HMAC(confirm_key, "sd-pair/v1/joiner-proof" ‖ h ‖ session_id ‖ public_key).
    public var joinerProof: FixedBytes<32>
}

/// Step 2, initiator → joiner.
public struct Challenge: Equatable, Sendable {
    public var sessionID: SessionID
    public var challenge: FixedBytes<32>
    public var deviceInfo: DeviceInfo
    /// HMAC(confirm_key, "sd-pair/v1/initiator-proof" ‖ h ‖ session_id ‖ challenge).
    public var initiatorProof: FixedBytes<32>
}

/// Step 3, joiner → initiator.
public struct Response: Equatable, Sendable {
    public var sessionID: SessionID
    /// Ed25519 over "sd-pair/v1/challenge" ‖ session_id ‖ challenge ‖ h.
    public var signature: Ed25519.Signature
    public var deviceInfo: DeviceInfo
}

/// Step 4, initiator → joiner; also the initiator's answer to anything it refuses.
public struct Complete: Equatable, Sendable {
    /// Free text for people is bounded: enough for one log line.
    public static let maxDetailLength = 128

    public var sessionID: SessionID
    /// nil means success.
    public var rejection: RejectReason?
    public var detail: FixedText<128>

    public var success: Bool { rejection == nil }

    public init(sessionID: SessionID, rejection: RejectReason?, detail: FixedText<128> = FixedText()) {
        self.sessionID = sessionID
        self.rejection = rejection
        self.detail = detail
    }
}

/// Short-code mode only, before the request, both ways: the sender's CPace share (joiner first, the device answers).
public struct PakeShare: Equatable, Sendable {
    public var sessionID: SessionID
    public var share: FixedBytes<32>

    public init(sessionID: SessionID, share: FixedBytes<32>) {
        self.sessionID = sessionID
        self.share = share
    }
}

public enum PairingMessage: Equatable, Sendable {
    case share(PakeShare)
    case request(PairingRequest)
    case challenge(Challenge)
    case response(Response)
    case complete(Complete)

    public var sessionID: SessionID {
        switch self {
        case .share(let m): m.sessionID
        case .request(let m): m.sessionID
        case .challenge(let m): m.sessionID
        case .response(let m): m.sessionID
        case .complete(let m): m.sessionID
        }
    }

    public var kindName: String {
        switch self {
        case .share: "PakeShare"
        case .request: "PairingRequest"
        case .challenge: "Challenge"
        case .response: "Response"
        case .complete: "Complete"
        }
    }
}
