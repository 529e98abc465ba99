import Crypto
import Wire
import TestSupport
import XCTest

@testable import Pairing

final class ExchangeTests: XCTestCase {
    override class func setUp() { try! Sodium.initialize() }

    func testWholeExchangeInMemoryDerivesTheSameKeys() {
        let f = Fixture()
        let outcome = LoopbackExchange.run(
            initiator: .init(code: f.code, identity: f.initiatorKeys, device: f.nas),
            joiner: .init(code: f.code, identity: f.joinerKeys, device: f.laptop),
            handshakeHash: f.handshakeHash, exporter: f.exporter, policy: f.policy, now: f.t0, random: SeededRandom(seed: 5),
            trace: { _ in })
        XCTAssertEqual(outcome.initiatorState, .completed)
        XCTAssertEqual(outcome.joinerState, .completed)
        XCTAssertEqual(outcome.messages, 4)
        guard let i = outcome.initiatorPeer, let j = outcome.joinerPeer else { return XCTFail("both sides must pair") }
        XCTAssertEqual(i.deviceInfo, f.laptop)
        XCTAssertEqual(i.publicKey, f.joinerKeys.publicKey)
        XCTAssertEqual(j.deviceInfo, f.nas)
        XCTAssertEqual(j.publicKey, f.initiatorKeys.publicKey)
        XCTAssertTrue(i.sessionKeys.sendKey.constantTimeEquals(j.sessionKeys.receiveKey))
        XCTAssertTrue(i.sessionKeys.receiveKey.constantTimeEquals(j.sessionKeys.sendKey))
        XCTAssertFalse(i.sessionKeys.sendKey.constantTimeEquals(i.sessionKeys.receiveKey), "directions use different keys")
    }

    func testSessionKeysDependOnTheChannel() {
        // Same code, another Noise session (another exporter): other keys. Knowing the code is not enough.
        let f = Fixture()
        var g = Fixture()
        g.exporter = SymmetricKey(bytes: FixedBytes(repeating: 0x77))
        func keys(_ x: Fixture) -> SymmetricKey? {
            LoopbackExchange.run(
                initiator: .init(code: f.code, identity: f.initiatorKeys, device: f.nas),
                joiner: .init(code: f.code, identity: f.joinerKeys, device: f.laptop), handshakeHash: x.handshakeHash,
                exporter: x.exporter, policy: f.policy, now: f.t0, random: SeededRandom(seed: 5), trace: { _ in }
            ).initiatorPeer?.sessionKeys.sendKey
        }
        XCTAssertFalse(keys(f)!.constantTimeEquals(keys(g)!))
    }

    func testWrongCodeIsRefusedAndNeverRegistered() {
        let f = Fixture()
        let outcome = LoopbackExchange.run(
            initiator: .init(code: f.code, identity: f.initiatorKeys, device: f.nas),
            joiner: .init(code: f.wrongCode(), identity: f.joinerKeys, device: f.laptop),
            handshakeHash: f.handshakeHash, exporter: f.exporter, policy: f.policy, now: f.t0, random: SeededRandom(seed: 5),
            trace: { _ in })
        XCTAssertNil(outcome.initiatorPeer)
        XCTAssertNil(outcome.joinerPeer)
        XCTAssertEqual(outcome.messages, 2, "request, then a refusal; no challenge is ever issued")
        XCTAssertEqual(outcome.joinerState, .discovering, "the joiner drops this candidate and keeps looking")
        XCTAssertEqual(outcome.initiatorState, .waitingForConnection)
    }
}

final class InitiatorTests: XCTestCase {
    override class func setUp() { try! Sodium.initialize() }

    /// A request as an honest joiner holding `code` would send it on `hash`'s channel.
    func request(_ f: Fixture, code: PairingCode? = nil, hash: FixedBytes<32>? = nil, key: Ed25519.PublicKey? = nil) -> PairingMessage {
        var j = f.joiner(code: code)
        _ = j.connecting(now: f.t0)
        var r = j.connected(binding: f.joinerBinding(hash: hash), now: f.t0).reply!
        if let key, case .request(var req) = r {
            req.publicKey = key
            r = .request(req)
        }
        return r
    }

    /// What someone who learned the public session id (from the DHT or mDNS) but not the code can send.
    func eavesdropperRequest(_ f: Fixture, guess: UInt8 = 0) -> PairingMessage {
        guard case .request(var req) = request(f) else { fatalError() }
        req.joinerProof = FixedBytes(repeating: guess)
        return .request(req)
    }

    func testHappyPathStatesAndEvents() {
        let f = Fixture()
        var w = f.window()
        XCTAssertEqual(w.state, .waitingForConnection)
        var hs = f.handshake()
        let step = w.receive(request(f), on: &hs, now: f.t0)
        guard case .challenge(let challenge)? = step.reply, case .challengeSent? = step.event else { return XCTFail() }
        XCTAssertFalse(step.close)
        XCTAssertEqual(w.state, .challengeSent)
        XCTAssertEqual(hs.phase, .challengeSent)
        XCTAssertEqual(challenge.deviceInfo, f.nas)

        let signature = Transcript.withSignedMessage(sessionID: w.sessionID, challenge: challenge.challenge, handshakeHash: f.handshakeHash) {
            Ed25519.sign($0, with: f.joinerKeys.secretKey)
        }
        let done = w.receive(.response(Response(sessionID: w.sessionID, signature: signature, deviceInfo: f.laptop)), on: &hs, now: f.t0)
        XCTAssertEqual(done.reply?.asComplete?.success, true)
        XCTAssertTrue(done.close)
        guard case .paired(let peer)? = done.event else { return XCTFail() }
        XCTAssertEqual(peer.publicKey, f.joinerKeys.publicKey)
        XCTAssertEqual(peer.deviceInfo, f.laptop, "who the joiner is comes from its Response")
        XCTAssertEqual(w.state, .completed)
        XCTAssertEqual(w.advertKey.bytes, FixedBytes(), "a finished window holds no code secrets")
    }

    func testWrongProofCountsAndBurnsAfterFive() {
        let f = Fixture()
        var w = f.window()
        for attempt in 1...5 {
            var hs = f.handshake()
            let step = w.receive(eavesdropperRequest(f, guess: UInt8(attempt)), on: &hs, now: f.t0)
            XCTAssertTrue(step.close)
            XCTAssertEqual(hs.phase, .done)
            if attempt < 5 {
                XCTAssertEqual(step.reply?.asComplete?.rejection, .wrongCode)
                guard case .attemptFailed(.wrongCode, let remaining)? = step.event else { return XCTFail() }
                XCTAssertEqual(remaining, 5 - attempt)
                XCTAssertEqual(w.state, .waitingForConnection)
            } else {
                XCTAssertEqual(step.reply?.asComplete?.rejection, .codeBurned)
                guard case .burned(after: .wrongCode)? = step.event else { return XCTFail() }
                XCTAssertEqual(w.state, .failed(.codeBurned))
            }
        }
        // Even the real code no longer works.
        var hs = f.handshake()
        let late = w.receive(request(f), on: &hs, now: f.t0)
        XCTAssertEqual(late.reply?.asComplete?.rejection, .codeBurned)
        XCTAssertNil(late.event)
    }

    func testAttemptLimitIsConfigurable() throws {
        let f = Fixture()
        var w = f.window(policy: try WindowPolicy(maxFailedAttempts: 1))
        var hs = f.handshake()
        guard case .burned? = w.receive(eavesdropperRequest(f), on: &hs, now: f.t0).event else { return XCTFail() }
    }

    func testRelayedRequestFailsChannelBinding() {
        // A man in the middle runs two Noise sessions (different h) and forwards the joiner's request: the proof
        // was computed for the other channel, so it fails here.
        let f = Fixture()
        var w = f.window()
        var hs = f.handshake()
        let step = w.receive(request(f, hash: FixedBytes(repeating: 0xEE)), on: &hs, now: f.t0)
        XCTAssertEqual(step.reply?.asComplete?.rejection, .wrongCode)
        XCTAssertEqual(w.failedAttempts, 1)
    }

    func testPublicKeyMustMatchNoiseIdentity() {
        let f = Fixture()
        var w = f.window()
        var hs = f.handshake()
        // The joiner claims another key than the one Noise authenticated; the proof covers the claimed key.
        let other = Ed25519.KeyPair(seed: FixedBytes(repeating: 9))
        var j = f.joiner(keys: other)
        _ = j.connecting(now: f.t0)
        let req = j.connected(binding: f.joinerBinding(), now: f.t0).reply!
        let step = w.receive(req, on: &hs, now: f.t0)
        XCTAssertEqual(step.reply?.asComplete?.rejection, .identityMismatch)
        XCTAssertEqual(w.failedAttempts, 1)
    }

    func testBadSignatureIsRefused() {
        let f = Fixture()
        var w = f.window()
        var hs = f.handshake()
        guard case .challenge(let ch)? = w.receive(request(f), on: &hs, now: f.t0).reply else { return XCTFail() }
        // Signed without the channel binding (the seed's raw-challenge signature) → refused.
        let raw = ch.challenge.withUnsafeBytes { Ed25519.sign($0, with: f.joinerKeys.secretKey) }
        let step = w.receive(.response(Response(sessionID: w.sessionID, signature: raw, deviceInfo: f.laptop)), on: &hs, now: f.t0)
        XCTAssertEqual(step.reply?.asComplete?.rejection, .badSignature)
        guard case .attemptFailed(.badSignature, _)? = step.event else { return XCTFail() }
        XCTAssertEqual(w.state, .waitingForConnection)
    }

    func testWrongCodeIsUnknownSessionAndNotCounted() {
        // A mistyped (but checksum-valid) code derives another session id: refused as unknownSession and not
        // counted, so stray joiners of other sessions cannot burn this code.
        let f = Fixture()
        var w = f.window()
        for _ in 0..<10 {
            var hs = f.handshake()
            let step = w.receive(request(f, code: f.wrongCode()), on: &hs, now: f.t0)
            XCTAssertEqual(step.reply?.asComplete?.rejection, .unknownSession)
            guard case .rejected(.unknownSession)? = step.event else { return XCTFail() }
        }
        XCTAssertEqual(w.failedAttempts, 0)
        XCTAssertEqual(w.state, .waitingForConnection)
    }

    func testOutOfOrderMessagesAreProtocolErrors() {
        let f = Fixture()
        var w = f.window()
        var hs = f.handshake()
        let early = w.receive(.response(Response(sessionID: w.sessionID, signature: .init(bytes: FixedBytes()), deviceInfo: f.laptop)), on: &hs, now: f.t0)
        XCTAssertEqual(early.reply?.asComplete?.rejection, .protocolError)
        var hs2 = f.handshake()
        _ = w.receive(request(f), on: &hs2, now: f.t0)
        let twice = w.receive(request(f), on: &hs2, now: f.t0)
        XCTAssertEqual(twice.reply?.asComplete?.rejection, .protocolError)
        XCTAssertEqual(w.state, .waitingForConnection, "the aborted handshake no longer counts as outstanding")
        var hs3 = f.handshake()
        let wrongKind = w.receive(.complete(Complete(sessionID: w.sessionID, rejection: nil)), on: &hs3, now: f.t0)
        XCTAssertEqual(wrongKind.reply?.asComplete?.rejection, .protocolError)
    }

    func testExpiry() {
        let f = Fixture()
        var w = f.window()
        XCTAssertNil(w.tick(now: f.t0.adding(seconds: 299)))
        guard case .expired? = w.tick(now: f.t0.adding(seconds: 300)) else { return XCTFail() }
        XCTAssertNil(w.tick(now: f.t0.adding(seconds: 301)), "expiry is reported once")
        XCTAssertEqual(w.state, .expired)
        var hs = f.handshake()
        XCTAssertEqual(w.receive(request(f), on: &hs, now: f.t0.adding(seconds: 302)).reply?.asComplete?.rejection, .expired)
    }

    func testRequestArrivingAfterDeadlineExpiresTheWindow() {
        let f = Fixture()
        var w = f.window()
        var hs = f.handshake()
        let step = w.receive(request(f), on: &hs, now: f.t0.adding(seconds: 600))
        XCTAssertEqual(step.reply?.asComplete?.rejection, .expired)
        guard case .expired? = step.event else { return XCTFail() }
    }

    func testCodeIsConsumedBySuccessAndCancelWorks() {
        let f = Fixture()
        var w = f.window()
        var a = f.handshake()
        var b = f.handshake()
        guard case .challenge(let ch)? = w.receive(request(f), on: &a, now: f.t0).reply else { return XCTFail() }
        _ = w.receive(request(f), on: &b, now: f.t0)  // a second joiner mid-handshake
        let sig = Transcript.withSignedMessage(sessionID: w.sessionID, challenge: ch.challenge, handshakeHash: f.handshakeHash) {
            Ed25519.sign($0, with: f.joinerKeys.secretKey)
        }
        guard case .paired? = w.receive(.response(Response(sessionID: w.sessionID, signature: sig, deviceInfo: f.laptop)), on: &a, now: f.t0).event
        else { return XCTFail() }
        let late = w.receive(.response(Response(sessionID: w.sessionID, signature: sig, deviceInfo: f.laptop)), on: &b, now: f.t0)
        XCTAssertEqual(late.reply?.asComplete?.rejection, .codeUsed)

        var c = f.window()
        c.cancel()
        XCTAssertEqual(c.state, .failed(.cancelled))
        var hs = f.handshake()
        XCTAssertEqual(c.receive(request(f), on: &hs, now: f.t0).reply?.asComplete?.rejection, .cancelled)
    }

    func testClosedConnectionReturnsToWaiting() {
        let f = Fixture()
        var w = f.window()
        var hs = f.handshake()
        _ = w.receive(request(f), on: &hs, now: f.t0)
        XCTAssertEqual(w.state, .challengeSent)
        w.connectionClosed(&hs)
        XCTAssertEqual(w.state, .waitingForConnection)
        XCTAssertEqual(hs.phase, .done)
        XCTAssertEqual(hs.binding.exporter.bytes, FixedBytes(), "the handshake's secrets are wiped")
    }

    func testPolicyRanges() {
        XCTAssertThrowsError(try WindowPolicy(expirySeconds: 59))
        XCTAssertThrowsError(try WindowPolicy(expirySeconds: 601))
        XCTAssertThrowsError(try WindowPolicy(maxFailedAttempts: 0))
        XCTAssertNoThrow(try WindowPolicy(expirySeconds: 60, maxFailedAttempts: 100))
        XCTAssertEqual(WindowPolicy.standard.expirySeconds, 300)
        XCTAssertEqual(WindowPolicy.standard.maxFailedAttempts, 5)
    }
}

final class JoinerTests: XCTestCase {
    override class func setUp() { try! Sodium.initialize() }

    func started(_ f: Fixture, binding: ChannelBinding? = nil) -> (JoinerSession, PairingRequest) {
        var j = f.joiner()
        XCTAssertEqual(j.state, .discovering)
        _ = j.connecting(now: f.t0)
        XCTAssertEqual(j.state, .connecting)
        guard case .request(let r)? = j.connected(binding: binding ?? f.joinerBinding(), now: f.t0).reply else { fatalError() }
        XCTAssertEqual(j.state, .requestSent)
        return (j, r)
    }

    func honestChallenge(_ f: Fixture, sessionID: SessionID) -> Challenge {
        let secrets = CodeSecrets(code: f.code)
        let c = FixedBytes<32>(repeating: 0xC1)
        return Challenge(
            sessionID: sessionID, challenge: c, deviceInfo: f.nas,
            initiatorProof: Transcript.initiatorProof(confirmKey: secrets.confirmKey, handshakeHash: f.handshakeHash, sessionID: sessionID, challenge: c))
    }

    /// Security review finding 7: the request goes to whoever answered discovery, before it proved the code, so it
    /// carries a placeholder; the joiner's description goes only in the Response, after the initiator's proof.
    func testJoinerWithholdsItsDeviceInfoUntilTheInitiatorProvedTheCode() {
        let f = Fixture()
        let (_, req) = started(f)
        XCTAssertEqual(req.deviceInfo, DeviceInfo.withheld)
        XCTAssertEqual(req.deviceInfo.deviceID, DeviceID(bytes: FixedBytes()), "no device id before the proof")
        XCTAssertNoThrow(try DeviceInfo.withheld.validate(), "the placeholder passes every decoder")
        // An impostor's challenge (no proof) gets nothing more from the joiner.
        var (j, r) = started(f)
        var forged = honestChallenge(f, sessionID: r.sessionID)
        forged.initiatorProof = FixedBytes(repeating: 7)
        XCTAssertNil(j.receive(.challenge(forged), now: f.t0).reply)
        // The authentic initiator gets the real description in the Response.
        var (k, r2) = started(f)
        guard case .response(let response)? = k.receive(.challenge(honestChallenge(f, sessionID: r2.sessionID)), now: f.t0).reply else { return XCTFail() }
        XCTAssertEqual(response.deviceInfo, f.laptop)
    }

    func testImpostorIsDroppedAndTheNextCandidatePairs() {
        let f = Fixture()
        var (j, r) = started(f)
        // An impostor saw the public session id but cannot prove the code.
        let fake = Challenge(sessionID: r.sessionID, challenge: FixedBytes(repeating: 1), deviceInfo: f.nas, initiatorProof: FixedBytes(repeating: 2))
        let step = j.receive(.challenge(fake), now: f.t0)
        guard case .candidateFailed(.initiatorProofInvalid)? = step.event else { return XCTFail() }
        XCTAssertNil(step.reply, "nothing is signed for an impostor")
        XCTAssertTrue(step.close)
        XCTAssertEqual(j.state, .discovering)

        // Next candidate: the real initiator.
        _ = j.connecting(now: f.t0)
        _ = j.connected(binding: f.joinerBinding(), now: f.t0)
        let answer = j.receive(.challenge(honestChallenge(f, sessionID: r.sessionID)), now: f.t0)
        guard case .response(let resp)? = answer.reply, case .challengeAccepted? = answer.event else { return XCTFail() }
        XCTAssertEqual(j.state, .responseSent)
        let valid = Transcript.withSignedMessage(sessionID: r.sessionID, challenge: FixedBytes(repeating: 0xC1), handshakeHash: f.handshakeHash) {
            Ed25519.isValidSignature(resp.signature, of: $0, by: f.joinerKeys.publicKey)
        }
        XCTAssertTrue(valid)
        let done = j.receive(.complete(Complete(sessionID: r.sessionID, rejection: nil)), now: f.t0)
        guard case .paired(let peer)? = done.event else { return XCTFail() }
        XCTAssertEqual(peer.deviceInfo, f.nas)
        XCTAssertEqual(peer.publicKey, f.initiatorKeys.publicKey)
        XCTAssertEqual(j.state, .completed)
        r = PairingRequest(sessionID: r.sessionID, deviceInfo: r.deviceInfo, publicKey: r.publicKey, joinerProof: FixedBytes())
    }

    func testRefusalBeforeProofMovesOnRefusalAfterProofIsFinal() {
        let f = Fixture()
        var (j, r) = started(f)
        let early = j.receive(.complete(Complete(sessionID: r.sessionID, rejection: .wrongCode)), now: f.t0)
        guard case .candidateFailed(.rejected(.wrongCode))? = early.event else { return XCTFail() }
        XCTAssertEqual(j.state, .discovering)

        var (k, r2) = started(f)
        _ = k.receive(.challenge(honestChallenge(f, sessionID: r2.sessionID)), now: f.t0)
        let late = k.receive(.complete(Complete(sessionID: r2.sessionID, rejection: .badSignature)), now: f.t0)
        guard case .failed(.rejected(.badSignature))? = late.event else { return XCTFail() }
        XCTAssertEqual(k.state, .failed(.rejected(.badSignature)))
    }

    func testProtocolViolations() {
        let f = Fixture()
        var (j, r) = started(f)
        let odd = j.receive(.request(r), now: f.t0)
        guard case .candidateFailed(.protocolViolation)? = odd.event else { return XCTFail() }
        var (k, r2) = started(f)
        _ = k.receive(.challenge(honestChallenge(f, sessionID: r2.sessionID)), now: f.t0)
        let again = k.receive(.challenge(honestChallenge(f, sessionID: r2.sessionID)), now: f.t0)
        guard case .failed(.protocolViolation)? = again.event else { return XCTFail() }
        var (m, r3) = started(f)
        _ = m.receive(.challenge(honestChallenge(f, sessionID: r3.sessionID)), now: f.t0)
        let otherSession = m.receive(.complete(Complete(sessionID: SessionID(bytes: FixedBytes()), rejection: nil)), now: f.t0)
        guard case .failed(.protocolViolation)? = otherSession.event else { return XCTFail() }
    }

    func testMessagesBeforeConnectingAreIgnored() {
        let f = Fixture()
        var j = f.joiner()
        let step = j.receive(.complete(Complete(sessionID: j.sessionID, rejection: nil)), now: f.t0)
        XCTAssertNil(step.event)
        XCTAssertEqual(j.state, .discovering)
        XCTAssertNil(j.connected(binding: f.joinerBinding(), now: f.t0).reply, "must be connecting first")
    }

    func testConnectionLoss() {
        let f = Fixture()
        var (j, _) = started(f)
        guard case .candidateFailed(.connectionLost)? = j.connectionLost(now: f.t0).event else { return XCTFail() }
        XCTAssertEqual(j.state, .discovering)
        var (k, r) = started(f)
        _ = k.receive(.challenge(honestChallenge(f, sessionID: r.sessionID)), now: f.t0)
        // After our Response the initiator may have recorded us: the loss is reported as an unconfirmed pairing.
        guard case .failed(.unconfirmed)? = k.connectionLost(now: f.t0).event else { return XCTFail() }
        XCTAssertEqual(k.state, .failed(.unconfirmed))
    }

    func testExpiry() {
        let f = Fixture()
        var (j, r) = started(f)
        XCTAssertNil(j.tick(now: f.t0.adding(seconds: 10)).event)
        let step = j.receive(.challenge(honestChallenge(f, sessionID: r.sessionID)), now: f.t0.adding(seconds: 300))
        guard case .expired? = step.event else { return XCTFail() }
        XCTAssertEqual(j.state, .expired)
        XCTAssertNil(j.tick(now: f.t0.adding(seconds: 400)).event, "reported once")
        XCTAssertNil(j.connecting(now: f.t0.adding(seconds: 400)).event)
        XCTAssertEqual(j.state, .expired)
    }
}
