import Foundation
import XCTest

/// The short soak (Benchmarks/soak.sh): `serve` under an 8 MiB memory cap through 200 pairing windows, one real
/// pairing each; 0 failures, RSS growth ≤ 64 KiB after the first 100, fds flat. The 10 000-window run is the same
/// script with its default count.
final class SoakTests: AgentTestCase {
    func testTwoHundredWindowsUnderAMemoryCap() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Benchmarks/soak.sh")
        let driver = Bundle.main.bundleURL.appendingPathComponent("sd-pair-soak")
        let p = try Spawned(URL(fileURLWithPath: "/bin/bash"), [script.path, "--windows", "200", "--agent", agent.path, "--driver", driver.path])
        XCTAssertEqual(p.wait(seconds: 300), 0, p.stdout + p.stderr)
        print(p.stdout)
        XCTAssertTrue(p.stdout.contains("200 windows, 200 paired, 0 failed"), p.stdout)
        XCTAssertTrue(p.stdout.contains(" under "), "the cap in use is named: " + p.stdout)
    }
}
