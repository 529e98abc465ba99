import Wire

/// NAT-PMP (RFC 6886): asks the home router, over UDP port 5351 on the default gateway, for its public address and
/// for a TCP port mapping to our listener. Sans-IO: the driver sends what `datagram(now:)` returns, hands back
/// what arrives, and wakes at `deadline`.
///
///     public address:  request 00 00                 → response 00 80 result(2) epoch(4) address(4)
///     map TCP:         request 00 02 0000 internal(2) external(2) lifetime(4)
///                                                    → response 00 82 result(2) epoch(4) internal(2) external(2) lifetime(4)
///
/// A lifetime of 0 deletes the mapping. Requests are retried after 250 ms, doubling (§3.1); we give up after four
/// tries (3.75 s): a router that speaks NAT-PMP answers on the LAN within milliseconds.
public struct NATPMPClient {
    public enum Phase: Equatable {
        case askingAddress, mapping, mapped, deleting, finished
        case failed(NATPMPFailure)
    }

    public private(set) var phase: Phase = .askingAddress
    public let internalPort: UInt16
    public private(set) var publicAddress = FixedBytes<4>()
    public private(set) var externalPort: UInt16 = 0
    /// When to send next (a retry, or the renewal of a mapping), monotonic milliseconds.
    public private(set) var deadline: UInt64
    let requestedLifetime: UInt32
    var tries = 0

    static let firstRetryMilliseconds: UInt64 = 250
    static let maxTries = 4

    public init(internalPort: UInt16, lifetimeSeconds: UInt32, now: UInt64) {
        self.internalPort = internalPort
        requestedLifetime = lifetimeSeconds
        deadline = now
    }

    /// The datagram to send now (and arms the next retry), or nil when nothing is due.
    public mutating func datagram(now: UInt64, into out: inout FixedBytes<12>) -> Int? {
        guard now >= deadline else { return nil }
        switch phase {
        case .askingAddress, .mapping, .deleting:
            if tries == Self.maxTries {
                phase = phase == .deleting ? .finished : .failed(.noAnswer)
                return nil
            }
        case .mapped:
            // Renew at half the granted lifetime (RFC 6886 §3.3), as a fresh request.
            phase = .mapping
            tries = 0
        case .finished, .failed:
            return nil
        }
        deadline = now + (Self.firstRetryMilliseconds << UInt64(tries))
        tries += 1
        out = FixedBytes<12>()
        if phase == .askingAddress { return 2 }  // 00 00
        out[1] = 2  // map TCP
        out[4] = UInt8(internalPort >> 8); out[5] = UInt8(internalPort & 0xFF)
        let lifetime = phase == .deleting ? 0 : requestedLifetime
        let suggested = phase == .deleting ? 0 : (externalPort != 0 ? externalPort : internalPort)
        out[6] = UInt8(suggested >> 8); out[7] = UInt8(suggested & 0xFF)
        for k in 0..<4 { out[8 + k] = UInt8(truncatingIfNeeded: lifetime >> UInt32(24 - 8 * k)) }
        return 12
    }

    /// A datagram from the gateway. Malformed or unexpected ones are ignored (a retry follows).
    public mutating func receive(_ bytes: UnsafeRawBufferPointer, now: UInt64) {
        guard bytes.count >= 8, bytes[0] == 0 else { return }
        let result = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        switch (phase, bytes[1]) {
        case (.askingAddress, 0x80):
            guard result == 0 else { return fail(result) }
            guard bytes.count >= 12 else { return }
            for k in 0..<4 { publicAddress[k] = bytes[8 + k] }
            phase = .mapping
            tries = 0
            deadline = now
        case (.mapping, 0x82), (.deleting, 0x82):
            guard bytes.count >= 16, UInt16(bytes[8]) << 8 | UInt16(bytes[9]) == internalPort else { return }
            if phase == .deleting {
                phase = .finished
                return
            }
            guard result == 0 else { return fail(result) }
            externalPort = UInt16(bytes[10]) << 8 | UInt16(bytes[11])
            var lifetime: UInt32 = 0
            for k in 0..<4 { lifetime = lifetime << 8 | UInt32(bytes[12 + k]) }
            guard externalPort != 0, lifetime > 0 else { return fail(2) }
            phase = .mapped
            deadline = now + UInt64(lifetime) * 500  // half the granted lifetime, in milliseconds
        default:
            return
        }
    }

    /// Nothing listens on the gateway's port 5351 (an ICMP port unreachable reported on the connected socket).
    public mutating func refused() {
        if phase == .deleting { phase = .finished } else if phase == .askingAddress || phase == .mapping { phase = .failed(.noAnswer) }
    }

    /// The window closed: delete the mapping (if there is one).
    public mutating func release(now: UInt64) {
        guard phase == .mapped || phase == .mapping else {
            if phase == .askingAddress { phase = .finished }
            return
        }
        phase = .deleting
        tries = 0
        deadline = now
    }

    private mutating func fail(_ result: UInt16) {
        phase = .failed(result == 3 ? .noPublicAddress : .refused(result))
    }
}

public enum NATPMPFailure: Equatable, Sendable {
    /// No answer to four tries, or nothing listens on port 5351.
    case noAnswer
    /// Result 3, "network failure": the router has no usable public address of its own (miniupnpd also says so
    /// when its WAN address is private: double NAT or carrier-grade NAT).
    case noPublicAddress
    /// Any other result code (unsupported version, not authorized, out of resources, unsupported opcode).
    case refused(UInt16)
}
