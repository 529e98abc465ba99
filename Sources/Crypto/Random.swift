import CSodium

/// Where fresh randomness comes from. State machines take one as a generic parameter so that tests and
/// fuzzers can make runs reproducible; production code uses `SystemRandom`.
public protocol RandomSource {
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer)
}

/// The operating system's CSPRNG through libsodium's `randombytes_buf`.
public struct SystemRandom: RandomSource {
    public init() {}

    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        randombytes_buf(base, buffer.count)
    }
}

extension RandomSource {
    public mutating func bytes<let n: Int>(_: FixedBytes<n>.Type = FixedBytes<n>.self) -> FixedBytes<n> {
        var out = FixedBytes<n>()
        out.withUnsafeMutableBytes { fill($0) }
        return out
    }
}

import Wire
