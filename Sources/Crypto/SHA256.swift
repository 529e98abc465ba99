import CSodium
import Wire

/// SHA-256 (one-shot and streaming).
public struct SHA256 {
    public typealias Digest = FixedBytes<32>

    private var state = crypto_hash_sha256_state()

    public init() { crypto_hash_sha256_init(&state) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        crypto_hash_sha256_update(&state, bytes.bytes, UInt64(bytes.count))
    }

    public consuming func finalize() -> Digest {
        var out = Digest()
        out.withUnsafeMutableBytes { raw in
            _ = crypto_hash_sha256_final(&state, raw.bytes)
        }
        return out
    }

    public static func hash(_ bytes: UnsafeRawBufferPointer) -> Digest {
        var out = Digest()
        out.withUnsafeMutableBytes { raw in
            _ = crypto_hash_sha256(
                raw.bytes,
                bytes.bytes, UInt64(bytes.count))
        }
        return out
    }
}
