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
        publishAfterMapping = false
        if case .serve(let window?, _) = task { dhtPublish(window, now: now) }
        if dht == nil { sayReachabilityAfterLookup() }
    }

    /// The DHT lookup is done (the peers it asked said where they see us), or there is none: say whether devices
    /// elsewhere can reach the board, with the mapping's verdict and, when they tell more, the peers' reports.
    func sayReachabilityAfterLookup() {
        let seen = observedAddresses.confirmed
        var line: String
        if let mapper = portMapper, mapper.decided {
            line = mapper.line
            if let mapped = mapper.mapped {
                if let seen, seen != mapped.host {
                    line += "; but peers on the internet see this board at " + Multiaddr(host: seen, port: 0).hostText
                        + ": another NAT in front of the router may stop devices elsewhere"
                }
                return sayReachability(line)
            }
            if observedAdvertised == nil {
                return sayReachability(line + (relay.candidates[0] != nil && needsRelay ? "; asking a relay to carry connections from elsewhere"
                    : "; only devices on this network can pair with it"))
            }
            line += "; "
        } else {
            guard !portMapping else { return }
            line = ""
        }
        // No mapping: the peers' report, advertised with the listening port for a router that forwards it.
        guard let guess = observedAdvertised else { return }
        sayReachability(line + "peers on the internet see this network at " + guess.hostText + ", advertised as " + guess.text + " for a router that forwards the port")
    }

    /// Without a mapping: the public address peers agree on, with our listening port, which works when the owner
    /// forwarded that port on the router by hand (what the unreachable line advises). Not an address of this host's
    /// own network (a board with a public address of its own advertises that already).
    var observedAdvertised: Multiaddr? {
        guard mappedAddress == nil, let host = observedAddresses.confirmed, let port = mappablePort, !AddressScope.onLocalNetwork(host) else { return nil }
        return Multiaddr(host: host, port: port)
    }

    /// The mapped address, first: a joiner elsewhere dials it; one on this LAN finds the LAN addresses too.
    var mappedAddress: Multiaddr? { portMapper?.mapped }

    /// The addresses to advertise ahead of the listeners' own: a mapping, else a public address peers report.
    var publicAddresses: [Multiaddr] {
        if let m = mappedAddress { return [m] }
        return observedAdvertised.map { [$0] } ?? []
    }

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
