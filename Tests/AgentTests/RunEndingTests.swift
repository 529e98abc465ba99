import Agent
import Registry
import XCTest

/// What a run says when it ends without a pairing that stands (`RunEnding`): each cause in its own words. The
/// agent's own runs meet these too (AgentTests.testFullDiskLosesNothingAndSaysSo, NATLabTests' expiry lines).
final class RunEndingTests: XCTestCase {
    func testAnUnrecordedPairingNamesItsCause() {
        let taken = RunEnding.unrecorded(.deviceIDTaken, board: true, deviceID: "ID")
        XCTAssertEqual(taken.outcome, "pairing refused: ID: " + RegistryFailure.deviceIDTaken.message)
        XCTAssertEqual(taken.event, "refused: " + RegistryFailure.deviceIDTaken.message)
        // The joiner does not refuse: its registry could not keep what the board already refused or kept.
        XCTAssertEqual(RunEnding.unrecorded(.deviceIDTaken, board: false, deviceID: "ID").outcome,
            "paired, but the pairing could not be recorded: " + RegistryFailure.deviceIDTaken.message)
        let full = RunEnding.unrecorded(.full, board: true, deviceID: "ID")
        XCTAssertEqual(full.outcome, "paired, but the pairing could not be recorded: " + RegistryFailure.full.message)
        XCTAssertEqual(full.event, "could not record the pairing: " + RegistryFailure.full.message)
    }

    func testAJoinersExpiryNamesWhatTheDHTPathLearnt() {
        let base = "pairing code expired before pairing completed"
        XCTAssertEqual(RunEnding.joinerExpired(found: false, unreachable: false, relayFailure: nil), base)
        XCTAssertEqual(RunEnding.joinerExpired(found: false, unreachable: false, relayFailure: "refused"), base, "a relay alone says nothing without the record")
        XCTAssertEqual(RunEnding.joinerExpired(found: true, unreachable: true, relayFailure: nil),
            base + ": the device was found through the DHT but is not reachable from outside its network (no port mapping on its router)")
        XCTAssertEqual(RunEnding.joinerExpired(found: true, unreachable: false, relayFailure: nil),
            base + ": the device was found through the DHT but did not answer at its public address (its log says whether its router maps or forwards the port)")
        XCTAssertEqual(RunEnding.joinerExpired(found: true, unreachable: false, relayFailure: "refused the circuit"),
            base + ": the device was found through the DHT but did not answer at its public address, and its relay refused the circuit")
    }

    func testAClosedWindowAndAFinishedRun() {
        XCTAssertEqual(RunEnding.windowClosed(.paired)?.line, "pairing window closed: paired")
        XCTAssertNil(RunEnding.windowClosed(.paired)?.reply, "the invite client heard of the pairing when it was recorded")
        XCTAssertEqual(RunEnding.windowClosed(.failed("cancelled"))?.line, "pairing window closed: cancelled")
        XCTAssertEqual(RunEnding.windowClosed(.failed("cancelled"))?.reply, "cancelled")
        XCTAssertNil(RunEnding.windowClosed(.interrupted))
        // A finished run waits for its last bytes and for the joiner's confirmation, but not past its linger.
        XCTAssertTrue(RunEnding.stops(now: 10, lingerUntil: 2_010, pendingOutput: false, awaitingConfirmation: false))
        XCTAssertFalse(RunEnding.stops(now: 10, lingerUntil: 2_010, pendingOutput: true, awaitingConfirmation: false))
        XCTAssertFalse(RunEnding.stops(now: 10, lingerUntil: 2_010, pendingOutput: false, awaitingConfirmation: true))
        XCTAssertTrue(RunEnding.stops(now: 2_010, lingerUntil: 2_010, pendingOutput: true, awaitingConfirmation: true))
    }

    /// An `invite` client and the embedding library tell an expiry from a failure by these words.
    func testAnExpiryIsToldApartFromAFailure() {
        XCTAssertTrue(RunEnding.isCodeExpiry(RunEnding.codeExpired))
        XCTAssertTrue(RunEnding.isCodeExpiry(RunEnding.joinerExpired(found: true, unreachable: false, relayFailure: nil)), "a joiner's expiry, with its cause")
        XCTAssertFalse(RunEnding.isCodeExpiry("pairing code disabled after too many failed attempts; start a new pairing"))
        XCTAssertFalse(RunEnding.isCodeExpiry("pairing code"))
    }
}
