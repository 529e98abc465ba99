import Crypto
import Pairing
import Wire

/// Dispatches subcommands.
enum CommandLineTool {
    static let version = "0.1.0"

    /// Every subcommand and what runs it.
    static var commands: [(name: StaticString, run: (inout Arguments) -> Result<ExitCode, UsageError>)] {
        [
            ("code", CodeCommand.run), ("serve", NetworkCommands.serve), ("invite", NetworkCommands.invite),
            ("join", NetworkCommands.join), ("ping", NetworkCommands.ping), ("devices", RegistryCommands.devices),
            ("forget", RegistryCommands.forget), ("doctor", DoctorCommand.run),
        ] + notOnBoards
    }

    /// The in-memory demo and the crash test's writer stay out of the ARM builds (`-D SDPAIR_BOARD`,
    /// cross/build-arm.sh): ~10 KiB a board never runs. Host and x86_64 Embedded builds, which the tests run, keep them.
    static var notOnBoards: [(name: StaticString, run: (inout Arguments) -> Result<ExitCode, UsageError>)] {
        #if SDPAIR_BOARD
        []
        #else
        [("demo", DemoCommand.run), ("registry-test-writer", RegistryCommands.testWriter)]
        #endif
    }

    static func run(_ arguments: Arguments) -> ExitCode {
        var args = arguments
        guard let command = args.next() else {
            Output.error("no command given; try 'sd-pair --help'")
            return .usage
        }
        if command.isExactly("-h") || command.isExactly("--help") || command.isExactly("help") {
            Output.line(Help.text)
            return .success
        }
        if command.isExactly("--version") || command.isExactly("version") {
            Output.line("sd-pair " + version)
            return .success
        }
        do { try Sodium.initialize() } catch {
            Output.error("libsodium could not start (no entropy source?)")
            return .environment
        }
        guard let entry = Self.commands.first(where: { command.isExactly($0.name) }) else {
            Output.error("unknown command '" + command + "'" + Help.closest(command, among: commands.map { $0.name }) + "; try 'sd-pair --help'")
            return .usage
        }
        // `<command> --help` for every command, whatever parser it uses (a value that is "--help" would be odd).
        if args.words.dropFirst().contains(where: { $0.isExactly("--help") || $0.isExactly("-h") }) {
            Output.line(Help.section(command))
            return .success
        }
        let outcome = entry.run(&args)
        switch outcome {
        case .success(let code):
            return code
        case .failure(let usage):
            Output.error(usage.message)
            return .usage
        }
    }
}

enum Help {
    /// "; did you mean 'x'?" for the known word within two edits of `typed` (the closest), or nothing.
    static func closest(_ typed: String, among known: [StaticString]) -> String {
        var best: (StaticString, Int)? = nil
        var copy = typed
        copy.withUTF8 { t in
            for k in known {
                let d = EditDistance.optimalStringAlignment(UnsafeRawBufferPointer(t), UnsafeRawBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount), limit: 2)
                if d <= 2 && d < (best?.1 ?? 3) { best = (k, d) }
            }
        }
        return best.map { "; did you mean '" + Options.text($0.0) + "'?" } ?? ""
    }

    /// One command's part of `text`: its usage lines, and the common options for the commands that take them.
    /// Lines are indented 2 (a command, or the common options' heading) or more (their continuation).
    static func section(_ command: String) -> String {
        var out: [UInt8] = Array("Usage: sd-pair ".utf8)
        var name = command
        var all = text
        let takesCommon = command.isExactly("serve") || command.isExactly("invite") || command.isExactly("join") || command.isExactly("devices")
            || command.isExactly("forget")
        name.withUTF8 { c in
            all.withUTF8 { t in
                var keep = false
                var start = 0
                while start < t.count {
                    var end = start
                    while end < t.count && t[end] != 0x0A { end += 1 }
                    var indent = 0
                    while start + indent < end && t[start + indent] == 0x20 { indent += 1 }
                    if indent == 2 {
                        // The line's first word is the command (followed by a space or the line's end), or the heading.
                        let word = start + 2 + c.count
                        let same = word <= end && (word == end || t[word] == 0x20) && (0..<c.count).allSatisfy { t[start + 2 + $0] == c[$0] }
                        let common = takesCommon && t[start + 2] == UInt8(ascii: "C")
                        if common { out.append(0x0A) }
                        keep = same || common
                    } else if indent < 2 {
                        keep = false
                    }
                    if keep && indent >= 2 {
                        out += UnsafeBufferPointer(rebasing: t[(start + 2)..<end])
                        out.append(0x0A)
                    }
                    start = end + 1
                }
            }
        }
        return String(decoding: out, as: UTF8.self) + "\n(sd-pair --help shows every command; man sd-pair has more)"
    }

    static let text = """
        sd-pair: pair two devices with a 12-word code (BIP39) or a 12-digit one, for headless Linux boards.

        Usage: sd-pair <command> [options]

        Commands:
          code                      make a new pairing code and show it with its session id
          code --entropy <32 hex>   show the code for 16 bytes of entropy (first line: the words,
                                    second line: session_id: <uuid>)
          code --words "<words>"    check a typed code; prints entropy: <hex> (a short code: short
                                    code: <digits>) and session_id: <uuid>.
                                    Any case, extra spaces and 4-letter prefixes are accepted.
          demo [--expiry <s>]       run a complete pairing between two in-memory devices and show
                                    each message, the code and the derived keys' agreement (not in
                                    ARM board builds)
          invite [options]          show a new code and wait for a device to pair; prints CODE: and
                                    one LISTEN <multiaddr> line per address. With `serve` running on
                                    the same state directory, asks it for the window instead (over
                                    <state-dir>/control) and follows it; Ctrl-C closes it. Options:
                                      --listen <multiaddr>   where to listen (repeatable; default
                                                             /ip4/0.0.0.0 and /ip6/:: on one port)
                                      --expiry <s>           code lifetime, 60-600 (default 300)
                                      --max-attempts <n>     failed attempts before the code is
                                                             disabled, 1-100 (default 5)
                                      --short, --code short  a 12-digit code (1234-5678-9012) for
                                                             small displays, with a PAKE; found by
                                                             mDNS on this network only
                                      --handshake-timeout <s>  drop connections that have not
                                                             finished Noise+yamux, 1-120 (default 10;
                                                             join: also per step once connected)
          serve [options]           the long-running agent: opens a pairing window at start while no
                                    device is paired (--window-at-start auto|always|never), on
                                    SIGUSR1 and on `sd-pair invite`; takes the options of invite
          join [-|<words>|<digits>] [--peer <multiaddr>|<host:port>]
                                    pair with the device showing the code, found by mDNS and the
                                    DHT at once (a short code: mDNS), or only at --peer. Without a
                                    code it asks for it
                                    (- reads them from stdin): words in the command line are
                                    visible to other local users while it runs
          ping <multiaddr> [--count <n>]
                                    libp2p ping (/ipfs/ping/1.0.0), prints each round-trip time
          doctor [--json]           check what pairing needs here, read-only, in about 10 s at most:
                                    clock, state directory, identity and registry, serve, avahi-daemon,
                                    interfaces, firewall rules for mDNS and the listen port, the
                                    listen port, the DHT bootstrap peers; PASS, WARN or FAIL per line
                                    with the fix; exit 1 when a check fails. Takes --config,
                                    --state-dir, --listen, --dht-bootstrap, --no-mdns and --no-dht
          devices [--json]          list paired devices (id, type, name, OS, when)
          forget <id|name>          remove a paired device and its keys (the start of its id,
                                    4 characters at least, is enough)
          Common options of serve, invite, join, devices and forget:
            --config <path>         settings file (default /etc/sd-pair.conf, if present): lines of
                                    key = value, one key per option without "--" (listen, state-dir,
                                    name, device-type, expiry, max-attempts, handshake-timeout,
                                    display, display-cmd, display-format, code, qr, events,
                                    window-at-start, no-mdns, no-dht, no-port-mapping,
                                    dht-bootstrap, dht-protocol, dht-records, relay); flags win
            --state-dir <dir>       identity and registry (default /var/lib/sd-pair for root and
                                    the service, else ~/.local/state/sd-pair)
            --name <text>           this device's name (default: the host name)
            --device-type <t>       desktop, laptop, mobile, server or other
            --no-mdns, --no-dht     turn a discovery path off
            --dht-bootstrap <multiaddr/p2p/id>  a libp2p DHT peer to start from (repeatable)
            --dht-protocol <id>     the DHT's protocol id (default /ipfs/kad/1.0.0)
            --dht-records ipns|sd-pair  IPNS records (default; all the public IPFS DHT stores) or
                                    /sd-pair/<session> records (private DHTs)
            --no-port-mapping       (invite, serve) ask the router for no port forward (NAT-PMP, UPnP)
            --relay <multiaddr/p2p/id>  (invite, serve) a circuit relay v2 to ask first when no port can
                                    be mapped (repeatable, 4 at most; else relays among the DHT peers)
            --events json           one JSON line per state change (waiting, challenge-sent,
                                    attempt-failed, connecting, request-sent, challenge-received,
                                    completed, failed, expired, window-closed) on stdout, or with
                                    json:<fd> on a descriptor of its own (--events json:3 3>pipe)
            --display <path>        (invite, serve) also show the code there, 4 lines of 3 words
                                    (a console like /dev/tty1, or a file in a directory only this
                                    user can write; no links); cleared when the window closes
            --display-format <f>    words (default), lcd16x2 or lcd20x4: an LCD layout with the
                                    seconds left, the 12 words paged
            --display-cmd <cmd>     (invite, serve) run `sh -c <cmd>` when a code is shown and cleared,
                                    with SD_PAIR_ACTION=show|clear, SD_PAIR_CODE, SD_PAIR_CODE_DIGITS,
                                    SD_PAIR_CODE_MODE=words|short, SD_PAIR_EXPIRES_IN
            --qr                    (invite, serve) also draw the code as a QR code on stdout
                                    (needs libqrencode4 installed)
          help, --help              this text
          version, --version        the version

        Exit codes:
          0  success
          1  pairing failed (refused, expired)
          2  bad command line or bad pairing code (one line on stderr says why)
          3  unusable environment (libsodium, state directory, identity file, cannot listen)
          130  interrupted (SIGINT or SIGTERM)
        """
}
