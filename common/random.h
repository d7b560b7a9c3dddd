/*
 * random: bytes from the kernel's CSPRNG (getrandom(2)), for secrets, nonces and ids.
 * OpenSSL's RAND_bytes was a tenth of the ingress's CPU per webhook (its DRBG sets up an
 * AES context on every call); the kernel's generator is as strong and a third of the
 * cost. Header-only so that small objects (traceparent, fuzz targets) need no extra file.
 *
 * Threads: thread-safe.
 */
#ifndef HOOKLINE_RANDOM_H
#define HOOKLINE_RANDOM_H

#include <errno.h>
#include <stddef.h>
#include <sys/random.h>
#include <sys/types.h>

/* Fills len bytes at out; 0, or -1 if the kernel cannot give them (never partly filled
 * on success). Blocks only before the kernel's generator is first seeded at boot. */
static inline int random_fill(void *out, size_t len)
{
    unsigned char *p = out;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

#endif
