/* clock: the two clocks hookline uses: monotonic seconds for durations and deadlines,
 * wall-clock milliseconds for timestamps that leave the process. */
#ifndef HOOKLINE_CLOCK_H
#define HOOKLINE_CLOCK_H

double clock_mono_s(void);
long long clock_unix_ms(void);

#endif
