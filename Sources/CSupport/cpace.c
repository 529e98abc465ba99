// CPace-RISTRETTO255-SHA512's two hashes (draft-irtf-cfrg-cpace, sections "Definition of the group environment
// G_Ristretto255" and "CPace protocol"), in C because the same lines in Swift cost the board build about three
// times the bytes. Every primitive is libsodium's; Sources/Crypto/CPace.swift is the typed face of these.
#include <sodium.h>
#include "sd_support.h"

// prepend_len: the length as LEB128, then the bytes. Not inlined: it is called twelve times.
__attribute__((noinline)) static void lv(crypto_hash_sha512_state *st, const unsigned char *p, size_t n) {
    unsigned char len[10];
    size_t k = 0, v = n;
    do {
        len[k] = v & 0x7f;
        v >>= 7;
        if (v) len[k] |= 0x80;
        k++;
    } while (v);
    crypto_hash_sha512_update(st, len, k);
    crypto_hash_sha512_update(st, p, n);
}

static size_t lv_size(size_t n) {
    size_t k = 1;
    while (n >>= 7) k++;
    return k;
}

void sd_cpace_generator(unsigned char g[32], const unsigned char *prs, size_t prs_len, const unsigned char *ci, size_t ci_len,
                        const unsigned char *sid, size_t sid_len) {
    static const unsigned char dsi[] = "CPaceRistretto255";
    unsigned char zeros[128] = {0};
    // zero_bytes(len_zpad) fills the first SHA-512 block after DSI and PRS: hashing time does not depend on the PRS.
    size_t used = 1 + lv_size(prs_len) + prs_len + lv_size(sizeof dsi - 1) + sizeof dsi - 1;
    crypto_hash_sha512_state st;
    unsigned char h[64];
    crypto_hash_sha512_init(&st);
    lv(&st, dsi, sizeof dsi - 1);
    lv(&st, prs, prs_len);
    lv(&st, zeros, used < 128 ? 128 - used : 0);
    lv(&st, ci, ci_len);
    lv(&st, sid, sid_len);
    crypto_hash_sha512_final(&st, h);
    crypto_core_ristretto255_from_hash(g, h);
    sodium_memzero(h, sizeof h);
    sodium_memzero(&st, sizeof st);
}

int sd_cpace_isk(unsigned char isk[64], const unsigned char y[32], const unsigned char peer[32], const unsigned char *sid, size_t sid_len,
                 const unsigned char ya[32], const unsigned char *ada, size_t ada_len, const unsigned char yb[32],
                 const unsigned char *adb, size_t adb_len) {
    static const unsigned char dsi[] = "CPaceRistretto255_ISK";
    unsigned char k[32];
    // libsodium refuses a peer share that does not decode and a product that is the identity: the draft's abort.
    if (crypto_scalarmult_ristretto255(k, y, peer) != 0) return -1;
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    lv(&st, dsi, sizeof dsi - 1);
    lv(&st, sid, sid_len);
    lv(&st, k, 32);
    lv(&st, ya, 32);
    lv(&st, ada, ada_len);
    lv(&st, yb, 32);
    lv(&st, adb, adb_len);
    crypto_hash_sha512_final(&st, isk);
    sodium_memzero(k, sizeof k);
    sodium_memzero(&st, sizeof st);
    return 0;
}
