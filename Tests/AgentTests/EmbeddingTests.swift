import Foundation
import SDPair
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The step-wise embedding API: a C program (Tests/Embed/embed.c) with its own poll() loop, linked against
/// libsdpair.so (the host build and the Embedded one) through sd_pair.h, pairs with the `sd-pair` command in both
/// roles; a Swift loop of this test's own steps a `PairingSession`. Real TCP on loopback, the real registry files;
/// nothing is mocked. (The aarch64 library under qemu: ARMTests.)
final class EmbeddingTests: AgentTestCase {
    /// The libraries under test: the host build `swift build` made beside the test binaries, and the Embedded build
    /// (no Swift runtime: what a board gets) when Scripts/test made it, which CI requires.
    func libraries() throws -> [URL] {
        let hostLibrary = host.deletingLastPathComponent().appendingPathComponent("libsdpair.so")
        guard FileManager.default.fileExists(atPath: hostLibrary.path) else {
            XCTFail("no " + hostLibrary.path + ": `swift build --build-tests` builds every product, the library too")
            throw CocoaError(.fileNoSuchFile)
        }
        if let path = ProcessInfo.processInfo.environment["SDPAIR_EMBEDDED_LIB"], !path.isEmpty {
            return [hostLibrary, URL(fileURLWithPath: path)]
        }
        if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail("SDPAIR_EMBEDDED_LIB is not set; run through Scripts/test") }
        return [hostLibrary]
    }

    static var root: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    /// Builds embed.c against `library` (linked by its directory, found there at run time).
    func embedProgram(_ library: URL) throws -> URL {
        let directory = library.deletingLastPathComponent().path
        let output = URL(fileURLWithPath: stateDirectory() + "-embed")
        directories.append(output)
        let cc = try Spawned(URL(fileURLWithPath: "/usr/bin/cc"), [
            "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-I", Self.root.appendingPathComponent("Sources/SDPairC/include").path,
            Self.root.appendingPathComponent("Tests/Embed/embed.c").path, "-L", directory, "-lsdpair", "-Wl,-rpath," + directory,
            "-o", output.path,
        ])
        XCTAssertEqual(cc.wait(seconds: 60), 0, cc.stderr)
        return output
    }

    static let localOnly = "listen = /ip4/127.0.0.1/tcp/0;no-mdns = true;no-dht = true"

    func testACProgramWithItsOwnLoopPairsAsTheInitiator() throws {
        for library in try libraries() { try pairAsInitiator(try embedProgram(library)) }
    }

    func pairAsInitiator(_ program: URL) throws {
        let state = stateDirectory()
        let nas = try Spawned(program, ["initiator", state, "name = C NAS;" + Self.localOnly])
        defer { nas.stop() }
        guard let address = nas.line(startingWith: "LISTEN "), let code = nas.line(startingWith: "CODE: ") else {
            return XCTFail("the C program opened no window: " + nas.stdout + nas.stderr)
        }
        XCTAssertEqual(code.split(separator: " ").count, 12, code)
        usleep(300_000)  // the window waits a moment: the program's own 20 ms timer must go on being served meanwhile
        let laptop = try Spawned(agent, ["join", code, "--peer", address, "--state-dir", stateDirectory(), "--name", "Laptop"])
        XCTAssertEqual(laptop.wait(), 0, laptop.stderr)
        XCTAssertEqual(nas.wait(), 0, nas.stdout + nas.stderr)
        XCTAssertTrue(laptop.stdout.contains(" C NAS"), laptop.stdout)
        let events = nas.stdout.split(separator: "\n").filter { $0.hasPrefix("EVENT ") }
        XCTAssertEqual(events.map { Self.name(of: $0) }, ["waiting", "challenge-sent", "completed"], nas.stdout)
        XCTAssertTrue(events.last?.contains("\"device_name\":\"Laptop\"") == true, nas.stdout)
        guard let paired = nas.line(startingWith: "PAIRED ") else { return XCTFail(nas.stdout) }
        XCTAssertEqual(try listed(state), [String(paired.prefix(36))], "recorded in the registry the command reads")
        XCTAssertTrue(nas.stdout.contains("RESULT 1 "), nas.stdout)
        // The program's own timer was served while the agent shared its loop.
        let ticks = nas.line(startingWith: "TICKS ").flatMap { Int($0) } ?? 0
        XCTAssertGreaterThan(ticks, 0, nas.stdout)
    }

    func testACProgramWithItsOwnLoopPairsAsTheJoiner() throws {
        for library in try libraries() { try pairAsJoiner(try embedProgram(library)) }
    }

    func pairAsJoiner(_ program: URL) throws {
        let box = try Spawned(agent, ["invite", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", stateDirectory(), "--name", "Box"])
        defer { box.stop() }
        guard let address = box.line(startingWith: "LISTEN "), let code = box.line(startingWith: "CODE: ") else {
            return XCTFail("invite did not start: " + box.stderr)
        }
        let state = stateDirectory()
        let phone = try Spawned(program, ["joiner", state, "name = C Phone;no-mdns = true", code.uppercased(), address])
        XCTAssertEqual(phone.wait(), 0, phone.stdout + phone.stderr)
        XCTAssertEqual(box.wait(), 0, box.stderr)
        XCTAssertEqual(
            phone.stdout.split(separator: "\n").filter { $0.hasPrefix("EVENT ") }.map { Self.name(of: $0) },
            ["connecting", "request-sent", "challenge-received", "completed"], phone.stdout)
        XCTAssertTrue(phone.stdout.contains("PAIRED ") && phone.stdout.contains(" Box\n"), phone.stdout)
        XCTAssertEqual(try listed(state).count, 1)
        XCTAssertTrue(box.stdout.contains(" C Phone"), box.stdout)

        // The window is closed now: the same code again fails, with the reason.
        let again = try Spawned(program, ["joiner", stateDirectory(), "no-mdns = true", code, address])
        XCTAssertEqual(again.wait(), 1, again.stdout + again.stderr)
        XCTAssertTrue(again.stdout.contains("RESULT 4 "), again.stdout)
    }

    /// A cancel from the program's own input ends the window; bad settings and a bad code are refused at once, by
    /// name, before anything listens.
    func testCancelAndRefusals() throws {
        for library in try libraries() { try cancelAndRefusals(try embedProgram(library)) }
    }

    func cancelAndRefusals(_ program: URL) throws {
        let nas = try Spawned(program, ["initiator", stateDirectory(), Self.localOnly], input: "cancel\n")
        XCTAssertEqual(nas.wait(), 3, nas.stdout + nas.stderr)
        XCTAssertTrue(nas.stdout.contains("RESULT 3 cancelled"), nas.stdout)

        let daemonKey = try Spawned(program, ["initiator", stateDirectory(), "display = /run/code"])
        XCTAssertEqual(daemonKey.wait(), 2)
        XCTAssertTrue(daemonKey.stderr.contains("settings line 1: display is for the sd-pair daemon, not the library"), daemonKey.stderr)
        let badValue = try Spawned(program, ["initiator", stateDirectory(), "name = x;expiry = 5"])
        XCTAssertEqual(badValue.wait(), 2)
        XCTAssertTrue(badValue.stderr.contains("settings line 2: expiry: must be a number from 60 to 600"), badValue.stderr)
        let badCode = try Spawned(program, ["joiner", stateDirectory(), "no-mdns = true", "abandon abandon", "/ip4/127.0.0.1/tcp/9"])
        XCTAssertEqual(badCode.wait(), 2)
        XCTAssertTrue(badCode.stderr.contains("start: -2: "), badCode.stderr)
    }

    /// The Swift face of the same API: this test's own poll() loop steps a joiner's `PairingSession`, and the
    /// initiator is the command.
    func testASwiftLoopStepsAPairingSession() throws {
        let box = try Spawned(agent, ["invite", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", stateDirectory(), "--name", "Box"])
        defer { box.stop() }
        guard let address = box.line(startingWith: "LISTEN "), let code = box.line(startingWith: "CODE: ") else {
            return XCTFail("invite did not start: " + box.stderr)
        }
        var c = PairingConfiguration(stateDirectory: stateDirectory())
        c.deviceName = "Swift Loop"
        c.mdns = false
        let agent = try PairingAgent(c)
        var names: [String] = []
        let session = try agent.beginPairingAsJoiner(code: code, peer: address) { names.append($0.name.description) }
        XCTAssertThrowsError(try agent.beginPairingAsJoiner(code: code, peer: address) { _ in }) {
            XCTAssertEqual($0 as? PairingAgentError, .busy, "one pairing at a time")
        }
        var result: PairingResult? = nil
        var turns = 0
        while result == nil && turns < 10_000 {
            turns += 1
            if let r = session.prepare(now: PairingSession.now()) { result = r; break }
            let fds = session.descriptors
            XCTAssertGreaterThan(fds.count, 0, "a running joiner waits on its connection")
            let now = PairingSession.now()
            _ = poll(fds.baseAddress, nfds_t(fds.count), Int32(session.deadline > now ? session.deadline - now : 0))
            result = session.step(now: PairingSession.now())
        }
        guard case .paired(_, let name)? = result else { return XCTFail("result: \(String(describing: result)) " + box.stderr) }
        XCTAssertEqual(name, "Box")
        XCTAssertEqual(names, ["connecting", "request-sent", "challenge-received", "completed"])
        XCTAssertEqual(box.wait(), 0, box.stderr)
        XCTAssertEqual(session.descriptors.count, 0, "a finished session closed its sockets")
        // The agent is free again once the session ended.
        XCTAssertNoThrow(try agent.beginPairingAsJoiner(code: code, peer: address) { _ in })
    }

    /// "No allocation in the caller's hot path": an initiator waiting in a C program's loop is stepped for 0.5 s
    /// and for 3 s (its own 20 ms timer wakes the loop: about 25 and 150 turns), then cancelled; the whole process
    /// allocates the same number of times either way (an LD_PRELOAD malloc counter, as `testNoHeapAllocationPerMessage`
    /// uses). The Embedded library, what a board gets; the host debug build of Swift allocates per turn.
    func testSteppingAllocatesNothing() throws {
        guard let path = ProcessInfo.processInfo.environment["SDPAIR_EMBEDDED_LIB"], !path.isEmpty else {
            if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail("SDPAIR_EMBEDDED_LIB is not set; run through Scripts/test") }
            throw XCTSkip("needs the Embedded library (Scripts/test)")
        }
        let program = try embedProgram(URL(fileURLWithPath: path))
        let counter = stateDirectory() + "-malloc_count.so"
        directories.append(URL(fileURLWithPath: counter))
        let cc = try Spawned(URL(fileURLWithPath: "/usr/bin/cc"), ["-shared", "-fPIC", "-O2", Self.root.appendingPathComponent("Tests/Support/malloc_count.c").path, "-o", counter])
        XCTAssertEqual(cc.wait(), 0, cc.stderr)
        func allocations(ticks: Int) throws -> (count: Int, ticks: Int) {
            let file = stateDirectory() + "-count"
            directories.append(URL(fileURLWithPath: file))
            let nas = try Spawned(program, ["initiator", stateDirectory(), Self.localOnly], environment: [
                "LD_PRELOAD": counter, "MALLOC_COUNT_FILE": file, "EMBED_CANCEL_AFTER_TICKS": String(ticks),
            ])
            XCTAssertEqual(nas.wait(), 3, "cancelled by its own timer: " + nas.stdout + nas.stderr)
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            let count = Int(text.replacingOccurrences(of: "malloc-count:", with: "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            return (count, nas.line(startingWith: "TICKS ").flatMap { Int($0) } ?? 0)
        }
        let short = try allocations(ticks: 25)
        let long = try allocations(ticks: 150)
        print("allocations of a C program's whole run: \(short.count) over \(short.ticks) timer turns, \(long.count) over \(long.ticks)")
        XCTAssertGreaterThan(short.count, 0, "the counter works")
        XCTAssertGreaterThanOrEqual(long.ticks, 150)
        XCTAssertEqual(long.count, short.count, "125 more turns of prepare, poll and step must not allocate")
    }

    /// The ctypes example in Docs/ARCHITECTURE.md, run as written (doc_snippet.py swaps in this run's paths), pairs.
    func testThePythonExampleInTheDocsPairs() throws {
        let box = try Spawned(agent, ["invite", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", stateDirectory(), "--name", "Box"])
        defer { box.stop() }
        guard let address = box.line(startingWith: "LISTEN "), let code = box.line(startingWith: "CODE: ") else {
            return XCTFail("invite did not start: " + box.stderr)
        }
        let python = try Spawned(URL(fileURLWithPath: "/usr/bin/python3"), [
            Self.root.appendingPathComponent("Tests/Embed/doc_snippet.py").path, Self.root.appendingPathComponent("Docs/ARCHITECTURE.md").path,
            try libraries().last!.path, stateDirectory(), code, address,
        ])
        XCTAssertEqual(python.wait(), 0, python.stderr)
        XCTAssertTrue(python.stdout.hasSuffix(" Box\n"), "the example prints the paired device: " + python.stdout)
        XCTAssertEqual(box.wait(), 0, box.stderr)
        XCTAssertTrue(box.stdout.contains(" Doc Example"), box.stdout)
    }

    static func name(of line: Substring) -> String {
        guard let r = line.range(of: "\"event\":\"") else { return "" }
        return String(line[r.upperBound...].prefix { $0 != "\"" })
    }
}
