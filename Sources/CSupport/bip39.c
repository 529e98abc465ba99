#include "bip39_table.h"
#include "sd_support.h"

/* Reads `width` bits of the table at c->bit. */
static unsigned take(sd_bip39_cursor *c, int width) {
    unsigned v = 0;
    for (int k = 0; k < width; k++, c->bit++) v = v << 1 | ((sd_bip39_packed[c->bit >> 3] >> (7 - (c->bit & 7))) & 1);
    return v;
}

/* Decodes the word at c->bit into c->word: keep the letters it shares with the word before, add the rest. The
 * generated table (checked word for word by WordlistTests) never keeps more letters than the word before had nor
 * makes a word longer than 8 or a letter past 'z'; the word stays within its 8 bytes whatever the table says. */
static void decode(sd_bip39_cursor *c) {
    unsigned keep = take(c, 2), add = take(c, 3) + 1;
    c->length = keep < (unsigned)c->length ? (int)keep : c->length;
    for (unsigned j = 0; j < add; j++) {
        unsigned letter = take(c, 5);
        if (c->length < 8) c->word[c->length++] = (uint8_t)('a' + (letter < 26 ? letter : 25));
    }
}

void sd_bip39_seek(sd_bip39_cursor *c, int index) {
    if (index < 0) index = 0;
    if (index > 2047) index = 2047;
    c->bit = sd_bip39_starts[index >> 5];
    c->length = 0;
    for (c->index = index & ~31; ; c->index++) {
        decode(c);
        if (c->index == index) return;
    }
}

int sd_bip39_next(sd_bip39_cursor *c) {
    if (c->index >= 2047) return 0;
    c->index++;
    if ((c->index & 31) == 0) c->length = 0;
    decode(c);
    return 1;
}
