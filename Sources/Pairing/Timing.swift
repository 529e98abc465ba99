/// A point on the monotonic clock, in milliseconds. The state machines never read a clock: callers pass `now`.
public struct Instant: Comparable, Sendable {
    public var milliseconds: UInt64
    public init(milliseconds: UInt64) { self.milliseconds = milliseconds }

    public func adding(seconds: UInt32) -> Instant { Instant(milliseconds: milliseconds &+ UInt64(seconds) * 1000) }

    public static func < (a: Instant, b: Instant) -> Bool { a.milliseconds < b.milliseconds }
}

/// How long a code lives and how many wrong attempts it survives.
public struct WindowPolicy: Equatable, Sendable {
    /// The seed's 5–10 minutes, widened at the low end for tests and quick re-pairing; default 5 minutes.
    public static let expiryRange: ClosedRange<UInt32> = 60...600
    public static let defaultExpirySeconds: UInt32 = 300
    public static let attemptRange: ClosedRange<Int> = 1...100
    public static let defaultMaxFailedAttempts = 5

    public let expirySeconds: UInt32
    public let maxFailedAttempts: Int

    public enum Error: Swift.Error, Equatable, Sendable {
        case expiryOutOfRange(UInt32)
        case attemptsOutOfRange(Int)
    }

    public init(
        expirySeconds: UInt32 = WindowPolicy.defaultExpirySeconds,
        maxFailedAttempts: Int = WindowPolicy.defaultMaxFailedAttempts
    ) throws(Error) {
        guard Self.expiryRange.contains(expirySeconds) else { throw .expiryOutOfRange(expirySeconds) }
        guard Self.attemptRange.contains(maxFailedAttempts) else { throw .attemptsOutOfRange(maxFailedAttempts) }
        self.expirySeconds = expirySeconds
        self.maxFailedAttempts = maxFailedAttempts
    }

    /// The defaults, which are in range by construction.
    public static var standard: WindowPolicy {
        // Defaults lie inside the ranges above, so this cannot fail.
        (try? WindowPolicy()) ?? WindowPolicy(unchecked: defaultExpirySeconds, defaultMaxFailedAttempts)
    }

    private init(unchecked expiry: UInt32, _ attempts: Int) {
        expirySeconds = expiry
        maxFailedAttempts = attempts
    }
}

/// A device that completed pairing, as the local side records it.
public struct PairedPeer: Sendable {
    public var deviceInfo: DeviceInfo
    /// The peer's Ed25519 identity (authenticated by Noise and, for a joiner, by its challenge signature).
    public var publicKey: Ed25519.PublicKey
    public var sessionKeys: SessionKeys
}

import Crypto
