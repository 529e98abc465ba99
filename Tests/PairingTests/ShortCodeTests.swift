import Crypto
import TestSupport
import Wire
import XCTest

@testable import Pairing

/// The short code (issue 19): its format and check digit, and the PAKE run of the pairing state machines.
final class ShortCodeTests: XCTestCase {
    override class func setUp() { try! Sodium.initialize() }

    func digits(_ code: ShortCode) -> [UInt8] { (0..<12).map { code.digits[$0] - 0x30 } }

    func text(_ d: [UInt8]) -> String { String(d.map { Character(String($0)) }) }

    func parse(_ s: String) -> Result<PairingCode, CodeError> {
        Result { () throws(CodeError) in try PairingCode.parse(s) }
    }

    /// Damm's published example: 572 → check digit 4; and the whole table is a quasigroup with zero diagonal.
    func testDammTable() {
        var d = FixedBytes<12>()
        d[0] = 0x35
        d[1] = 0x37
        d[2] = 0x32
        XCTAssertEqual(ShortCode.checkDigit(d, count: 3), 4)
        for r in 0..<10 {
            XCTAssertEqual(ShortCode.dammStep(UInt8(r), UInt8(r)), 0, "zero diagonal")
            XCTAssertEqual(Set((0..<10).map { ShortCode.dammStep(UInt8(r), UInt8($0)) }).count, 10, "row \(r) is a permutation")
            XCTAssertEqual(Set((0..<10).map { ShortCode.dammStep(UInt8($0), UInt8(r)) }).count, 10, "column \(r) is a permutation")
        }
    }

    /// Every single wrong digit, at every position, of 500 codes is caught; so is every swap of two different
    /// neighbours. Each is reported before any network attempt, as a typo.
    func testEverySingleDigitTypoAndNeighbourSwapIsCaught() {
        var rng = SeededRandom(seed: 19)
        var checked = 0
        for _ in 0..<500 {
            let good = digits(ShortCode.generate(using: &rng))
            guard case .success(let code) = parse(text(good)), code.isShort else { return XCTFail("a generated code must parse: " + text(good)) }
            for position in 0..<12 {
                for wrong in 0..<10 where UInt8(wrong) != good[position] {
                    var typo = good
                    typo[position] = UInt8(wrong)
                    guard case .failure(.digitTypo) = parse(text(typo)) else { return XCTFail("typo not caught: " + text(typo)) }
                    checked += 1
                }
                if position < 11, good[position] != good[position + 1] {
                    var swapped = good
                    swapped.swapAt(position, position + 1)
                    guard case .failure(.digitTypo) = parse(text(swapped)) else { return XCTFail("swap not caught: " + text(swapped)) }
                }
            }
        }
        XCTAssertEqual(checked, 500 * 12 * 9)
    }

    /// Values from Scripts/reference-vectors.py (an independent hashlib/hmac implementation).
    func testReferenceVectors() throws {
        guard case .success(let code) = parse("5721-2345-6781"), let short = code.short else { return XCTFail("the reference code must parse") }
        XCTAssertEqual(CodeSecrets(code: code).sessionID.uuidString, "9189c7be-d56a-2704-ad59-466586f860d2")
        XCTAssertEqual(String(decoding: short.password.withUnsafeBytes { Array($0) }, as: UTF8.self), "12345678")
        let keys = PakeKeys(isk: FixedBytes(repeating: 0x55))
        XCTAssertEqual(Hex.encode(keys.confirmKey.bytes), "80f12244701b00225d216a3cb4dd99206a9a27262ac1592a87eca05cccc3d5ad")
        XCTAssertEqual(Hex.encode(keys.codeSecret.bytes), "667d05e2f2335e1f03138bb2a99da770ea18d10791f27083bf6a70fa1699f9c3")
    }

    func testShapeAndFormat() throws {
        var rng = SeededRandom(seed: 7)
        let code = PairingCode(short: ShortCode.generate(using: &rng))
        let shown = code.spelled.string
        XCTAssertEqual(shown.count, 14, "one 16-character LCD line")
        XCTAssertEqual(shown.split(separator: "-").map(\.count), [4, 4, 4])
        let plain = shown.replacingOccurrences(of: "-", with: "")
        // With or without dashes, spaces, around blanks: the same code.
        for typed in [shown, plain, " " + plain.prefix(4) + " " + plain.dropFirst(4) + "\n", plain.map(String.init).joined(separator: " ")] {
            guard case .success(let again) = parse(typed) else { return XCTFail("not accepted: " + typed) }
            XCTAssertEqual(again.spelled.string, shown)
            XCTAssertEqual(CodeSecrets(code: again).sessionID, CodeSecrets(code: code).sessionID)
        }
        XCTAssertEqual(parse(String(plain.dropLast())).failureMessage, "a short code has 12 digits, this one has 11 (one is missing)")
        XCTAssertEqual(parse(plain + "0").failureMessage, "a short code has 12 digits, this one has 13 (one too many)")
        // A letter makes it the 12-word mode, which takes digits as separators.
        guard case .failure(.wrongWordCount(1)) = parse(plain + "x") else { return XCTFail("letters are words") }
        // The session id depends on the three public digits only; a 12-word code never gives the same one.
        var other = digits(code.short!)
        other[5] = (other[5] + 1) % 10
        var ascii = FixedBytes<12>()
        for i in 0..<12 { ascii[i] = other[i] + 0x30 }
        other[11] = ShortCode.checkDigit(ascii, count: 11)
        guard case .success(let sameWindow) = parse(text(other)) else { return XCTFail() }
        XCTAssertEqual(CodeSecrets(code: sameWindow).sessionID, CodeSecrets(code: code).sessionID)
    }

    // MARK: The PAKE in the state machines

    struct Run {
        var window: InitiatorWindow<SeededRandom>
        var joiner: JoinerSession
        var handshake: InitiatorHandshake
        var transcript: [[UInt8]] = []
    }

    func start(_ f: Fixture, code: PairingCode, typed: PairingCode, hash: FixedBytes<32>? = nil) -> Run {
        var window = InitiatorWindow(code: code, localDevice: f.nas, policy: f.policy, now: f.t0, random: SeededRandom(seed: 5))
        _ = window.tick(now: f.t0)
        return Run(window: window, joiner: f.joiner(code: typed), handshake: f.handshake(hash: hash))
    }

    /// Runs messages both ways until one side stops answering; returns the last events.
    @discardableResult
    func exchange(_ run: inout Run, _ f: Fixture, joinerHash: FixedBytes<32>? = nil) -> (InitiatorEvent?, JoinerEvent?) {
        _ = run.joiner.connecting(now: f.t0)
        var toDevice = run.joiner.connected(binding: f.joinerBinding(hash: joinerHash), now: f.t0, random: &rng).reply
        var lastDevice: InitiatorEvent? = nil
        var lastJoiner: JoinerEvent? = nil
        for _ in 0..<8 {
            guard let m = toDevice else { break }
            run.transcript.append(encode(m))
            let step = run.window.receive(try! decode(encode(m)).get(), on: &run.handshake, now: f.t0)
            lastDevice = step.event ?? lastDevice
            guard let reply = step.reply else { break }
            run.transcript.append(encode(reply))
            let back = run.joiner.receive(try! decode(encode(reply)).get(), now: f.t0)
            lastJoiner = back.event ?? lastJoiner
            toDevice = back.reply
        }
        return (lastDevice, lastJoiner)
    }

    var rng = SeededRandom(seed: 3)

    func shortCode(_ seed: UInt64) -> PairingCode {
        var r = SeededRandom(seed: seed)
        return PairingCode(short: ShortCode.generate(using: &r))
    }

    /// Same discriminator (so the same window), other secret digits, a valid check digit: a wrong code that gets
    /// past the typo check.
    func wrongSecret(_ code: PairingCode, _ k: Int) -> PairingCode {
        var d = digits(code.short!)
        for i in 3..<11 { d[i] = UInt8((Int(d[i]) + k + i) % 10) }
        var fixed = FixedBytes<12>()
        for i in 0..<11 { fixed[i] = d[i] + 0x30 }
        fixed[11] = ShortCode.checkDigit(fixed, count: 11) + 0x30
        return PairingCode(short: ShortCode(digits: fixed))
    }

    func testShortCodePairsWithTheSameKeysOnBothSides() {
        let f = Fixture()
        let code = shortCode(11)
        var run = start(f, code: code, typed: code)
        let (device, joiner) = exchange(&run, f)
        guard case .paired(let a)? = device, case .paired(let b)? = joiner else { return XCTFail("not paired: \(String(describing: device)) \(String(describing: joiner))") }
        XCTAssertTrue(a.sessionKeys.sendKey.constantTimeEquals(b.sessionKeys.receiveKey))
        XCTAssertTrue(a.sessionKeys.receiveKey.constantTimeEquals(b.sessionKeys.sendKey))
        XCTAssertEqual(run.transcript.count, 6, "share, share, request, challenge, response, complete")
        XCTAssertEqual(run.window.state, .completed)
    }

    /// One guess per connection, counted; the fifth wrong one burns the window, and the right code is then refused.
    func testWrongShortCodesAreCountedAndFiveBurnTheWindow() {
        let f = Fixture()
        let code = shortCode(12)
        var window = InitiatorWindow(code: code, localDevice: f.nas, policy: f.policy, now: f.t0, random: SeededRandom(seed: 5))
        for k in 1...5 {
            var run = Run(window: window, joiner: f.joiner(code: wrongSecret(code, k)), handshake: f.handshake())
            let (device, joiner) = exchange(&run, f)
            window = run.window
            XCTAssertEqual(window.failedAttempts, k)
            if k < 5 {
                guard case .attemptFailed(.wrongCode, let remaining)? = device else { return XCTFail("attempt \(k): \(String(describing: device))") }
                XCTAssertEqual(remaining, 5 - k)
            } else {
                guard case .burned(after: .wrongCode)? = device else { return XCTFail("not burned: \(String(describing: device))") }
            }
            // A wrong code is final for the joiner (its device refused the digits); a burned window is a refusal like
            // any other.
            if k < 5 {
                guard case .failed(.digitsRefused)? = joiner else { return XCTFail("joiner: \(String(describing: joiner))") }
            } else {
                guard case .candidateFailed(.rejected(.codeBurned))? = joiner else { return XCTFail("joiner: \(String(describing: joiner))") }
            }
        }
        var run = Run(window: window, joiner: f.joiner(code: code), handshake: f.handshake())
        let (_, joiner) = exchange(&run, f)
        guard case .candidateFailed(.rejected(.codeBurned))? = joiner else { return XCTFail("\(String(describing: joiner))") }
    }

    /// The joiner's side of "one guess per connection": a peer posing as the device (it answers with a share of its own
    /// choosing) gets the joiner's proof, which tests the one password its share was built from. Every candidate that
    /// takes a proof and never proves itself is counted on the session the agent keeps; the fifth ends the join.
    func testPeersThatTakeAProofWithoutProvingThemselvesAreCounted() {
        let f = Fixture()
        let code = shortCode(16)
        var session = f.joiner(code: code)
        var r = SeededRandom(seed: 8)
        let fake = CPace.share(CPace.scalar(using: &r), generator: CPace.generator(
            password: UnsafeRawBufferPointer(start: nil, count: 0), channel: UnsafeRawBufferPointer(start: nil, count: 0),
            session: UnsafeRawBufferPointer(start: nil, count: 0)))
        for k in 1...5 {
            var candidate = session  // the agent dials each candidate with a copy
            _ = candidate.connecting(now: f.t0)
            guard case .share? = candidate.connected(binding: f.joinerBinding(), now: f.t0, random: &rng).reply else { return XCTFail() }
            guard case .request? = candidate.receive(.share(PakeShare(sessionID: candidate.sessionID, share: fake)), now: f.t0).reply else { return XCTFail() }
            let lost = candidate.connectionLost(now: f.t0)
            XCTAssertTrue(lost.proofExposed, "attempt \(k)")
            guard case .candidateFailed(.connectionLost)? = lost.event else { return XCTFail("\(String(describing: lost.event))") }
            let counted = session.peerLeftUnproven()
            if k < 5 {
                XCTAssertNil(counted.event)
            } else {
                guard case .failed(.unprovenPeers(5))? = counted.event else { return XCTFail("\(String(describing: counted.event))") }
                XCTAssertTrue(session.state.isTerminal)
            }
        }
        // A candidate dropped before our proof went out (no share back) costs nothing.
        var early = f.joiner(code: code)
        _ = early.connecting(now: f.t0)
        _ = early.connected(binding: f.joinerBinding(), now: f.t0, random: &rng)
        XCTAssertFalse(early.connectionLost(now: f.t0).proofExposed)
    }

    /// A man in the middle (or a relay splicing two connections) has a different Noise handshake hash on each side:
    /// the generators differ, so the proofs fail, as with a wrong code.
    func testTheChannelIsBoundIntoThePake() {
        let f = Fixture()
        let code = shortCode(13)
        var run = start(f, code: code, typed: code)
        var other = f.handshakeHash
        other[0] ^= 1
        let (device, _) = exchange(&run, f, joinerHash: other)
        guard case .attemptFailed(.wrongCode, _)? = device else { return XCTFail("\(String(describing: device))") }
    }

    /// The protocol's order is enforced: no request before the shares in short mode, no share in the 12-word mode,
    /// and a share that is not a ristretto255 element is refused without counting as a guess.
    func testMessagesOutOfTheShortModesOrderAreRefused() {
        let f = Fixture()
        let code = shortCode(14)
        var window = InitiatorWindow(code: code, localDevice: f.nas, policy: f.policy, now: f.t0, random: SeededRandom(seed: 5))
        var h = f.handshake()
        let request = PairingRequest(sessionID: window.sessionID, deviceInfo: .withheld, publicKey: f.joinerKeys.publicKey, joinerProof: FixedBytes())
        XCTAssertEqual(window.receive(.request(request), on: &h, now: f.t0).reply, .complete(Complete(sessionID: window.sessionID, rejection: .protocolError)))
        var h2 = f.handshake()
        let bad = PakeShare(sessionID: window.sessionID, share: FixedBytes(repeating: 0xFF))
        XCTAssertEqual(window.receive(.share(bad), on: &h2, now: f.t0).reply, .complete(Complete(sessionID: window.sessionID, rejection: .protocolError)))
        XCTAssertEqual(window.failedAttempts, 0)
        var long = f.window()
        var h3 = f.handshake()
        XCTAssertEqual(long.receive(.share(PakeShare(sessionID: long.sessionID, share: FixedBytes())), on: &h3, now: f.t0).reply?.sessionID, long.sessionID)
        XCTAssertEqual(long.failedAttempts, 0)
    }

    /// Nothing sent or published lets anyone test a guess offline: neither the 8 secret digits nor the generator of
    /// any password (the true one among 20 000 others) appears in the session id (what the TXT record publishes) or
    /// anywhere in a whole run's messages, and the shares differ from run to run for the same code.
    func testNothingPublishedOrSentHoldsTheDigitsOrAGenerator() throws {
        let f = Fixture()
        let code = shortCode(15)
        var run = start(f, code: code, typed: code)
        exchange(&run, f)
        XCTAssertEqual(run.window.state, .completed)
        var published = run.transcript.flatMap { $0 }
        let sid = CodeSecrets(code: code).sessionID
        published += sid.bytes.withUnsafeBytes { Array($0) }
        published += Array(sid.hex.utf8)
        let secret = Array(digits(code.short!)[3..<11].map { $0 + 0x30 })
        XCTAssertNil(find(secret, in: published), "the digits themselves")
        // Every 32-byte window of what was published or sent, then the generator of the true password and of 20 000
        // others: none may appear.
        var windows = Set<[UInt8]>()
        for i in 0...(published.count - 32) { windows.insert(Array(published[i..<(i + 32)])) }
        var candidates = [secret]
        var r = SeededRandom(seed: 77)
        for _ in 0..<20_000 {
            let x: FixedBytes<8> = r.bytes()
            candidates.append((0..<8).map { 0x30 + x[$0] % 10 })
        }
        var found = 0
        for pw in candidates {
            let g = pw.withUnsafeBytes { p in
                f.handshakeHash.withUnsafeBytes { ci in sid.bytes.withUnsafeBytes { s in CPace.generator(password: p, channel: ci, session: s) } }
            }
            if windows.contains(g.withUnsafeBytes { Array($0) }) { found += 1 }
        }
        XCTAssertEqual(found, 0, "a generator appears in the transcript")
        var again = start(f, code: code, typed: code)
        again.window = InitiatorWindow(code: code, localDevice: f.nas, policy: f.policy, now: f.t0, random: SeededRandom(seed: 6))
        exchange(&again, f)
        XCTAssertNotEqual(again.transcript[0], run.transcript[0], "the joiner's share is fresh each run")
        XCTAssertNotEqual(again.transcript[1], run.transcript[1], "so is the device's")
    }

    func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        for i in 0...(haystack.count - needle.count) where Array(haystack[i..<(i + needle.count)]) == needle { return i }
        return nil
    }

    func testTheShareMessageCodec() {
        let m = PairingMessage.share(PakeShare(sessionID: SessionID(bytes: FixedBytes(repeating: 3)), share: FixedBytes(repeating: 9)))
        let bytes = encode(m)
        XCTAssertEqual(bytes.count, 2 + 16 + 32)
        XCTAssertEqual(try decode(bytes).get(), m)
        XCTAssertEqual(decode(Array(bytes.dropLast())), .failure(.truncated))
        XCTAssertEqual(decode(bytes + [0]), .failure(.trailingBytes(count: 1)))
    }
}

extension Result where Failure == CodeError {
    var failureMessage: String? {
        if case .failure(let e) = self { return e.message }
        return nil
    }
}
