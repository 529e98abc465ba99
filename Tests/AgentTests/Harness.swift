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

    init(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        out.fileHandleForReading.readabilityHandler = { [weak self] h in self?.append(h.availableData, toError: false) }
        err.fileHandleForReading.readabilityHandler = { [weak self] h in self?.append(h.availableData, toError: true) }
        try process.run()
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

    deinit { stop() }
}

/// A blocking TCP client on loopback with timeouts, for hostile-peer tests.
final class RawClient {
    let fd: Int32

    init?(port: UInt16, timeoutSeconds: Int = 5) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if ok != 0 {
            close(fd)
            return nil
        }
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
class DiscoveryTestCase: XCTestCase {
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
    var agent: URL {
        if let path = ProcessInfo.processInfo.environment["SDPAIR_EMBEDDED_BIN"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return host
    }
}
