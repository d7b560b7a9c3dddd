/*
 * backoff: how long to wait before trying again, for every retry loop of hookline (a
 * delivery's attempts within a pass and its retry passes, a sync run's attempts, a
 * deferral behind a saturated destination): a base delay doubled per attempt up to a
 * cap, spread by ±20% jitter so that many waiters that failed together do not all come
 * back together. Thread-safe (no state).
 */
#ifndef HOOKLINE_BACKOFF_H
#define HOOKLINE_BACKOFF_H

/* base doubled per attempt after the first (attempt 1: base, 2: 2*base, ...), at most
 * max (attempt < 1 counts as 1). No jitter. */
long backoff_delay_ms(long base, long max, long attempt);

/* ms spread by jitter u in [0, 1): ms * (0.8 + 0.4 u), so ±20% around ms; at least 1
 * when ms > 0, and ms unchanged when ms <= 0. Pure: tests pass their own u. */
long backoff_jitter_ms(long ms, double u);

/* A uniform number in [0, 1) from the system's random source, or 0.5 (no jitter) when
 * none can be had. */
double backoff_random(void);

/* backoff_delay_ms spread by backoff_jitter_ms with a fresh backoff_random(). */
long backoff_ms(long base, long max, long attempt);

#endif
