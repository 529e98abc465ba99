// swift-tools-version:6.1
// sd-pair: a headless device-pairing agent for small Linux boards.
//
// Layers (one direction of dependency, see Docs/PROTOCOL.md and DESIGN):
//   CSodium, CSupport  C module maps / shims (libsodium, the few libc calls the CLI needs)
//   Wire               sans-IO byte primitives: readers/writers over caller buffers, uvarint, hex, fixed containers
//   Crypto             the Swift face of libsodium: fixed-size key types, no arrays
//   Pairing            sans-IO pairing protocol: BIP39 code, derivations, messages, initiator/joiner state machines
//   Transport          libp2p on the wire: multistream-select, Noise XX, yamux, peer ids, multiaddrs
//   EventLoop          poll(), sockets, clocks, signals
//   Discovery          mDNS through avahi-daemon (our AvahiPoll), the Kademlia client, sealed advertisements
//   Registry, Agent    the device registry; the agent's node (connections, streams, pairing, discovery)
//   sd-pair            the command-line agent
// Wire, Crypto, Pairing and sd-pair also build as Embedded Swift (cross/build-embedded.sh).
import PackageDescription

let package = Package(
    name: "sd-pair",
    products: [
        .executable(name: "sd-pair", targets: ["sd-pair"]),
        .library(name: "SDPairCore", targets: ["Wire", "Crypto", "Pairing", "Transport"]),
        // The agent for a vendor's own Swift daemon: startPairingAsInitiator / startPairingAsJoiner with a callback.
        .library(name: "SDPair", targets: ["SDPair"]),
        // The same agent for C (and anything with a C FFI): libsdpair.so with Sources/SDPairC/include/sd_pair.h.
        .library(name: "sdpair", type: .dynamic, targets: ["SDPairC"]),
    ],
    targets: [
        .systemLibrary(name: "CSodium", path: "Sources/CSodium"),
        .target(name: "CSupport", path: "Sources/CSupport"),
        .target(name: "Wire", path: "Sources/Wire"),
        .target(
            name: "Crypto", dependencies: ["CSodium", "CSupport", "Wire"], path: "Sources/Crypto",
            linkerSettings: [.linkedLibrary("sodium")]),
        .target(name: "Pairing", dependencies: ["Crypto", "Wire", "CSupport"], path: "Sources/Pairing"),
        .target(name: "Transport", dependencies: ["Crypto", "Wire"], path: "Sources/Transport"),
        .target(name: "EventLoop", dependencies: ["CSupport"], path: "Sources/EventLoop"),
        .systemLibrary(name: "CAvahi", path: "Sources/CAvahi"),
        .target(
            name: "Discovery", dependencies: ["CAvahi", "CSupport", "EventLoop", "Pairing", "Transport", "Crypto", "Wire"], path: "Sources/Discovery",
            linkerSettings: [.linkedLibrary("avahi-client"), .linkedLibrary("avahi-common"), .linkedLibrary("sodium")]),
        .target(
            name: "Registry", dependencies: ["Pairing", "Crypto", "Wire", "CSupport"], path: "Sources/Registry",
            linkerSettings: [.linkedLibrary("sodium")]),
        .target(
            name: "Agent", dependencies: ["Discovery", "Pairing", "Transport", "EventLoop", "Registry", "Crypto", "Wire", "CSupport"], path: "Sources/Agent",
            linkerSettings: [.linkedLibrary("sodium")]),
        .target(
            name: "SDPair", dependencies: ["Agent", "Discovery", "Registry", "Pairing", "Transport", "EventLoop", "Crypto", "CSupport"], path: "Sources/SDPair",
            linkerSettings: [.linkedLibrary("sodium")]),
        .target(
            name: "SDPairC", dependencies: ["SDPair", "Agent", "Discovery", "Pairing", "Crypto", "Wire", "CSupport"], path: "Sources/SDPairC",
            exclude: ["include", "exports.map"], linkerSettings: [.linkedLibrary("sodium")]),
        .executableTarget(
            name: "sd-pair", dependencies: ["Agent", "Registry", "Pairing", "Transport", "EventLoop", "Crypto", "Wire", "CSupport"], path: "Sources/sd-pair",
            linkerSettings: [.linkedLibrary("sodium")]),
        .executableTarget(
            name: "pairing-bench", dependencies: ["Pairing", "Crypto", "Wire", "CSodium", "CSupport"],
            path: "Benchmarks/PairingBench", linkerSettings: [.linkedLibrary("sodium")]),
        .target(name: "TestSupport", dependencies: ["Wire", "Crypto", "Transport"], path: "Tests/TestSupport"),
        .executableTarget(
            name: "connection-bench", dependencies: ["Agent", "Transport", "EventLoop", "Crypto", "CSupport"],
            path: "Benchmarks/ConnectionBench", linkerSettings: [.linkedLibrary("sodium")]),
        // Every decoder behind one entry point: a replay tool in normal builds, a libFuzzer target with -D FUZZING
        // (Scripts/fuzz). Seed corpora and past crash inputs live beside it.
        .executableTarget(
            name: "sd-pair-fuzz", dependencies: ["Agent", "Discovery", "Registry", "Pairing", "Transport", "Crypto", "Wire"],
            path: "Tests/Fuzz", exclude: ["corpus", "regressions", "capture_py_seeds.py"], linkerSettings: [.linkedLibrary("sodium")]),
        // A hostile peer against a running `sd-pair serve` (HostilePeerTests; usable by hand against a board).
        .executableTarget(
            name: "sd-pair-hostile", dependencies: ["Pairing", "Transport", "Crypto", "Wire", "TestSupport"], path: "Tests/Hostile",
            linkerSettings: [.linkedLibrary("sodium")]),
        // Drives `serve` through many pairing windows for the soak (Benchmarks/soak.sh, SoakTests).
        .executableTarget(name: "sd-pair-soak", dependencies: ["SDPair"], path: "Tests/Soak"),
        .testTarget(name: "WireTests", dependencies: ["Wire"], path: "Tests/WireTests"),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto", "Wire", "TestSupport"], path: "Tests/CryptoTests"),
        .testTarget(name: "PairingTests", dependencies: ["Pairing", "Crypto", "Wire", "TestSupport"], path: "Tests/PairingTests"),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "Crypto", "Wire", "TestSupport"], path: "Tests/TransportTests"),
        .testTarget(
            name: "AgentTests", dependencies: ["SDPair", "Agent", "Registry", "Transport", "Crypto", "Wire", "sd-pair", "sd-pair-fuzz", "sd-pair-hostile", "sd-pair-soak", "TestSupport"],
            path: "Tests/AgentTests"),
        .testTarget(name: "DiscoveryTests", dependencies: ["Discovery", "Transport", "Pairing", "Crypto", "Wire"], path: "Tests/DiscoveryTests"),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "Pairing", "Crypto", "Wire"], path: "Tests/RegistryTests"),
        .testTarget(name: "CLITests", dependencies: ["sd-pair"], path: "Tests/CLITests"),
        // The deterministic simulator: many nodes over a simulated network with a virtual clock, from a seed.
        .testTarget(
            name: "SimulationTests", dependencies: ["Agent", "Discovery", "EventLoop", "CSodium", "Pairing", "Transport", "Crypto", "Wire"], path: "Tests/SimulationTests",
            exclude: ["regression-seeds.txt"]),
    ]
)
