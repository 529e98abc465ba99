import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A process this test started; stopped by PID (never by name) when the test ends.
final class Spawned: @unchecked Sendable {  // its mutable state is guarded by `lock`
    let process = Process()
    private let out = Pipe()
    private let err = Pipe()
    private var outText = ""
    private var errText = ""
    private let lock = NSLock()

    /// `input`: written to the program's standard input, which is then closed (default: /dev/null).
    init(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = out
        process.standardError = err
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        out.fileHandleForReading.readabilityHandler = { [weak self] h in self?.append(h.availableData, toError: false) }
        err.fileHandleForReading.readabilityHandler = { [weak self] h in self?.append(h.availableData, toError: true) }
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
    }

    private func append(_ data: Data, toError: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if toError { errText += String(decoding: data, as: UTF8.self) } else { outText += String(decoding: data, as: UTF8.self) }
    }

    var stdout: String { lock.lock(); defer { lock.unlock() }; return outText }
    var stderr: String { lock.lock(); defer { lock.unlock() }; return errText }

    /// Waits (bounded) for a stdout line starting with `prefix`; returns the rest of the line.
    func line(startingWith prefix: String, within seconds: Double = 30) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                return String(line.dropFirst(prefix.count))
            }
            if !process.isRunning && stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) == nil { return nil }
            usleep(20_000)
        }
        return nil
    }

    /// Waits (bounded) until stderr contains `text` `count` times.
    func waitForLog(_ text: String, count: Int = 1, within seconds: Double = 15) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if stderr.components(separatedBy: text).count - 1 >= count { return true }
            usleep(20_000)
        }
        return false
    }

    /// Waits (bounded) for exit; returns the status, or nil after killing it on timeout.
    @discardableResult
    func wait(seconds: Double = 30) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            stop()
            return nil
        }
        usleep(50_000)  // let the pipe handlers take the last bytes
        return process.terminationStatus
    }

    func signal(_ sig: Int32) { if process.isRunning { kill(process.processIdentifier, sig) } }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The pipes' read ends close here: a handle with a readability handler stays open (its dispatch source holds it)
    /// until the handler is taken away. Left open, a suite's thousands of processes piled up hundreds of descriptors
    /// in the test process, and `Process.run` reads `/proc/self/fd` with a known over-read (swift-corelibs-foundation
    /// PR #5472, fixed after Swift 6.3.1) that crashes more often the longer that directory is.
    deinit {
        stop()
        for pipe in [out, err] {
            pipe.fileHandleForReading.readabilityHandler = nil
            try? pipe.fileHandleForReading.close()
        }
    }
}

/// A blocking client with a receive timeout, for hostile-peer and control-socket tests: TCP on loopback or a unix
/// stream socket.
final class RawClient {
    let fd: Int32

    init?(port: UInt16, timeoutSeconds: Int = 5) {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        guard let fd = Self.connected(family: AF_INET, to: &addr, timeoutSeconds: timeoutSeconds) else { return nil }
        self.fd = fd
    }

    init?(unixPath path: String, timeoutSeconds: Int = 5) {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &addr.sun_path) { for (i, b) in bytes.enumerated() { $0[i] = b } }
        guard let fd = Self.connected(family: AF_UNIX, to: &addr, timeoutSeconds: timeoutSeconds) else { return nil }
        self.fd = fd
    }

    private static func connected<A>(family: Int32, to addr: inout A, timeoutSeconds: Int) -> Int32? {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<A>.size)) }
        }
        if ok != 0 {
            close(fd)
            return nil
        }
        return fd
    }

    /// Everything until the peer closes (bounded by the receive timeout); nil if the timeout came first.
    func readToEnd(limit: Int = 4096) -> String? {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while out.count < limit {
            let r = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            // A reset after data: the peer closed with our unread junk still queued; what it said first counts.
            if r == 0 || (r < 0 && errno == ECONNRESET && !out.isEmpty) { return String(decoding: out, as: UTF8.self) }
            if r < 0 { return nil }
            out += chunk[0..<r]
        }
        return String(decoding: out, as: UTF8.self)
    }

    func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }

    /// Reads exactly n bytes, or nil on EOF/timeout.
    func read(_ n: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, n - got, 0) }
            if r <= 0 { return nil }
            got += r
        }
        return out
    }

    /// True once the peer has closed the connection (EOF or reset); false if the receive timeout passes first.
    func waitForClose() -> Bool {
        var byte: UInt8 = 0
        for _ in 0..<1000 {
            let r = recv(fd, &byte, 1, 0)
            if r == 0 { return true }
            if r < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
        }
        return false
    }

    deinit { close(fd) }
}

/// What the discovery test classes share: temporary state directories (removed after each test) and the binaries.
/// What every suite that runs the agent binary shares: temporary state directories (removed after each test) and
/// the binaries under test.
class AgentTestCase: XCTestCase {
    var directories: [URL] = []

    override func tearDown() {
        for d in directories { try? FileManager.default.removeItem(at: d) }
    }

    func stateDirectory() -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sd-pair-test-" + UUID().uuidString)
        directories.append(url)
        return url.path
    }

    var host: URL { Bundle.main.bundleURL.appendingPathComponent("sd-pair") }

    /// The Embedded build when Scripts/test provided it (mandatory in CI).
    var embedded: URL? {
        if let path = ProcessInfo.processInfo.environment["SDPAIR_EMBEDDED_BIN"], !path.isEmpty { return URL(fileURLWithPath: path) }
        if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail("SDPAIR_EMBEDDED_BIN is not set; run through Scripts/test") }
        return nil
    }

    /// The binary under test: the one that ships on boards when available.
    var agent: URL { embedded ?? host }

    /// The device ids in a state directory's registry (which must parse). A directory not made yet holds none (and
    /// `devices` rightly calls a missing --state-dir an error).
    /// Records `count` synthetic devices with the crash test's writer; returns the ids `devices` lists.
    func recordSynthetic(_ count: Int, in state: String, with binary: URL) throws -> [String] {
        let writer = try Spawned(binary, ["registry-test-writer", "--state-dir", state, "--count", String(count)])
        XCTAssertEqual(writer.wait(), 0, writer.stderr)
        let ids = try listed(state)
        XCTAssertEqual(ids.count, count)
        return ids
    }

    func listed(_ state: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: state) else { return [] }
        let p = try Spawned(host, ["devices", "--state-dir", state])
        XCTAssertEqual(p.wait(), 0, "the registry must always parse: " + p.stderr)
        return p.stdout.split(separator: "\n").filter { !$0.hasPrefix("no paired") }.map { String($0.split(separator: " ")[0]) }
    }
}
