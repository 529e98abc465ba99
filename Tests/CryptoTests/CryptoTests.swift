import TestSupport
import XCTest

@testable import Crypto
import Wire

final class CryptoTests: XCTestCase {
    override class func setUp() { try! Sodium.initialize() }

    func testSHA256() {
        let d = Array("abc".utf8).withUnsafeBytes { SHA256.hash($0) }
        XCTAssertEqual(Hex.encode(d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var s = SHA256()
        Array("a".utf8).withUnsafeBytes { s.update($0) }
        Array("bc".utf8).withUnsafeBytes { s.update($0) }
        XCTAssertEqual(s.finalize(), d)
    }

    func testHMACRFC4231Case2() {
        let tag = Array("Jefe".utf8).withUnsafeBytes { k in
            Array("what do ya want for nothing?".utf8).withUnsafeBytes { m in HMACSHA256.authenticate(key: k, message: m) }
        }
        XCTAssertEqual(Hex.encode(tag), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    /// RFC 5869 appendix A, test cases 1–3 (SHA-256).
    func testHKDFRFC5869() throws {
        struct Case { var ikm, salt, info, prk, okm: String }
        let cases = [
            Case(
                ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", salt: "000102030405060708090a0b0c", info: "f0f1f2f3f4f5f6f7f8f9",
                prk: "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
                okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
            Case(
                ikm: String(repeating: "", count: 0) + (0x00...0x4f).map { String(format: "%02x", $0) }.joined(),
                salt: (0x60...0xaf).map { String(format: "%02x", $0) }.joined(),
                info: (0xb0...0xff).map { String(format: "%02x", $0) }.joined(),
                prk: "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
                okm: "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"),
            Case(
                ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", salt: "", info: "",
                prk: "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
                okm: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
        ]
        for c in cases {
            let prk = hex(c.ikm).withUnsafeBytes { ikm in hex(c.salt).withUnsafeBytes { salt in HKDF.extract(salt: salt, ikm: ikm) } }
            XCTAssertEqual(Hex.encode(prk.bytes), c.prk)
            var okm = [UInt8](repeating: 0, count: hex(c.okm).count)
            try hex(c.info).withUnsafeBytes { info in
                try okm.withUnsafeMutableBytes { out in try HKDF.expand(prk: prk, info: info, into: out) }
            }
            XCTAssertEqual(okm, hex(c.okm))
        }
    }

    func testHKDFRefusesTooLongOutput() {
        var out = [UInt8](repeating: 0, count: HKDF.maxOutputLength + 1)
        let prk = SymmetricKey(bytes: FixedBytes())
        XCTAssertThrowsError(try out.withUnsafeMutableBytes { o in
            try HKDF.expand(prk: prk, info: UnsafeRawBufferPointer(start: nil, count: 0), into: o)
        }) { XCTAssertEqual($0 as? CryptoError, .outputTooLong) }
    }

    /// RFC 8032 §7.1 test 1.
    func testEd25519RFC8032() {
        let pair = Ed25519.KeyPair(seed: fixed("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        XCTAssertEqual(Hex.encode(pair.publicKey.bytes), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        let sig = Ed25519.sign(empty, with: pair.secretKey)
        XCTAssertEqual(
            Hex.encode(sig.bytes),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        XCTAssertNoThrow(try Ed25519.verify(sig, of: empty, by: pair.publicKey))
        var forged = sig
        forged.bytes[0] ^= 1
        XCTAssertThrowsError(try Ed25519.verify(forged, of: empty, by: pair.publicKey)) {
            XCTAssertEqual($0 as? CryptoError, .invalidSignature)
        }
        XCTAssertFalse(Array("x".utf8).withUnsafeBytes { Ed25519.isValidSignature(sig, of: $0, by: pair.publicKey) })
        XCTAssertEqual(pair.secretKey.seed, fixed("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
    }

    /// RFC 7748 §6.1.
    func testX25519RFC7748() throws {
        let alice = X25519.SecretKey(bytes: fixed("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
        let bob = X25519.SecretKey(bytes: fixed("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
        XCTAssertEqual(Hex.encode(alice.publicKey.bytes), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        XCTAssertEqual(Hex.encode(bob.publicKey.bytes), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        let k1 = try X25519.sharedSecret(alice, bob.publicKey)
        let k2 = try X25519.sharedSecret(bob, alice.publicKey)
        XCTAssertEqual(Hex.encode(k1.bytes), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        XCTAssertTrue(k1.constantTimeEquals(k2))
        // A low-order point (here zero) must be refused, not yield an all-zero key.
        XCTAssertThrowsError(try X25519.sharedSecret(alice, X25519.PublicKey(bytes: FixedBytes()))) {
            XCTAssertEqual($0 as? CryptoError, .weakPublicKey)
        }
    }

    /// RFC 8439 §2.8.2.
    func testChaChaPolyRFC8439() throws {
        let key = SymmetricKey(bytes: FixedBytes<32>(Array(0x80...0x9f))!)
        let nonce: ChaChaPoly.Nonce = fixed("070000004041424344454647")
        let aad = hex("50515253c0c1c2c3c4c5c6c7")
        let plaintext = Array(
            "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
        var sealed = [UInt8](repeating: 0, count: plaintext.count + 16)
        try aad.withUnsafeBytes { a in
            try plaintext.withUnsafeBytes { p in
                try sealed.withUnsafeMutableBytes { o in try ChaChaPoly.seal(key: key, nonce: nonce, associatedData: a, plaintext: p, into: o) }
            }
        }
        XCTAssertEqual(Array(sealed.prefix(16)), hex("d31a8d34648e60db7b86afbc53ef7ec2"))
        XCTAssertEqual(Array(sealed.suffix(16)), hex("1ae10b594f09e26a7e902ecbd0600691"))

        var opened = [UInt8](repeating: 0, count: plaintext.count)
        try aad.withUnsafeBytes { a in
            try sealed.withUnsafeBytes { c in
                try opened.withUnsafeMutableBytes { o in try ChaChaPoly.open(key: key, nonce: nonce, associatedData: a, ciphertext: c, into: o) }
            }
        }
        XCTAssertEqual(opened, plaintext)

        sealed[5] ^= 0x01
        XCTAssertThrowsError(try aad.withUnsafeBytes { a in
            try sealed.withUnsafeBytes { c in
                try opened.withUnsafeMutableBytes { o in try ChaChaPoly.open(key: key, nonce: nonce, associatedData: a, ciphertext: c, into: o) }
            }
        }) { XCTAssertEqual($0 as? CryptoError, .authenticationFailed) }
        XCTAssertEqual(opened, [UInt8](repeating: 0, count: plaintext.count), "no unauthenticated plaintext is left behind")

        var short = [UInt8](repeating: 0, count: 3)
        XCTAssertThrowsError(try short.withUnsafeMutableBytes { o in
            try [UInt8](repeating: 0, count: 8).withUnsafeBytes { c in
                try ChaChaPoly.open(key: key, nonce: nonce, associatedData: UnsafeRawBufferPointer(start: nil, count: 0), ciphertext: c, into: o)
            }
        }) { XCTAssertEqual($0 as? CryptoError, .badLength) }
    }

    func testWipeAndConstantTimeCompare() {
        var a = FixedBytes<32>(repeating: 0xAA)
        let b = FixedBytes<32>(repeating: 0xAA)
        XCTAssertTrue(a.constantTimeEquals(b))
        a[31] = 0
        XCTAssertFalse(a.constantTimeEquals(b))
        a.wipe()
        XCTAssertEqual(a, FixedBytes<32>())
        XCTAssertFalse([UInt8](repeating: 1, count: 3).withUnsafeBytes { x in
            [UInt8](repeating: 1, count: 4).withUnsafeBytes { y in Sodium.constantTimeEqual(x, y) }
        })
    }

    func testRandomDiffers() {
        var rng = SystemRandom()
        let a: FixedBytes<32> = rng.bytes()
        let b: FixedBytes<32> = rng.bytes()
        XCTAssertNotEqual(a, b)
    }
}
