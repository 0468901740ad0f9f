/* timeutil.h - wall-clock milliseconds (publish times, Pulsar timestamps) and a monotonic
 * clock (timers, latency). */
#ifndef MG_TIMEUTIL_H
#define MG_TIMEUTIL_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline uint64_t mg_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline uint64_t mg_mono_ms(void) { return mg_mono_us() / 1000; }

#endif
