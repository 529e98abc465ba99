import Foundation
import XCTest

/// The Debian packages (cross/package-deb.sh; Scripts/test builds them and passes SDPAIR_DEBS="a.deb;b.deb;c.deb"):
/// lintian, a real install / upgrade / remove / purge of the amd64 package on this machine, the man pages against
/// `--help`, and the ARM packages' binaries pairing with the host under qemu-user.
final class PackageTests: AgentTestCase {
    var root: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    func packages() throws -> [String: String] {
        guard let spec = ProcessInfo.processInfo.environment["SDPAIR_DEBS"], !spec.isEmpty else {
            if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail("SDPAIR_DEBS is not set; run through Scripts/test") }
            throw XCTSkip("SDPAIR_DEBS not set (Scripts/test builds the packages)")
        }
        var out: [String: String] = [:]
        for path in spec.split(separator: ";").map(String.init) {
            let arch = path.split(separator: "_").last!.replacingOccurrences(of: ".deb", with: "")
            out[arch] = path
        }
        XCTAssertEqual(Set(out.keys), ["amd64", "arm64", "armhf"])
        return out
    }

    func run(_ tool: String, _ args: [String], seconds: Double = 120) throws -> (Int32?, String, String) {
        let p = try Spawned(URL(fileURLWithPath: tool), args)
        let status = p.wait(seconds: seconds)
        return (status, p.stdout, p.stderr)
    }

    func testLintianFindsNoErrorsOrWarnings() throws {
        for (arch, deb) in try packages() {
            let (status, out, err) = try run("/usr/bin/lintian", ["--fail-on", "error,warning", "--pedantic", deb])
            XCTAssertEqual(status, 0, arch + ": " + out + err)
            XCTAssertFalse(out.contains("E: ") || out.contains("W: "), arch + ": " + out)
        }
    }

    /// Every option `--help` names is in sd-pair(1), and every settings key is in sd-pair.conf(5): the pages and
    /// the program do not drift apart.
    func testManPagesCoverEveryOptionAndKey() throws {
        let help = try Spawned(host, ["--help"])
        XCTAssertEqual(help.wait(), 0)
        let page = try String(contentsOf: root.appendingPathComponent("Board/man/sd-pair.1"), encoding: .utf8).replacingOccurrences(of: "\\-", with: "-")
        let options = Set(help.stdout.split(whereSeparator: { " ,|[]()\n".contains($0) }).filter { $0.hasPrefix("--") && $0.count > 3 }.map {
            String($0.prefix { $0.isLetter || $0.isNumber || $0 == "-" })
        })
        XCTAssertGreaterThan(options.count, 25, "\(options)")
        for option in options where option != "--help" && option != "--version" {
            XCTAssertTrue(page.contains(option), "sd-pair.1 does not describe " + option)
        }
        for command in ["invite", "serve", "join", "devices", "forget", "ping", "code", "demo"] {
            XCTAssertTrue(page.contains(".B " + command), "sd-pair.1 has no entry for " + command)
        }
        for code in ["0", "1", "2", "3", "130"] { XCTAssertTrue(page.contains(".B " + code + "\n"), "exit status " + code) }
        let conf = try String(contentsOf: root.appendingPathComponent("Board/man/sd-pair.conf.5"), encoding: .utf8).replacingOccurrences(of: "\\-", with: "-")
        let keys = help.stdout.components(separatedBy: "one key per option without \"--\" (").last!.components(separatedBy: ")").first!
        let list = keys.split(whereSeparator: { ", \n".contains($0) }).map(String.init)
        XCTAssertGreaterThan(list.count, 15, keys)
        for key in list { XCTAssertTrue(conf.contains(".B " + key) || conf.contains(".BI " + key), "sd-pair.conf.5 does not describe " + key) }
    }

    /// Install, check, edit the conffile and the state, upgrade (edits kept), remove (conffile and state kept),
    /// purge (both gone). System-wide, so only where that is wanted: a CI machine or a root shell that asks for it.
    func testInstallUpgradeRemoveAndPurge() throws {
        let debs = try packages()
        let deb = try XCTUnwrap(debs["amd64"])
        guard getuid() == 0, ProcessInfo.processInfo.environment["CI"] != nil || ProcessInfo.processInfo.environment["SDPAIR_DPKG_TESTS"] != nil else {
            throw XCTSkip("installs system-wide: runs in CI, or as root with SDPAIR_DPKG_TESTS=1")
        }
        let (already, _, _) = try run("/usr/bin/dpkg-query", ["-W", "sd-pair"])
        XCTAssertNotEqual(already, 0, "an sd-pair package is already installed here; not touching it")
        guard already != 0 else { return }
        defer { _ = try? run("/usr/bin/dpkg", ["--purge", "sd-pair"]) }

        var (status, out, err) = try run("/usr/bin/dpkg", ["-i", deb])
        XCTAssertEqual(status, 0, out + err)
        (status, out, _) = try run("/usr/bin/sd-pair", ["--version"])
        XCTAssertEqual(status, 0)
        XCTAssertTrue(out.hasPrefix("sd-pair "), out)
        for page in ["/usr/share/man/man1/sd-pair.1.gz", "/usr/share/man/man5/sd-pair.conf.5.gz"] {
            let (s, text, e) = try run("/usr/bin/man", ["-l", page])
            XCTAssertEqual(s, 0, e)
            XCTAssertTrue(text.contains("SEE ALSO"), page + ": " + text.prefix(200))
        }
        (status, out, err) = try run("/usr/bin/systemd-analyze", ["verify", "/lib/systemd/system/sd-pair.service"])
        XCTAssertEqual(status, 0, out + err)
        XCTAssertEqual(err.trimmingCharacters(in: .whitespacesAndNewlines), "", "no warnings")
        let unit = try String(contentsOfFile: "/lib/systemd/system/sd-pair.service", encoding: .utf8)
        XCTAssertTrue(unit.contains("ExecStart=/usr/bin/sd-pair serve"), unit)
        XCTAssertTrue(unit.contains("Documentation=man:sd-pair(1)"), unit)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "/usr/share/doc/sd-pair/OPERATIONS.md.gz"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: "/usr/share/bash-completion/completions/sd-pair"))
        // The installed settings file is valid as shipped.
        let empty = stateDirectory()
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        (status, _, err) = try run("/usr/bin/sd-pair", ["devices", "--state-dir", empty])
        XCTAssertEqual(status, 0, err)

        // An operator's edit and a pairing's state, as systemd's StateDirectory= with DynamicUser= lays it out. The
        // default state directory must not exist yet: no test may touch it (name what left it, if one did).
        let leftover = (try? FileManager.default.contentsOfDirectory(atPath: "/var/lib/sd-pair")).map { "\($0)" }
        XCTAssertNil(leftover, "/var/lib/sd-pair exists before the package made it, holding \(leftover ?? "")")
        let conf = "/etc/sd-pair.conf"
        let edit = "\nexpiry = 120\n"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: conf))
        handle.seekToEndOfFile()
        handle.write(Data(edit.utf8))
        try handle.close()
        try FileManager.default.createDirectory(atPath: "/var/lib/private/sd-pair", withIntermediateDirectories: true)
        try "kept".write(toFile: "/var/lib/private/sd-pair/marker", atomically: true, encoding: .utf8)
        try? FileManager.default.createSymbolicLink(atPath: "/var/lib/sd-pair", withDestinationPath: "private/sd-pair")

        // Upgrade to a later build of the package: the edit and the state survive.
        let later = stateDirectory()
        let build = try Spawned(URL(fileURLWithPath: "/bin/bash"), [root.appendingPathComponent("cross/package-deb.sh").path, "amd64", later],
                                environment: ["SDPAIR_DEB_VERSION": "99.0.0"])
        XCTAssertEqual(build.wait(seconds: 300), 0, build.stderr)
        (status, out, err) = try run("/usr/bin/dpkg", ["-i", later + "/sd-pair_99.0.0_amd64.deb"])
        XCTAssertEqual(status, 0, out + err)
        (status, out, _) = try run("/usr/bin/dpkg-query", ["-W", "-f", "${Version}", "sd-pair"])
        XCTAssertEqual(out, "99.0.0")
        XCTAssertTrue(try String(contentsOfFile: conf, encoding: .utf8).hasSuffix(edit), "the upgrade lost the edit to " + conf)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "/var/lib/sd-pair/marker"))

        // Remove: the program goes, the settings and the state stay.
        (status, out, err) = try run("/usr/bin/dpkg", ["--remove", "sd-pair"])
        XCTAssertEqual(status, 0, out + err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/usr/bin/sd-pair"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: conf))
        XCTAssertTrue(FileManager.default.fileExists(atPath: "/var/lib/private/sd-pair/marker"))

        // Purge: both go.
        (status, out, err) = try run("/usr/bin/dpkg", ["--purge", "sd-pair"])
        XCTAssertEqual(status, 0, out + err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: conf))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/var/lib/private/sd-pair"))
        var isLink: ObjCBool = false
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/var/lib/sd-pair", isDirectory: &isLink) || (try? FileManager.default.destinationOfSymbolicLink(atPath: "/var/lib/sd-pair")) != nil)
    }

    /// The arm64 and armhf packages unpack into their board's file tree; the binary they install pairs with the host.
    func testARMPackagesPairWithTheHost() throws {
        let debs = try packages()
        guard let spec = ProcessInfo.processInfo.environment["SDPAIR_ARM"], !spec.isEmpty else {
            if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail("SDPAIR_ARM is not set") }
            throw XCTSkip("SDPAIR_ARM not set")
        }
        for part in spec.split(separator: ";") {
            let f = part.split(separator: ":").map(String.init)
            let (arch, sysroot) = (f[0], f[2])
            let deb = try XCTUnwrap(debs[arch == "aarch64" ? "arm64" : "armhf"])
            let tree = stateDirectory()
            let (status, _, err) = try run("/usr/bin/dpkg-deb", ["-x", deb, tree])
            XCTAssertEqual(status, 0, err)
            let binary = tree + "/usr/bin/sd-pair"
            let qemu = arch == "armv7"
                ? ["qemu-arm", "-L", sysroot, "-E", "LD_LIBRARY_PATH=\(sysroot)/lib/arm-linux-gnueabihf:\(sysroot)/usr/lib/arm-linux-gnueabihf", binary]
                : ["qemu-aarch64", "-L", sysroot, binary]
            let inv = try Spawned(URL(fileURLWithPath: "/usr/bin/env"), qemu + ["invite", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht",
                                                                                "--state-dir", stateDirectory(), "--name", "Packaged " + arch])
            guard let address = inv.line(startingWith: "LISTEN "), let words = inv.line(startingWith: "CODE: ") else {
                return XCTFail(arch + ": the packaged binary did not start: " + inv.stderr)
            }
            let j = try Spawned(host, ["join", words, "--peer", address, "--state-dir", stateDirectory()])
            XCTAssertEqual(j.wait(seconds: 60), 0, arch + ": " + j.stderr)
            XCTAssertEqual(inv.wait(seconds: 30), 0, arch + ": " + inv.stderr)
            XCTAssertTrue(j.stdout.contains("Packaged " + arch), j.stdout)
        }
    }
}
