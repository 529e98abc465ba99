import Agent
import Pairing
import Registry
import Wire
import XCTest

/// What a pairing step means for the run (`PairingEffects`), each case on its own. The agents' own runs meet the same
/// effects end to end: AgentTests (a wrong code's refusals, a burnt code, a full disk), PairingSimulationTests and
/// AgentSimulationTests (impostors dropped as candidates while the real device pairs).
final class PairingEffectsTests: XCTestCase {
    func testTheBoardsRefusalsAndTheBurntCode() {
        XCTAssertEqual(PairingEffects.initiator(.challengeSent), .proven)
        XCTAssertEqual(PairingEffects.initiator(.expired), .none, "expiry is the window's tick, not a step")
        XCTAssertEqual(PairingEffects.initiator(.attemptFailed(.wrongCode, remaining: 2)),
            .refused(line: "pairing attempt refused: " + RejectReason.wrongCode.description + " (2 attempts left)",
                event: .attemptFailed(reason: RejectReason.wrongCode.description, remaining: 2), ending: nil))
        XCTAssertEqual(PairingEffects.initiator(.rejected(.unknownSession)),
            .refused(line: "pairing request refused: " + RejectReason.unknownSession.description, event: nil, ending: nil),
            "a request for another session costs no attempt, and the UI hears nothing of it")
        XCTAssertEqual(PairingEffects.initiator(.burned(after: .badSignature)),
            .refused(line: "pairing attempt refused: " + RejectReason.badSignature.description, event: .failed(reason: "code disabled after too many failed attempts"),
                ending: "pairing code disabled after too many failed attempts; start a new pairing"), "the last allowed failure ends the window")
    }

    func testTheBoardConfirmsOnlyWhatItRecorded() {
        XCTAssertNil(PairingEffects.confirmation(nil))
        XCTAssertEqual(PairingEffects.confirmation(.deviceIDTaken), .deviceIDTaken, "a taken id is refused as such")
        XCTAssertEqual(PairingEffects.confirmation(.full), .storageFailed)
    }

    func testTheJoinersStepsInDiscoveryAndWithOneAddress() throws {
        let info = try DeviceInfo.make(deviceID: DeviceID(bytes: FixedBytes<16>(repeating: 1)), name: "Office NAS", type: .server,
            osVersion: "Linux 6.1", appVersion: "0.1.0")
        XCTAssertEqual(PairingEffects.joiner(.challengeAccepted(info), discovering: true), .authentic(deviceName: "Office NAS"))
        let impostor = JoinerFailure.initiatorProofInvalid
        XCTAssertEqual(PairingEffects.joiner(.candidateFailed(impostor), discovering: true), .candidateOut(reason: impostor.description),
            "among several candidates, one that fails is not the end")
        XCTAssertEqual(PairingEffects.joiner(.candidateFailed(impostor), discovering: false),
            .end(event: .failed(reason: impostor.description), outcome: impostor.description), "the one given address failing ends the run")
        XCTAssertEqual(PairingEffects.joiner(.failed(.digitsRefused), discovering: true),
            .end(event: .failed(reason: JoinerFailure.digitsRefused.description), outcome: JoinerFailure.digitsRefused.description))
        XCTAssertEqual(PairingEffects.joiner(.expired, discovering: false), .end(event: .expired, outcome: "pairing code expired"))
        XCTAssertEqual(PairingEffects.joiner(.stateChanged(.connecting), discovering: true), .emit(.connecting))
        XCTAssertEqual(PairingEffects.joiner(.stateChanged(.challengeReceived), discovering: true), .none,
            "a state that comes with its own event is not news twice")
    }
}
