import Crypto
import Wire

/// libp2p's Noise XX handshake (`/noise`): sans-IO. The caller moves whole handshake messages (without their
/// 2-byte length prefix, see `NoiseFrame`); this type does the cryptography and checks the peer's identity.
///
///     -> e                      initiator, payload empty
///     <- e, ee, s, es           responder, payload = its identity
///     -> s, se                  initiator, payload = its identity
///
/// A fresh X25519 static key is made per handshake: libp2p binds the identity by signature, so the static key
/// need not be long-lived, and a fresh one keeps every connection's keys independent.
public struct NoiseHandshake {
    public enum Role: Sendable { case initiator, responder }

    /// Message sizes are fixed by the pattern and our payload (Ed25519 identity, no extensions).
    public static let maxMessageLength = 65535
    static let prefix: StaticString = "noise-libp2p-static-key:"

    public let role: Role
    private var symmetric = NoiseSymmetricState()
    private var ephemeral: X25519.SecretKey
    private var staticKey: X25519.SecretKey
    private var remoteEphemeral = X25519.PublicKey(bytes: FixedBytes())
    private var remoteStatic = X25519.PublicKey(bytes: FixedBytes())
    private let identity: Ed25519.KeyPair
    public private(set) var remoteIdentity: Ed25519.PublicKey? = nil
    /// Messages processed so far (0...3).
    public private(set) var step = 0
    /// Test seam (internal, reachable only through `@testable import`): sign our payload over a key that is not
    /// our Noise static key, to prove that peers refuse such a payload.
    var testingSignsForeignStaticKey = false

    public init<R: RandomSource>(role: Role, identity: Ed25519.KeyPair, random: inout R) {
        self.role = role
        self.identity = identity
        ephemeral = X25519.SecretKey.generate(using: &random)
        staticKey = X25519.SecretKey.generate(using: &random)
        // Empty prologue: MixHash("").
        symmetric.mixHash(UnsafeRawBufferPointer(start: nil, count: 0))
    }

    public var isComplete: Bool { step == 3 }

    /// Whether the next message is ours to write.
    public var isOurTurn: Bool {
        switch role {
        case .initiator: step == 0 || step == 2
        case .responder: step == 1
        }
    }

    /// Writes our next handshake message into `out`; returns its length.
    public mutating func writeMessage(into out: UnsafeMutableRawBufferPointer) throws(NoiseError) -> Int {
        guard isOurTurn else { throw .malformedMessage }
        var writer = ByteWriter(out)
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        switch step {
        case 0:  // -> e
            let ephemeralPublic = ephemeral.publicKey.bytes
            try write(ephemeralPublic, &writer)
            ephemeralPublic.withUnsafeBytes { symmetric.mixHash($0) }
            try encryptAndHash(empty, &writer)
        case 1:  // <- e, ee, s, es
            let ephemeralPublic = ephemeral.publicKey.bytes
            try write(ephemeralPublic, &writer)
            ephemeralPublic.withUnsafeBytes { symmetric.mixHash($0) }
            try mixDH(ephemeral, remoteEphemeral)
            try staticKey.publicKey.bytes.withUnsafeBytes { (raw) throws(NoiseError) in try encryptAndHash(raw, &writer) }
            try mixDH(staticKey, remoteEphemeral)
            try writePayload(&writer)
        default:  // -> s, se
            try staticKey.publicKey.bytes.withUnsafeBytes { (raw) throws(NoiseError) in try encryptAndHash(raw, &writer) }
            try mixDH(staticKey, remoteEphemeral)
            try writePayload(&writer)
        }
        step += 1
        return writer.count
    }

    /// Processes the peer's next handshake message.
    public mutating func readMessage(_ message: UnsafeRawBufferPointer) throws(NoiseError) {
        guard !isOurTurn, step < 3 else { throw .malformedMessage }
        var reader = ByteReader(message)
        var scratch = FixedBytes<256>()
        switch step {
        case 0:  // -> e (responder reads)
            remoteEphemeral = X25519.PublicKey(bytes: try readKey(&reader))
            remoteEphemeral.bytes.withUnsafeBytes { symmetric.mixHash($0) }
            // libp2p sends an empty first payload; anything else is refused rather than silently trusted.
            guard reader.remaining == 0 else { throw .malformedMessage }
            symmetric.mixHash(UnsafeRawBufferPointer(start: nil, count: 0))
        case 1:  // <- e, ee, s, es (initiator reads)
            remoteEphemeral = X25519.PublicKey(bytes: try readKey(&reader))
            remoteEphemeral.bytes.withUnsafeBytes { symmetric.mixHash($0) }
            try mixDH(ephemeral, remoteEphemeral)
            remoteStatic = X25519.PublicKey(bytes: try decryptKey(&reader, &scratch))
            try mixDH(ephemeral, remoteStatic)
            try readPayload(&reader, &scratch)
        default:  // -> s, se (responder reads)
            remoteStatic = X25519.PublicKey(bytes: try decryptKey(&reader, &scratch))
            try mixDH(ephemeral, remoteStatic)
            try readPayload(&reader, &scratch)
        }
        scratch.wipe()
        step += 1
    }

    /// After the third message: the transport session, with the channel binding values for pairing.
    public mutating func finish() -> NoiseSession? {
        guard isComplete, let remoteIdentity else { return nil }
        let (initiatorToResponder, responderToInitiator) = symmetric.split()
        let exporter = SymmetricKey(bytes: HMACSHA256(key: symmetric.chainingKey).finalizing(NoiseSession.exporterLabel.rawBytes))
        let session = NoiseSession(
            send: NoiseCipher(key: role == .initiator ? initiatorToResponder : responderToInitiator),
            receive: NoiseCipher(key: role == .initiator ? responderToInitiator : initiatorToResponder),
            handshakeHash: symmetric.hash, exporter: exporter, remoteIdentity: remoteIdentity)
        wipe()
        return session
    }

    public mutating func wipe() {
        symmetric.wipe()
        ephemeral.wipe()
        staticKey.wipe()
    }

    // MARK: Pieces

    private func write(_ key: FixedBytes<32>, _ writer: inout ByteWriter) throws(NoiseError) {
        do { try writer.write(key) } catch { throw .bufferTooSmall }
    }

    private mutating func encryptAndHash(_ plaintext: UnsafeRawBufferPointer, _ writer: inout ByteWriter) throws(NoiseError) {
        let available = UnsafeMutableRawBufferPointer(rebasing: writer.buffer[writer.count...])
        let n = try symmetric.encryptAndHash(plaintext, into: available)
        do { _ = try writer.reserve(n) } catch { throw .bufferTooSmall }
    }

    private mutating func mixDH(_ secret: X25519.SecretKey, _ peer: X25519.PublicKey) throws(NoiseError) {
        var shared: SymmetricKey
        do { shared = try X25519.sharedSecret(secret, peer) } catch { throw .weakKey }
        symmetric.mixKey(shared)
        shared.wipe()
    }

    private func readKey(_ reader: inout ByteReader) throws(NoiseError) -> FixedBytes<32> {
        do { return try reader.readFixed() } catch { throw .malformedMessage }
    }

    /// Reads an encrypted static key (32 + 16 bytes).
    private mutating func decryptKey(_ reader: inout ByteReader, _ scratch: inout FixedBytes<256>) throws(NoiseError) -> FixedBytes<32> {
        let sealed: UnsafeRawBufferPointer
        do { sealed = try reader.readSlice(32 + ChaChaPoly.tagLength) } catch { throw .malformedMessage }
        return try scratch.withUnsafeMutableBytes { (raw) throws(NoiseError) -> FixedBytes<32> in
            let n = try symmetric.decryptAndHash(sealed, into: raw)
            guard n == 32, let key = FixedBytes<32>(copying: UnsafeRawBufferPointer(rebasing: raw[0..<32])) else { throw .malformedMessage }
            return key
        }
    }

    private mutating func writePayload(_ writer: inout ByteWriter) throws(NoiseError) {
        var payload = FixedBytes<128>()
        let length = payload.withUnsafeMutableBytes { raw in
            NoisePayload.encode(identity: identity, staticKey: testingSignsForeignStaticKey ? ephemeral.publicKey : staticKey.publicKey, into: raw)
        }
        guard let length else { throw .bufferTooSmall }
        try payload.withUnsafeBytes { (raw) throws(NoiseError) in try encryptAndHash(UnsafeRawBufferPointer(rebasing: raw[0..<length]), &writer) }
    }

    private mutating func readPayload(_ reader: inout ByteReader, _ scratch: inout FixedBytes<256>) throws(NoiseError) {
        let sealed: UnsafeRawBufferPointer
        do { sealed = try reader.readSlice(reader.remaining) } catch { throw .malformedMessage }
        guard sealed.count >= ChaChaPoly.tagLength, sealed.count - ChaChaPoly.tagLength <= 256 else { throw .invalidPayload }
        let staticKey = remoteStatic
        remoteIdentity = try scratch.withUnsafeMutableBytes { (raw) throws(NoiseError) -> Ed25519.PublicKey in
            let n = try symmetric.decryptAndHash(sealed, into: raw)
            return try NoisePayload.verify(UnsafeRawBufferPointer(rebasing: raw[0..<n]), staticKey: staticKey)
        }
    }
}

/// An established Noise channel: one cipher each way, plus what pairing binds to.
public struct NoiseSession {
    /// Label of the exporter secret (Docs/PROTOCOL.md §1): `x = HMAC(ck, "sd-pair/v1/exporter")`.
    static let exporterLabel: StaticString = "sd-pair/v1/exporter"
    /// The largest plaintext in one transport message (65535 minus the 16-byte tag).
    public static let maxPlaintext = 65535 - ChaChaPoly.tagLength

    var send: NoiseCipher
    var receive: NoiseCipher
    public let handshakeHash: FixedBytes<32>
    public let exporter: SymmetricKey
    public let remoteIdentity: Ed25519.PublicKey

    /// Encrypts one transport message; `out` must hold `plaintext.count + 16` bytes. Returns that length.
    public mutating func encrypt(_ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(NoiseError) -> Int {
        guard plaintext.count <= Self.maxPlaintext else { throw .bufferTooSmall }
        let length = plaintext.count + ChaChaPoly.tagLength
        guard out.count >= length else { throw .bufferTooSmall }
        try send.encrypt(ad: UnsafeRawBufferPointer(start: nil, count: 0), plaintext, into: UnsafeMutableRawBufferPointer(rebasing: out[0..<length]))
        return length
    }

    /// Decrypts one transport message into `out`; returns the plaintext length.
    public mutating func decrypt(_ ciphertext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(NoiseError) -> Int {
        guard ciphertext.count >= ChaChaPoly.tagLength else { throw .malformedMessage }
        let length = ciphertext.count - ChaChaPoly.tagLength
        guard out.count >= length else { throw .bufferTooSmall }
        try receive.decrypt(ad: UnsafeRawBufferPointer(start: nil, count: 0), ciphertext, into: UnsafeMutableRawBufferPointer(rebasing: out[0..<length]))
        return length
    }

    public mutating func wipe() {
        send.wipe()
        receive.wipe()
    }
}

extension StaticString {
    var rawBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: utf8Start, count: utf8CodeUnitCount) }
}
