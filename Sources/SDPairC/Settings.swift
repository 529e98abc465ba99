import Agent
import Discovery
import Pairing
import SDPair

/// sd_pair_new's `settings`: the configuration file's syntax and checks (`ConfigText`), for the keys that concern
/// one pairing. The daemon's own keys (display, events, window-at-start, state-dir) are refused by name: a program
/// that embeds the agent shows the code and follows the events itself.
enum Settings {
    /// Applies `text` to `c`; returns what is wrong ("line N: …"), or nil.
    static func apply(_ text: String, to c: inout PairingConfiguration) -> String? {
        var text = text
        let parsed = text.withUTF8 { ConfigText.parse(UnsafeRawBufferPointer($0)) }
        let entries: [ConfigText.Entry]
        switch parsed {
        case .failure(let p): return "settings line " + String(p.line) + ": " + p.message
        case .success(let e): entries = e
        }
        var listen: [String] = []
        var noDHT = false
        for entry in entries {
            let key = ConfigText.text(ConfigText.keys[entry.key].name)
            let value = entry.value
            switch key {
            case "name": c.deviceName = value
            case "device-type": c.deviceType = [DeviceType.desktop, .laptop, .mobile, .server, .other].first { $0.name == value } ?? .other
            case "listen": listen.append(value)
            case "expiry": c.expirySeconds = UInt32(value)!  // ConfigText checked the range
            case "max-attempts": c.maxFailedAttempts = Int(value)!
            case "handshake-timeout": c.handshakeTimeoutSeconds = Int(value)!
            case "no-mdns": c.mdns = value != "true"
            case "no-dht": noDHT = value == "true"
            case "no-port-mapping": c.portMapping = value != "true"
            case "dht-bootstrap": c.dhtBootstrap.append(value)
            case "dht-protocol": c.dhtProtocol = value
            case "dht-records": c.dhtRecords = value == "sd-pair" ? .sdPair : .ipns
            case "relay": c.relays.append(value)
            case "code": c.codeMode = value == "short" ? .short : .words
            default: return "settings line " + String(entry.line) + ": " + key + " is for the sd-pair daemon, not the library"
            }
        }
        if !listen.isEmpty { c.listen = listen }
        if noDHT { c.dhtBootstrap = [] }
        return nil
    }
}
