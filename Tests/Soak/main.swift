// sd-pair-soak: drives a running `sd-pair serve` through many pairing windows, one real pairing each, and watches
// the daemon's memory and file descriptors (Benchmarks/soak.sh starts the daemon under a memory cap and runs this).
//
//   sd-pair-soak <agent multiaddr> <agent state dir> <agent pid> <windows> <joiner state dir>
//
// Each window: `invite` over the daemon's control socket, the code it answers, a pairing by the embeddable API
// (SDPair.PairingAgent, in this process: no process start per window), then the daemon's "paired" line. RSS
// (VmRSS) and open fds of the daemon are sampled after the first 100 windows (the warm state) and at the end.
// Prints one summary line; exit 1 if any window failed, RSS grew more than 64 KiB or fds grew at all.
import Foundation
import SDPair

#if canImport(Glibc)
import Glibc
#endif

func say(_ line: String) {
    let text = Array(("soak: " + line + "\n").utf8)
    _ = text.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

func residentKiB(_ pid: Int32) -> Int {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
}

func openFDs(_ pid: Int32) -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count }

/// The daemon at rest: the last joiner's connection closes a moment after the pairing, so take the smallest of a few
/// samples 50 ms apart (a leak shows in every sample).
func settled(_ pid: Int32) -> (rss: Int, fds: Int) {
    var best = (rss: Int.max, fds: Int.max)
    for _ in 0..<6 {
        best = (min(best.rss, residentKiB(pid)), min(best.fds, openFDs(pid)))
        usleep(50_000)
    }
    return best
}

/// Asks for a window; returns the control connection and the code.
func openWindow(_ path: String) -> (fd: Int32, code: String)? {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = b } }
    var tv = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
    guard ok == 0 else {
        close(fd)
        return nil
    }
    _ = Array("invite\n".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var text = ""
    for _ in 0..<10 where !text.contains("expires ") {
        var chunk = [UInt8](repeating: 0, count: 512)
        let r = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if r <= 0 { break }
        text += String(decoding: chunk[0..<r], as: UTF8.self)
    }
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("code ") }) else {
        close(fd)
        return nil
    }
    return (fd, String(line.dropFirst(5)))
}

/// The rest of what the daemon says about the window, until it closes the connection (bounded by the timeout).
func closing(_ fd: Int32) -> String {
    var text = ""
    for _ in 0..<10 {
        var chunk = [UInt8](repeating: 0, count: 512)
        let r = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if r <= 0 { break }
        text += String(decoding: chunk[0..<r], as: UTF8.self)
    }
    close(fd)
    return text
}

let args = CommandLine.arguments
guard args.count == 6, let pid = Int32(args[3]), let windows = Int(args[4]), windows >= 1 else {
    say("usage: sd-pair-soak <agent multiaddr> <agent state dir> <agent pid> <windows> <joiner state dir>")
    exit(2)
}
let (address, control, joinerState) = (args[1], args[2] + "/control", args[5])
var configuration = PairingConfiguration(stateDirectory: joinerState)
configuration.deviceName = "Soak Joiner"
configuration.mdns = false
let joiner: PairingAgent
do { joiner = try PairingAgent(configuration) } catch {
    say("cannot set up the joiner: \(error)")
    exit(2)
}

let warm = min(100, windows)
var failures = 0
var durations: [Double] = []
durations.reserveCapacity(windows)
var (rssWarm, fdsWarm) = (0, 0)
var rssMax = 0
let started = Date()
for window in 1...windows {
    let t0 = Date()
    guard let (fd, code) = openWindow(control) else {
        failures += 1
        say("window \(window): the daemon opened no window")
        if failures > 10 { break }
        continue
    }
    let result = (try? joiner.startPairingAsJoiner(code: code, peer: address) { _ in }) ?? .failed(reason: "bad code")
    let end = closing(fd)
    guard case .paired = result, end.hasPrefix("paired ") else {
        failures += 1
        say("window \(window): \(result); daemon said: \(end)")
        if failures > 10 { break }
        continue
    }
    durations.append(Date().timeIntervalSince(t0) * 1000)
    if window == warm { (rssWarm, fdsWarm) = settled(pid) }
    if window % 100 == 0 { rssMax = max(rssMax, residentKiB(pid)) }
}
let (rssEnd, fdsEnd) = settled(pid)
rssMax = max(rssMax, rssEnd)
let sorted = durations.sorted()
let mean = durations.isEmpty ? 0 : durations.reduce(0, +) / Double(durations.count)
let p99 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
say(String(
    format: "%d windows, %d paired, %d failed in %.0f s; per pairing mean %.1f ms, p99 %.1f ms; daemon RSS %d KiB after %d windows, %d KiB at the end (%+d KiB, max %d); fds %d → %d",
    windows, durations.count, failures, Date().timeIntervalSince(started), mean, p99, rssWarm, warm, rssEnd, rssEnd - rssWarm, rssMax,
    fdsWarm, fdsEnd))
let ok = failures == 0 && rssEnd - rssWarm <= 64 && fdsEnd == fdsWarm
if !ok { say("FAILED: goals are 0 failures, RSS growth ≤ 64 KiB, fds flat") }
exit(ok ? 0 : 1)
