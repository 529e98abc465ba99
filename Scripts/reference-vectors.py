#!/usr/bin/env python3
"""An independent reference of sd-pair's v1 derivations (hashlib/hmac only, no project code), used to produce the
test vectors in Tests/PairingTests and Docs/PROTOCOL.md. Run it to re-derive them."""
import hashlib, hmac, pathlib

def hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]

def words_for(entropy: bytes) -> str:
    wordlist = (pathlib.Path(__file__).resolve().parent.parent / "Data" / "bip39-english.txt").read_text().split()
    bits = int.from_bytes(entropy, "big") << 4 | hashlib.sha256(entropy).digest()[0] >> 4
    return " ".join(wordlist[(bits >> (11 * (11 - i))) & 0x7FF] for i in range(12))

def uuid(b: bytes) -> str:
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

SALT = b"sd-pair/v1"
def derive(entropy: bytes):
    return {
        "session_id": hkdf(SALT, entropy, b"sd-pair/v1/session-id", 16),
        "advert_key": hkdf(SALT, entropy, b"sd-pair/v1/advert-key", 32),
        "confirm_key": hkdf(SALT, entropy, b"sd-pair/v1/confirm-key", 32),
        "code_secret": hkdf(SALT, entropy, b"sd-pair/v1/code-secret", 32),
    }

if __name__ == "__main__":
    for hexent in ["00000000000000000000000000000000", "000102030405060708090a0b0c0d0e0f", "ffffffffffffffffffffffffffffffff"]:
        e = bytes.fromhex(hexent)
        d = derive(e)
        print(f"entropy      {hexent}")
        print(f"words        {words_for(e)}")
        print(f"session_id   {uuid(d['session_id'])}")
        for k in ("advert_key", "confirm_key", "code_secret"):
            print(f"{k:<12} {d[k].hex()}")
        print()
    # Proofs and session keys for entropy 000102…0f with fixed channel-binding inputs.
    e = bytes(range(16)); d = derive(e)
    h = bytes([0x11]) * 32; x = bytes([0x22]) * 32; pk = bytes([0x33]) * 32; ch = bytes([0x44]) * 32
    sid = d["session_id"]
    print("with h = 11…11, exporter = 22…22, joiner public key = 33…33, challenge = 44…44:")
    print("joiner_proof    ", hmac.new(d["confirm_key"], b"sd-pair/v1/joiner-proof" + h + sid + pk, hashlib.sha256).hexdigest())
    print("initiator_proof ", hmac.new(d["confirm_key"], b"sd-pair/v1/initiator-proof" + h + sid + ch, hashlib.sha256).hexdigest())
    print("signed message  ", (b"sd-pair/v1/challenge" + sid + ch + h).hex())
    keys = hkdf(sid, d["code_secret"] + x, b"sd-pair/v1/session-keys", 64)
    print("key i->j        ", keys[:32].hex())
    print("key j->i        ", keys[32:].hex())
    # The short code (Docs/PROTOCOL.md §10): Damm's check digit, the session id from the three public digits, and
    # the two keys a PAKE's ISK gives (ISK = 55…55, 64 bytes; the ISK itself is CPace's, whose vectors are the draft's).
    DAMM = ["0317598642", "7092154863", "4206871359", "1750983426", "6123045978",
            "3674209581", "5869720134", "8945362017", "9438617205", "2581436790"]
    def damm(digits: str) -> int:
        interim = 0
        for c in digits:
            interim = int(DAMM[interim][int(c)])
        return interim
    first11 = "57212345678"
    code = first11 + str(damm(first11))
    print()
    print(f"short code   {code[:4]}-{code[4:8]}-{code[8:]}")
    print(f"session_id   {uuid(hkdf(b'sd-pair/v1/short', code[:3].encode(), b'sd-pair/v1/session-id', 16))}")
    print(f"password     {code[3:11]}")
    isk = bytes([0x55]) * 64
    print(f"confirm_key  {hkdf(b'sd-pair/v1/short', isk, b'sd-pair/v1/confirm-key', 32).hex()}  (from ISK 55…55)")
    print(f"code_secret  {hkdf(b'sd-pair/v1/short', isk, b'sd-pair/v1/code-secret', 32).hex()}")
