import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A laptop's owner is not root: without --state-dir the agent keeps its identity and registry in the user's own
/// state directory ($XDG_STATE_HOME/sd-pair, else ~/.local/state/sd-pair), creating it and its parents private to
/// the user. Run as another user through setpriv, so the test needs root.
final class UserStateDirectoryTests: AgentTestCase {
    let nobody: uid_t = 65534

    /// A home directory that belongs to `nobody`.
    func home() throws -> String {
        let dir = stateDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        XCTAssertEqual(chown(dir, nobody, nobody), 0)
        XCTAssertEqual(chmod(dir, 0o700), 0)
        return dir
    }

    /// `invite` as `nobody` with this environment, until it shows a code (it has made its identity by then).
    func inviteAsNobody(_ environment: [String]) throws {
        guard getuid() == 0 else { throw XCTSkip("runs the agent as another user: needs root") }
        let p = try Spawned(URL(fileURLWithPath: "/usr/bin/setpriv"), ["--reuid=\(nobody)", "--regid=\(nobody)", "--clear-groups", "/usr/bin/env", "-i"]
                            + environment + [agent.path, "invite", "--no-mdns", "--no-dht", "--listen", "/ip4/127.0.0.1/tcp/0"])
        defer { p.stop() }
        XCTAssertNotNil(p.line(startingWith: "CODE: "), p.stderr)
    }

    func mode(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? NSNumber)?.intValue ?? -1 }

    func testTheDefaultIsUnderTheUsersHome() throws {
        let h = try home()
        try inviteAsNobody(["HOME=" + h])
        let dir = h + "/.local/state/sd-pair"
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/identity"), "no identity in " + dir)
        for path in [h + "/.local", h + "/.local/state", dir] { XCTAssertEqual(mode(path), 0o700, path) }
        XCTAssertEqual(mode(dir + "/identity"), 0o600)
    }

    func testXDGStateHomeWins() throws {
        let h = try home()
        try inviteAsNobody(["HOME=" + h, "XDG_STATE_HOME=" + h + "/xdg"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: h + "/xdg/sd-pair/identity"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: h + "/.local"))
    }

    /// A mistyped --state-dir is not "no paired devices".
    func testDevicesNamesAMissingStateDirectory() throws {
        let missing = stateDirectory() + "/typo"
        let p = try Spawned(agent, ["devices", "--state-dir", missing])
        XCTAssertEqual(p.wait(), 3, p.stdout + p.stderr)
        XCTAssertTrue(p.stderr.contains("there is no state directory " + missing), p.stderr)
        XCTAssertFalse(p.stdout.contains("no paired devices"), p.stdout)
    }
}
