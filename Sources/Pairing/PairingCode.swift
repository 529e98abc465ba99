import Crypto
import Wire

/// The 12-word code a person reads off one device and types into the other: 128 bits of entropy plus the
/// BIP39 4-bit SHA-256 checksum, as 12 indices of 11 bits into the BIP39 English wordlist.
///
/// The entropy is the root secret of a pairing window; wipe the code when the window ends.
public struct PairingCode: Sendable {
    public static let entropyLength = 16
    public static let wordCount = 12

    public var entropy: FixedBytes<16>
    /// Set in the short-code mode (ShortCode): then `entropy` is unused (zero) and the code's secret is a PAKE
    /// password, not a key.
    public var short: ShortCode?

    public init(entropy: FixedBytes<16>) {
        self.entropy = entropy
        short = nil
    }

    public init(short: ShortCode) {
        entropy = FixedBytes()
        self.short = short
    }

    public var isShort: Bool { short != nil }

    public static func generate<R: RandomSource>(using rng: inout R) -> PairingCode {
        PairingCode(entropy: rng.bytes())
    }

    public mutating func wipe() {
        entropy.wipe()
        short?.wipe()
    }

    /// BIP39: the first entropy-bits/32 = 4 bits of SHA-256(entropy).
    static func checksum(of entropy: FixedBytes<16>) -> UInt8 {
        var digest = entropy.withUnsafeBytes { SHA256.hash($0) }
        defer { digest.wipe() }
        return digest[0] >> 4
    }

    /// The 12 word indices: the 132-bit string entropy ‖ checksum cut into 11-bit groups, most significant first.
    public var wordIndices: InlineArray<12, UInt16> {
        var out = InlineArray<12, UInt16>(repeating: 0)
        let check = Self.checksum(of: entropy)
        for word in 0..<Self.wordCount {
            var value: UInt16 = 0
            for bit in (word * 11)..<(word * 11 + 11) {
                let byte = bit / 8
                let set: Bool
                if byte < Self.entropyLength {
                    set = entropy[byte] & (0x80 >> UInt8(bit % 8)) != 0
                } else {
                    set = check & (0x08 >> UInt8(bit - 128)) != 0
                }
                value = value << 1 | (set ? 1 : 0)
            }
            out[word] = value
        }
        return out
    }

    /// The words separated by single spaces, or a short code's dashed digits (allocates; for display).
    public var words: String {
        var spelled = spelled
        defer { spelled.wipe() }
        return spelled.string
    }

    /// Reassembles entropy from 12 indices. Returns nil when the checksum bits do not match.
    static func fromIndices(_ indices: InlineArray<12, UInt16>) -> PairingCode? {
        var entropy = FixedBytes<16>()
        var check: UInt8 = 0
        for bit in 0..<132 {
            let index = indices[bit / 11]
            let set = index & (0x400 >> UInt16(bit % 11)) != 0
            guard set else { continue }
            if bit < 128 {
                entropy[bit / 8] |= 0x80 >> UInt8(bit % 8)
            } else {
                check |= 0x08 >> UInt8(bit - 128)
            }
        }
        guard check == checksum(of: entropy) else {
            entropy.wipe()
            return nil
        }
        return PairingCode(entropy: entropy)
    }
}
