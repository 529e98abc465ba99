import Crypto
import Wire
import TestSupport
import XCTest

@testable import Pairing

/// A reproducible RandomSource (xorshift64*): tests need repeatable challenges, not secrecy.
struct SeededRandom: RandomSource {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: next() >> 32) }
    }
}

func device(_ name: String, id: UInt8, type: DeviceType = .server) -> DeviceInfo {
    try! DeviceInfo.make(
        deviceID: DeviceID(bytes: FixedBytes(repeating: id)), name: name, type: type, osVersion: "Debian 12", appVersion: "0.1.0")
}

func encode(_ message: PairingMessage) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: 1024)
    let n = buffer.withUnsafeMutableBytes { raw in
        var w = ByteWriter(raw)
        try! MessageCodec.encode(message, into: &w)
        return w.count
    }
    return Array(buffer.prefix(n))
}

func decode(_ bytes: [UInt8]) -> Result<PairingMessage, MessageDecodeError> {
    bytes.withUnsafeBytes { raw in Result { () throws(MessageDecodeError) in try MessageCodec.decode(raw) } }
}

/// Two parties and one simulated Noise channel between them.
struct Fixture {
    var code: PairingCode
    var initiatorKeys: Ed25519.KeyPair
    var joinerKeys: Ed25519.KeyPair
    var handshakeHash: FixedBytes<32>
    var exporter: SymmetricKey
    let nas = device("NAS", id: 0xA1)
    let laptop = device("Laptop", id: 0xB2, type: .laptop)
    let policy = WindowPolicy.standard
    let t0 = Instant(milliseconds: 1_000)

    init(seed: UInt64 = 1) {
        var rng = SeededRandom(seed: seed)
        code = PairingCode.generate(using: &rng)
        initiatorKeys = Ed25519.KeyPair.generate(using: &rng)
        joinerKeys = Ed25519.KeyPair.generate(using: &rng)
        handshakeHash = rng.bytes()
        exporter = SymmetricKey.random(using: &rng)
    }

    func window(policy: WindowPolicy? = nil) -> InitiatorWindow<SeededRandom> {
        InitiatorWindow(code: code, localDevice: nas, policy: policy ?? self.policy, now: t0, random: SeededRandom(seed: 99))
    }

    func joiner(code: PairingCode? = nil, keys: Ed25519.KeyPair? = nil) -> JoinerSession {
        JoinerSession(code: code ?? self.code, identity: keys ?? joinerKeys, localDevice: laptop, policy: policy, now: t0)
    }

    /// The initiator's view of a channel to `joinerIdentity`.
    func handshake(joinerIdentity: Ed25519.PublicKey? = nil, hash: FixedBytes<32>? = nil) -> InitiatorHandshake {
        InitiatorHandshake(
            binding: ChannelBinding(
                handshakeHash: hash ?? handshakeHash, exporter: exporter, remoteIdentity: joinerIdentity ?? joinerKeys.publicKey))
    }

    /// The joiner's view of the same channel.
    func joinerBinding(hash: FixedBytes<32>? = nil, initiatorIdentity: Ed25519.PublicKey? = nil) -> ChannelBinding {
        ChannelBinding(handshakeHash: hash ?? handshakeHash, exporter: exporter, remoteIdentity: initiatorIdentity ?? initiatorKeys.publicKey)
    }

    func wrongCode() -> PairingCode {
        var e = code.entropy
        e[0] ^= 0x01
        return PairingCode(entropy: e)
    }
}

extension PairingMessage {
    var asComplete: Complete? {
        if case .complete(let c) = self { return c }
        return nil
    }
}
