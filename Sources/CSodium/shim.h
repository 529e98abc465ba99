// The one libsodium header; Crypto is the only Swift module that imports this.
#include <sodium.h>
