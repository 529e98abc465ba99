import Foundation
import XCTest

/// Every seed input and every input a fuzzer ever crashed on goes through its decoder again on each test run, with
/// the normal (uninstrumented) build of the harness: a fixed bug stays fixed. Scripts/fuzz does the fuzzing itself.
final class FuzzCorpusTests: AgentTestCase {
    var fuzzDirectory: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz") }
    var replay: URL { Bundle.main.bundleURL.appendingPathComponent("sd-pair-fuzz") }

    func testEverySeedAndRegressionInputReplaysWithoutATrap() throws {
        let targets = try FileManager.default.contentsOfDirectory(atPath: fuzzDirectory.appendingPathComponent("corpus").path).sorted()
        XCTAssertEqual(targets.count, 21, "one corpus per fuzz target: \(targets)")
        var total = 0
        for target in targets {
            var inputs = [fuzzDirectory.appendingPathComponent("corpus/" + target).path]
            let regressions = fuzzDirectory.appendingPathComponent("regressions/" + target).path
            if FileManager.default.fileExists(atPath: regressions) { inputs.append(regressions) }
            let p = try Spawned(replay, [target] + inputs)
            XCTAssertEqual(p.wait(seconds: 60), 0, target + ": " + p.stdout + p.stderr)
            let count = Int(p.stdout.split(separator: " ").dropFirst().first ?? "") ?? 0
            XCTAssertGreaterThan(count, 0, target + ": " + p.stdout)
            total += count
        }
        XCTAssertGreaterThanOrEqual(total, 50, "the seed corpora shrank")
    }

    func testAnUnknownTargetIsRefused() throws {
        let p = try Spawned(replay, ["nonsense", "/dev/null"])
        XCTAssertEqual(p.wait(), 2)
        XCTAssertTrue(p.stdout.contains("usage: sd-pair-fuzz"), p.stdout)
    }
}
