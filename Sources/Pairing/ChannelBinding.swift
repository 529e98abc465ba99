import Crypto
import Wire

/// What the transport tells the pairing protocol about the encrypted channel a message arrived on.
/// Both ends of one Noise session compute the same `handshakeHash` and `exporter`; nobody else can.
public struct ChannelBinding: Sendable {
    /// Noise's final handshake hash `h`: binds everything in the handshake, both static keys included.
    public var handshakeHash: FixedBytes<32>
    /// A secret both ends derive from Noise's final chaining key (DESIGN §3); input to the session keys.
    public var exporter: SymmetricKey
    /// The peer's Ed25519 identity key, as authenticated by the Noise handshake payload.
    public var remoteIdentity: Ed25519.PublicKey

    public init(handshakeHash: FixedBytes<32>, exporter: SymmetricKey, remoteIdentity: Ed25519.PublicKey) {
        self.handshakeHash = handshakeHash
        self.exporter = exporter
        self.remoteIdentity = remoteIdentity
    }

    public mutating func wipe() { exporter.wipe() }
}

/// The two directional keys a completed pairing leaves each side with, named from the local side's view.
public struct SessionKeys: Sendable {
    public var sendKey: SymmetricKey
    public var receiveKey: SymmetricKey

    public mutating func wipe() {
        sendKey.wipe()
        receiveKey.wipe()
    }
}

/// The protocol's keyed computations (Docs/PROTOCOL.md §3). Every input is fixed-length after its label.
enum Transcript {
    static func joinerProof(
        confirmKey: SymmetricKey, handshakeHash: FixedBytes<32>, sessionID: SessionID, publicKey: Ed25519.PublicKey
    ) -> FixedBytes<32> {
        var mac = HMACSHA256(key: confirmKey)
        mac.update(Labels.joinerProof)
        mac.update(handshakeHash)
        mac.update(sessionID.bytes)
        mac.update(publicKey.bytes)
        return mac.finalize()
    }

    static func initiatorProof(
        confirmKey: SymmetricKey, handshakeHash: FixedBytes<32>, sessionID: SessionID, challenge: FixedBytes<32>
    ) -> FixedBytes<32> {
        var mac = HMACSHA256(key: confirmKey)
        mac.update(Labels.initiatorProof)
        mac.update(handshakeHash)
        mac.update(sessionID.bytes)
        mac.update(challenge)
        return mac.finalize()
    }

    /// Length of the signed challenge message: label (20) ‖ session id (16) ‖ challenge (32) ‖ h (32).
    static let signedMessageLength = 100

    /// Calls `body` with "sd-pair/v1/challenge" ‖ session_id ‖ challenge ‖ h, built on the stack.
    static func withSignedMessage<R>(
        sessionID: SessionID, challenge: FixedBytes<32>, handshakeHash: FixedBytes<32>,
        _ body: (UnsafeRawBufferPointer) -> R
    ) -> R {
        var buffer = FixedBytes<100>()
        return buffer.withUnsafeMutableBytes { raw in
            var writer = ByteWriter(raw)
            // The buffer is sized for exactly these fields; the writes cannot overflow.
            try? writer.write(Labels.challengeSignature)
            try? writer.write(sessionID.bytes)
            try? writer.write(challenge)
            try? writer.write(handshakeHash)
            return body(writer.written)
        }
    }

    /// 64 bytes of HKDF-SHA256(ikm = code_secret ‖ exporter, salt = session_id, info = "sd-pair/v1/session-keys"):
    /// the first half keys initiator → joiner, the second joiner → initiator.
    static func sessionKeys(
        codeSecret: SymmetricKey, exporter: SymmetricKey, sessionID: SessionID, isInitiator: Bool
    ) -> SessionKeys {
        var ikm = FixedBytes<64>()
        for i in 0..<32 {
            ikm[i] = codeSecret.bytes[i]
            ikm[32 + i] = exporter.bytes[i]
        }
        var prk = ikm.withUnsafeBytes { ikmRaw in
            sessionID.bytes.withUnsafeBytes { salt in HKDF.extract(salt: salt, ikm: ikmRaw) }
        }
        ikm.wipe()
        var okm = FixedBytes<64>()
        okm.withUnsafeMutableBytes { raw in
            // 64 bytes is within HKDF's limit; cannot throw.
            try? HKDF.expand(prk: prk, info: Labels.sessionKeys.rawBytes, into: raw)
        }
        prk.wipe()
        var first = FixedBytes<32>()
        var second = FixedBytes<32>()
        for i in 0..<32 {
            first[i] = okm[i]
            second[i] = okm[32 + i]
        }
        okm.wipe()
        let initiatorToJoiner = SymmetricKey(bytes: first)
        let joinerToInitiator = SymmetricKey(bytes: second)
        return isInitiator
            ? SessionKeys(sendKey: initiatorToJoiner, receiveKey: joinerToInitiator)
            : SessionKeys(sendKey: joinerToInitiator, receiveKey: initiatorToJoiner)
    }
}
