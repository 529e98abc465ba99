import CSodium
import Wire

/// HMAC-SHA256 with a key of any length (libsodium's `crypto_auth_hmacsha256_*`), streaming so that callers can
/// MAC several fields without concatenating them into a heap buffer first.
public struct HMACSHA256 {
    public typealias Tag = FixedBytes<32>

    private var state = crypto_auth_hmacsha256_state()

    public init(key: UnsafeRawBufferPointer) {
        crypto_auth_hmacsha256_init(&state, key.bytes, key.count)
    }

    public init(key: SymmetricKey) {
        self = key.withUnsafeBytes { HMACSHA256(key: $0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        crypto_auth_hmacsha256_update(&state, bytes.bytes, UInt64(bytes.count))
    }

    public mutating func update<let n: Int>(_ bytes: FixedBytes<n>) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ label: StaticString) {
        update(UnsafeRawBufferPointer(start: label.utf8Start, count: label.utf8CodeUnitCount))
    }

    /// Produces the tag and wipes the keyed state.
    public consuming func finalize() -> Tag {
        var out = Tag()
        out.withUnsafeMutableBytes { raw in
            _ = crypto_auth_hmacsha256_final(&state, raw.bytes)
        }
        withUnsafeMutableBytes(of: &state) { Sodium.wipe($0) }
        return out
    }

    public static func authenticate(key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> Tag {
        var mac = HMACSHA256(key: key)
        mac.update(message)
        return mac.finalize()
    }
}
