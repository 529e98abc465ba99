// The QR code behind `--qr`, made by libqrencode. The library is opened at run time (dlopen) rather than linked:
// most boards show the code on a log or a small display and never need it, so the agent must not depend on it.
// qrencode.h (libqrencode-dev) gives the types and signatures; nothing of the library is linked.
#include "sd_support.h"
#include <dlfcn.h>
#include <string.h>
#include <qrencode.h>

int sd_qr_encode(const char *text, uint8_t *modules, int capacity) {
    void *lib = dlopen("libqrencode.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return -ENOENT;
    __typeof__(QRcode_encodeString) *encode = (__typeof__(QRcode_encodeString) *)dlsym(lib, "QRcode_encodeString");
    __typeof__(QRcode_free) *release = (__typeof__(QRcode_free) *)dlsym(lib, "QRcode_free");
    if (!encode || !release) {
        dlclose(lib);
        return -ENOENT;
    }
    // Level M (15 % recoverable): a screen photographed at an angle. Not case-sensitive, so the words go in the
    // denser alphanumeric mode (upper case); the code parser accepts any case.
    QRcode *qr = encode(text, 0, QR_ECLEVEL_M, QR_MODE_8, 0);
    int result;
    if (!qr) {
        result = -EINVAL;
    } else if (qr->width * qr->width > capacity) {
        result = -ENOSPC;
    } else {
        for (int i = 0; i < qr->width * qr->width; i++) modules[i] = qr->data[i] & 1;  // bit 0: dark module
        result = qr->width;
    }
    // The symbol encodes the code: clear it before the library frees it (its own internal copies of the input
    // are beyond our reach, see THREAT-MODEL).
    if (qr) explicit_bzero(qr->data, (size_t)qr->width * (size_t)qr->width);
    if (qr) release(qr);
    dlclose(lib);
    return result;
}
