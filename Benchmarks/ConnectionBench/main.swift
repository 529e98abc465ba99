import Agent
import CSupport
import Crypto
import EventLoop
import Transport

// Sequential loopback connection set-ups against a running sd-pair listener: each one is TCP connect, multistream
// /noise, Noise XX, multistream /yamux/1.0.0, a stream negotiated for /ipfs/ping/1.0.0 and one ping round trip.
//
//   connection-bench <listener multiaddr> [connections]
// Prints "connections/s: <rate>" last. Benchmarks/connection-setup.sh runs it beside py-libp2p doing the same.

func main() -> Int32 {
    guard sd_argc() >= 2, let text = sd_arg(1), let peer = try? Multiaddr(text: String(cString: text)) else {
        print("usage: connection-bench <listener multiaddr> [connections]")
        return 2
    }
    let connections = sd_argc() >= 3 ? Int(String(cString: sd_arg(2)!)) ?? 200 : 200
    do { try Sodium.initialize() } catch { return 3 }
    var rng = SystemRandom()
    let keys = Ed25519.KeyPair.generate(using: &rng)
    let start = MonotonicClock.nanoseconds()
    for n in 0..<connections {
        let node = Node(identity: keys, task: .ping(peer: peer, count: 1), say: { _ in }, log: { print($0) })
        guard node.run(signals: nil) == .pinged else {
            print("connection " + String(n) + " failed")
            return 1
        }
    }
    let elapsed = MonotonicClock.nanoseconds() - start
    let perSecond = UInt64(connections) * 1_000_000_000 / max(elapsed, 1)
    print("sd-pair: " + String(connections) + " connections in " + String(elapsed / 1_000_000) + " ms")
    print("connections/s: " + String(perSecond))
    return 0
}

exit(main())
