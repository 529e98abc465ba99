#ifndef SD_BIP39_TABLE_H
#define SD_BIP39_TABLE_H
#include <stdint.h>

/* The BIP39 English wordlist, front-coded (Scripts/gen-wordlist.py says how); read only through sd_bip39_*. */
extern const uint16_t sd_bip39_starts[64];
extern const uint8_t sd_bip39_packed[];

#endif
