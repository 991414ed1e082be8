/* sha256.h - SHA-256 (FIPS 180-4) of a buffer or a file.
 *
 * Sweeps name model files by the hash of their bytes and verify them on
 * resume; the digest is printed as 64 lowercase hex characters, as
 * sha256sum(1) prints it. */
#ifndef LLFC_SHA256_H
#define LLFC_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t len;        /* bytes hashed so far */
    unsigned char buf[64];
    size_t nbuf;
} llfc_sha256;

void llfc_sha256_init(llfc_sha256 *c);
void llfc_sha256_update(llfc_sha256 *c, const void *data, size_t n);
/* The 32-byte digest; c must be initialised again before reuse. */
void llfc_sha256_final(llfc_sha256 *c, unsigned char out[32]);
/* Digest of a buffer as 64 hex characters and a terminating NUL. */
void llfc_sha256_hex(const void *data, size_t n, char hex[65]);
/* Digest of a file's bytes as hex.  -1 + "PATH: cannot open: ..." (or a read
 * error) when the file cannot be read. */
int llfc_sha256_file(const char *path, char hex[65]);

#endif
