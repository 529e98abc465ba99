import CSupport
import Crypto
import Discovery
import EventLoop
import Pairing
import Transport
import Wire

/// The initiator's reachability from other networks: a port mapping while a window is open (PortMapper), the
/// address it yields at the head of the DHT advertisement, and one line that says whether a device elsewhere can
/// dial this one, and if not, why.
extension Node {
    /// A window opened: map a port first when it can help (a DHT path, a listener that is not loopback only), then
    /// publish; otherwise publish at once.
    func advertiseOnDHT(_ window: InitiatorWindow<SystemRandom>, now: UInt64) {
        guard dhtSettings != nil else { return }
        if portMapping, portMapper == nil, let port = mappablePort {
            if let direct = advertisedAddresses().first(where: { AddressScope.of($0.host) == .global }) {
                sayReachability("reachable from outside at " + direct.text + " (an address of this host)")
            } else {
                let remaining = window.deadline.milliseconds > now ? (window.deadline.milliseconds - now) / 1000 : 0
                portMapper = PortMapper(port: port, leaseSeconds: UInt32(min(remaining + 60, 3600)), now: now)
                if portMapper == nil {
                    sayReachability("not reachable from outside: no IPv4 default gateway to ask for a port mapping")
                }
            }
        }
        if portMapper != nil {
            publishAfterMapping = true
        } else {
            dhtPublish(window, now: now)
        }
    }

    /// The port of a listener that a router could forward to (wildcard or a non-loopback address), if any.
    var mappablePort: UInt16? {
        listening.first { AddressScope.of($0.host) != .loopback }?.port
    }

    /// Called from tick: publish once the mapping has an answer either way.
    func portMappingTick(_ now: UInt64) {
        guard let mapper = portMapper else { return }
        mapper.tick(now)
        guard publishAfterMapping, mapper.decided else { return }
        sayReachability(mapper.line)
        publishAfterMapping = false
        if case .serve(let window?, _) = task { dhtPublish(window, now: now) }
    }

    /// The mapped address, first: a joiner elsewhere dials it; one on this LAN finds the LAN addresses too.
    var mappedAddress: Multiaddr? { portMapper?.mapped }

    /// Once per verdict: a daemon opening window after window says it again only when it changes.
    func sayReachability(_ line: String) {
        guard !line.utf8.elementsEqual(lastReachability.utf8) else { return }
        lastReachability = line
        log(line)
    }

    func releasePortMapping(_ now: UInt64) {
        portMapper?.release(now: now)
        portMapper = nil
        publishAfterMapping = false
    }
}
