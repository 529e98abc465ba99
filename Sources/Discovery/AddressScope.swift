import CSupport
import Transport
import Wire

/// Where an address can be reached from. The DHT advertisement lists LAN addresses for a joiner on the same network
/// and public ones for everybody; a joiner elsewhere must not dial the LAN ones (they lead nowhere, or into its own
/// network, and providers send abuse notices for dials to private ranges learned from public records).
public enum AddressScope: Equatable {
    case loopback
    /// RFC 1918, 100.64/10 (carrier-grade NAT), 169.254/16, fc00::/7, fe80::/10, the unspecified address.
    case local
    case global

    public static func of(_ host: Multiaddr.Host) -> AddressScope {
        switch host {
        case .ip4(let b):
            if b[0] == 127 { return .loopback }
            if b[0] == 10 || b[0] == 0 || (b[0] == 172 && b[1] & 0xF0 == 16) || (b[0] == 192 && b[1] == 168)
                || (b[0] == 100 && b[1] & 0xC0 == 64) || (b[0] == 169 && b[1] == 254) { return .local }
            return .global
        case .ip6(let b):
            var zeros = 0
            for i in 0..<15 where b[i] == 0 { zeros += 1 }
            if zeros == 15 && b[15] == 1 { return .loopback }
            if zeros == 15 && b[15] == 0 { return .local }
            if b[0] & 0xFE == 0xFC || (b[0] == 0xFE && b[1] & 0xC0 == 0x80) { return .local }
            return .global
        }
    }

    /// Worth dialling from here: global and loopback addresses always; a local one only when one of this host's
    /// interfaces is on its network (same prefix).
    public static func isDialable(_ host: Multiaddr.Host) -> Bool {
        switch of(host) {
        case .global, .loopback: return true
        case .local: return onLocalNetwork(host)
        }
    }

    /// One of this host's interfaces (up) is on the network of `host`; true for the host's own addresses.
    public static func onLocalNetwork(_ host: Multiaddr.Host) -> Bool {
        switch host {
        case .ip4(let b): return b.withUnsafeBytes { sd_on_local_network($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 4) } == 1
        case .ip6(let b): return b.withUnsafeBytes { sd_on_local_network($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 6) } == 1
        }
    }
}
