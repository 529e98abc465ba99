import Crypto
import Transport
import Wire

/// What a libp2p dialer sends first: the multistream header, the /noise proposal, and Noise message 1 with its
/// 2-byte length — the valid opening that hostile-peer tests cut, stretch and corrupt.
public func libp2pFirstFlight() -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: 256)
    var n = buffer.withUnsafeMutableBytes { raw -> Int in
        var w = ByteWriter(raw)
        try! Multistream.write("/multistream/1.0.0", into: &w)
        try! Multistream.write("/noise", into: &w)
        return w.count
    }
    var rng = SystemRandom()
    var hs = NoiseHandshake(role: .initiator, identity: Ed25519.KeyPair.generate(using: &rng), random: &rng)
    let m = buffer.withUnsafeMutableBytes { raw in try! hs.writeMessage(into: UnsafeMutableRawBufferPointer(rebasing: raw[(n + 2)...])) }
    buffer[n] = UInt8(m >> 8)
    buffer[n + 1] = UInt8(m & 0xFF)
    n += 2 + m
    return Array(buffer.prefix(n))
}
