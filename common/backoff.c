/* backoff: see backoff.h. */
#include "common/backoff.h"

#include <stdint.h>

#include "common/crypto.h"

long backoff_delay_ms(long base, long max, long attempt)
{
    double d = (double)base;
    for (long i = 1; i < attempt && d < (double)max; i++)
        d *= 2;
    return d > (double)max ? max : (long)d;
}

long backoff_jitter_ms(long ms, double u)
{
    if (ms <= 0)
        return ms;
    double d = (double)ms * (0.8 + 0.4 * u);
    return d < 1 ? 1 : (long)d;
}

double backoff_random(void)
{
    uint32_t r = 0;
    if (crypto_random(&r, sizeof r) < 0)
        return 0.5;
    return (double)r / 4294967296.0;
}

long backoff_ms(long base, long max, long attempt)
{
    return backoff_jitter_ms(backoff_delay_ms(base, max, attempt), backoff_random());
}
