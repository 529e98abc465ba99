#if !FUZZING
import Crypto
import Discovery
import Foundation
import Pairing
import Registry
import Transport
import Wire

/// `sd-pair-fuzz --seeds <dir>`: writes the seed inputs that our own encoders make (a whole pairing's four messages,
/// a registry file, advertisements, TXT records, control lines, typed codes). The seeds that come from py-libp2p
/// are captured by Tests/Fuzz/capture_py_seeds.py; both land in Tests/Fuzz/corpus/<target>/.
enum Seeds {
    static func write(to directory: String) throws {
        var files: [(String, String, [UInt8])] = []
        func add(_ target: FuzzTarget, _ name: String, _ bytes: [UInt8]) { files.append((target.name, name, bytes)) }

        // One real exchange between a window and a session (the agent's own state machines), message by message.
        var random = CountingRandom()
        let code = PairingCode(entropy: FixedBytes<16>(repeating: 0x42))
        let initiatorKeys = Ed25519.KeyPair.generate(using: &random)
        let joinerKeys = Ed25519.KeyPair.generate(using: &random)
        let nas = try DeviceInfo.make(deviceID: DeviceID(bytes: FixedBytes<16>(repeating: 1)), name: "Seed NAS", type: .server, osVersion: "Linux 6.1", appVersion: "0.1.0")
        let laptop = try DeviceInfo.make(deviceID: DeviceID(bytes: FixedBytes<16>(repeating: 2)), name: "Seed Laptop", type: .laptop, osVersion: "Linux 6.6", appVersion: "0.1.0")
        let policy = try WindowPolicy(expirySeconds: 300, maxFailedAttempts: 5)
        let now = Instant(milliseconds: 1000)
        let hash = FixedBytes<32>(repeating: 3)
        let exporter = SymmetricKey(bytes: FixedBytes<32>(repeating: 4))
        var window = InitiatorWindow(code: code, localDevice: nas, policy: policy, now: now, random: random)
        var session = JoinerSession(code: code, identity: joinerKeys, localDevice: laptop, policy: policy, now: now)
        var handshake = InitiatorHandshake(binding: ChannelBinding(handshakeHash: hash, exporter: exporter, remoteIdentity: joinerKeys.publicKey))
        _ = session.connecting(now: now)
        var messages: [PairingMessage] = []
        if let request = session.connected(binding: ChannelBinding(handshakeHash: hash, exporter: exporter, remoteIdentity: initiatorKeys.publicKey), now: now).reply {
            messages.append(request)
            let challengeStep = window.receive(request, on: &handshake, now: now)
            if let challenge = challengeStep.reply {
                messages.append(challenge)
                let responseStep = session.receive(challenge, now: now)
                if let response = responseStep.reply {
                    messages.append(response)
                    let completeStep = window.receive(response, on: &handshake, now: now)
                    if let complete = completeStep.reply { messages.append(complete) }
                    if case .paired(let peer)? = completeStep.event {
                        var devices = [PairedDevice(peer: peer, pairedAt: 1_795_589_307)]
                        var other = devices[0]
                        other.deviceID = DeviceID(bytes: FixedBytes<16>(repeating: 9))
                        devices.append(other)
                        for count in [0, 1, 2] {
                            var out = [UInt8](repeating: 0, count: RegistryCodec.fileLength(count: count))
                            _ = out.withUnsafeMutableBytes { RegistryCodec.encode(Array(devices.prefix(count)), into: $0) }
                            add(.registry, "devices-\(count)", out)
                        }
                    }
                }
            }
        }
        for (i, message) in messages.enumerated() {
            var body = [UInt8](repeating: 0, count: 1024)
            let n = body.withUnsafeMutableBytes { raw -> Int in
                var w = ByteWriter(raw)
                do { try MessageCodec.encode(message, into: &w) } catch { return 0 }
                return w.count
            }
            add(.pairing, "message-\(i)", Array(body[0..<n]))
            var framed = [UInt8](repeating: 0, count: 1100)
            let f = framed.withUnsafeMutableBytes { MessageFrame.encoded(message, into: $0)?.count ?? 0 }
            add(.pairing, "framed-\(i)", Array(framed[0..<f]))
        }
        guard messages.count == 4 else { throw CocoaError(.featureUnsupported) }
        // The short mode's first message (a CPace share), both ways it can go: a valid element and garbage.
        for (name, fill) in [("share-valid", UInt8(0)), ("share-junk", UInt8(0xFF))] {
            var share = FixedBytes<32>(repeating: fill)
            if fill == 0 { share = CPace.share(FixedBytes<32>(repeating: 5), generator: CPace.generator(password: UnsafeRawBufferPointer(start: nil, count: 0), channel: UnsafeRawBufferPointer(start: nil, count: 0), session: UnsafeRawBufferPointer(start: nil, count: 0))) }
            var body = [UInt8](repeating: 0, count: 64)
            let n = body.withUnsafeMutableBytes { raw -> Int in
                var w = ByteWriter(raw)
                do { try MessageCodec.encode(.share(PakeShare(sessionID: SessionID(bytes: FixedBytes(repeating: 1)), share: share)), into: &w) } catch { return 0 }
                return w.count
            }
            add(.pairing, name, Array(body[0..<n]))
        }

        // Advertisements: sealed under the key and record key the advert target uses, and their plaintext.
        let peer = PeerID(publicKey: initiatorKeys.publicKey)
        let key = SymmetricKey(bytes: FixedBytes<32>(repeating: 7))
        let recordKey = "/sd-pair/00000000000000000000000000000000"
        for addresses: [Multiaddr] in [[], [Multiaddr(host: .ip4(FixedBytes<4>([192, 168, 1, 20])!), port: 4001)],
                          [Multiaddr(host: .ip4(FixedBytes<4>([10, 0, 0, 2])!), port: 4001), Multiaddr(host: .ip6(FixedBytes<16>(repeating: 0xfe)), port: 4001)]] {
            var sealed = [UInt8](repeating: 0, count: Advertisement.maxSealedLength)
            var aad = Array(recordKey.utf8) + [UInt8](repeating: 0, count: 8)
            let n = sealed.withUnsafeMutableBytes { s in
                aad.withUnsafeBytes { Advertisement(peer: peer, device: nas, addresses: addresses, expires: 1_800_000_000).seal(key: key, aad: $0, random: &random, into: s) ?? 0 }
            }
            add(.advert, "sealed-\(addresses.count)", Array(sealed[0..<n]))
            var plain = [UInt8](repeating: 0, count: n - 12 - ChaChaPoly.tagLength)
            var nonce = ChaChaPoly.Nonce()
            for i in 0..<12 { nonce[i] = sealed[i] }
            try sealed.withUnsafeBytes { s in
                try aad.withUnsafeMutableBytes { a in
                    try plain.withUnsafeMutableBytes { p in
                        try ChaChaPoly.open(key: key, nonce: nonce, associatedData: UnsafeRawBufferPointer(a), ciphertext: UnsafeRawBufferPointer(rebasing: s[12..<n]), into: p)
                    }
                }
            }
            add(.advert, "plaintext-\(addresses.count)", plain)
        }

        // IPNS records signed with the key the ipns target verifies against, their data, timestamps.
        let ipnsKeys = Ed25519.KeyPair(seed: FixedBytes<32>(repeating: 9))
        for (i, payload) in [[UInt8](), [UInt8](repeating: 0x5A, count: 600)].enumerated() {
            var record = [UInt8](repeating: 0, count: IPNSRecord.ownMaxLength)
            let n = record.withUnsafeMutableBytes { out in
                payload.withUnsafeBytes {
                    IPNSRecord.encode(keys: ipnsKeys, sequence: UInt64(i), endOfLife: 1_800_000_000, ttlNanoseconds: 60_000_000_000, application: $0, into: out) ?? 0
                }
            }
            add(.ipns, "record-\(i)", Array(record[0..<n]))
        }
        add(.ipns, "time", Array("2027-01-15T08:00:00Z".utf8))
        add(.ipns, "time-fraction", Array("2123-08-14T12:17:03.694052Z".utf8))

        // NAT-PMP answers (public address; a TCP mapping) and upnpc's output, as the lab's miniupnpd gives them.
        // Our identify answer (what py-libp2p parses in the interop test), and one without an observed address.
        for (name, observed) in [("answer", Optional(Multiaddr(host: .ip4(FixedBytes<4>([51, 20, 0, 2])!), port: 40123))), ("no-observed", nil)] {
            var list = InlineArray<4, StaticString>(repeating: Identify.protocolID)
            list[1] = "/ipfs/ping/1.0.0"
            var answer = [UInt8](repeating: 0, count: 1024)
            let n = answer.withUnsafeMutableBytes {
                Identify.answer(publicKey: initiatorKeys.publicKey,
                                observed: observed, protocols: list, protocolCount: 2, into: $0) ?? 0
            }
            add(.identify, name, Array(answer[0..<n]))
        }
        // Circuit relay: what we send (reserve, connect, our stop answer); capture_py_seeds.py adds what py-libp2p's
        // relay sends.
        var relayMessage = [UInt8](repeating: 0, count: 64)
        var n = relayMessage.withUnsafeMutableBytes { CircuitRelay.reserve(into: $0) ?? 0 }
        add(.relay, "reserve", Array(relayMessage[0..<n]))
        n = relayMessage.withUnsafeMutableBytes { CircuitRelay.connect(to: PeerID(publicKey: initiatorKeys.publicKey), into: $0) ?? 0 }
        add(.relay, "connect", Array(relayMessage[0..<n]))
        n = relayMessage.withUnsafeMutableBytes { CircuitRelay.stopStatus(.ok, into: $0) ?? 0 }
        add(.relay, "stop-ok", Array(relayMessage[0..<n]))
        add(.portmap, "natpmp-address", [0x00, 0x80, 0, 0, 0, 0, 0x1d, 0x16, 51, 20, 0, 2])
        add(.portmap, "natpmp-map", [0x00, 0x82, 0, 0, 0, 0, 0x1d, 0x16, 0x0f, 0xa1, 0x0f, 0xa1, 0, 0, 0, 120])
        add(.portmap, "natpmp-network-failure", [0x00, 0x80, 0, 3, 0, 0, 0x1d, 0x1a, 0, 0, 0, 0])
        add(.portmap, "upnpc-mapped", Array("""
            upnpc : miniupnpc library test client, version 2.2.4.
            Found valid IGD : http://192.168.10.1:33023/ctl/IPConn
            Local LAN ip address : 192.168.10.2
            ExternalIPAddress = 51.20.0.2
            InternalIP:Port = 192.168.10.2:4001
            external 51.20.0.2:4001 TCP is redirected to internal 192.168.10.2:4001 (duration=120)

            """.utf8))
        add(.portmap, "upnpc-not-connected", Array("No valid UPNP Internet Gateway Device found.\nFound a (not connected?) IGD : http://192.168.10.1:38259/ctl/IPConn\n".utf8))

        // TXT records as the txt target reads them: length-prefixed entries.
        let text = ServiceText(sessionID: window.sessionID, peer: peer, hosts: [.ip4(FixedBytes<4>([192, 168, 1, 20])!), .ip6(FixedBytes<16>(repeating: 0xfd))])
        func txt(_ entries: [String]) -> [UInt8] { entries.flatMap { [UInt8]([UInt8($0.utf8.count)]) + Array($0.utf8) } }
        add(.txt, "valid", txt(Array(text.entries.prefix(2))))
        add(.txt, "with-addresses", txt(text.entries))
        // Names as they come from the network: plain, non-ASCII, and the review's hostile ones (C1 CSI, bidi override,
        // zero-width, bad UTF-8).
        add(.text, "plain", Array("NAS-A".utf8))
        add(.text, "unicode", Array("Wohnzimmer-NAS ü 客厅 📦".utf8))
        add(.text, "c1-bidi", Array("Evil".utf8) + [0xC2, 0x9B] + Array("2J ".utf8) + [0xE2, 0x80, 0xAE] + Array("evil".utf8))
        add(.text, "zero-width-bom", [0xEF, 0xBB, 0xBF, 0x61, 0xE2, 0x80, 0x8B, 0x62])
        add(.text, "bad-utf8", [0x61, 0xC0, 0x80, 0xED, 0xA0, 0x80, 0xF4, 0x90, 0x80, 0x80, 0xE2, 0x80])
        add(.txt, "extra-keys", txt(["v=1", text.entries[1], "x", text.entries[0], "ip=not-an-address"]))
        add(.txt, "no-sid", txt([text.entries[1]]))

        for line in ["invite\n", "status\r\n", "code legal winner thank year wave sausage worth useful legal winner thank yellow",
                     "expires 300", "paired 7b004fae-ea16-2292-bbb3-2e5324662df7 Demo Laptop", "closed pairing code expired", "status open 299"] {
            add(.control, "line-\(line.utf8.count)", Array(line.utf8))
        }
        for (i, typed) in ["legal winner thank year wave sausage worth useful legal winner thank yellow",
                           "LEGA WINN THAN YEAR WAVE SAUS WORT USEF LEGA WINN THAN YELL", code.words, "  abandon   abandon abandon ",
                           "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
                           // Short codes (issue 19): dashed, bare, spaced, a typo, one digit short.
                           "5724-0000-0000", "572400000000", "572 4000 0000 0", "5724-0000-0001", "57240000000"].enumerated() {
            add(.bip39, "typed-\(i)", Array(typed.utf8))
        }
        add(.peerid, "text", Array(peer.text.utf8))
        add(.peerid, "binary", peer.bytes.withUnsafeBytes { Array($0) })
        for address in ["/ip4/127.0.0.1/tcp/4001/p2p/" + peer.text, "/ip6/fe80::1/tcp/4001", "/ip4/0.0.0.0/tcp/0"] {
            let m = try Multiaddr(text: address)
            var out = [UInt8](repeating: 0, count: 256)
            let n = out.withUnsafeMutableBytes { raw -> Int in
                var w = ByteWriter(raw)
                do { try m.encode(into: &w) } catch { return 0 }
                return w.count
            }
            add(.multiaddr, "binary-\(files.count)", Array(out[0..<n]))
            add(.multiaddr, "text-\(files.count)", Array(address.utf8))
        }

        // DCUtR: our CONNECT (with and without an address) and SYNC (last: the seeds above are numbered by position).
        let board = Multiaddr(host: .ip4(FixedBytes<4>([51, 20, 0, 2])!), port: 40_123)
        for (name, kind, address) in [("connect", HolePunch.Kind.connect, Optional(board)), ("connect-no-address", .connect, nil), ("sync", .sync, nil)] {
            var out = [UInt8](repeating: 0, count: 64)
            let n = out.withUnsafeMutableBytes { HolePunch.write(kind, address, into: $0) ?? 0 }
            add(.holepunch, name, Array(out[0..<n]))
        }

        for (target, name, bytes) in files {
            let dir = directory + "/" + target
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        print("wrote \(files.count) seeds under \(directory)")
    }
}
#endif
