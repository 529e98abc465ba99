import CSupport

/// One network interface of this host with its addresses, as `sd_interfaces` reads them: what `doctor` checks and
/// what the joiner's failure summary names as the interfaces mDNS browsed.
public struct NetworkInterface {
    public var name: String
    public var isUp: Bool
    public var canMulticast: Bool
    public var isLoopback: Bool
    /// An address that is not link-local.
    public var hasRoutableAddress: Bool
    /// Its addresses as text, space-separated (IPv4 first, as getifaddrs lists them).
    public var addresses: String

    /// Up, multicast, not loopback: an interface mDNS works on.
    public var carriesMDNS: Bool { isUp && canMulticast && !isLoopback }

    /// The host's interfaces that have an address (16 at most).
    public static func all() -> [NetworkInterface] {
        var raw = [CChar](repeating: 0, count: 160 * 16)
        let n = raw.withUnsafeMutableBufferPointer { sd_interfaces($0.baseAddress, 16) }
        var out: [NetworkInterface] = []
        for k in 0..<max(0, Int(n)) {
            let flags = UInt8(bitPattern: raw[160 * k + 16])
            out.append(raw.withUnsafeBufferPointer { b in
                NetworkInterface(
                    name: String(cString: b.baseAddress! + 160 * k), isUp: flags & 1 != 0, canMulticast: flags & 2 != 0, isLoopback: flags & 4 != 0,
                    hasRoutableAddress: flags & 8 != 0, addresses: String(cString: b.baseAddress! + 160 * k + 17))
            })
        }
        return out
    }
}
