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

/* A latency histogram as Pulsar's (pulsar_storage_write_latency_*, ..._ledger_write_latency_*):
 * each value counted in one of MG_LAT_BUCKETS ranges, <= 0.5, 1, 5, 10, 20, 50, 100, 200,
 * 1000 ms and over, and their sum in µs. */
#define MG_LAT_BUCKETS 10
typedef struct mg_lat_hist {
    uint64_t buckets[MG_LAT_BUCKETS];
    uint64_t sum_us;
} mg_lat_hist_t;

static inline void mg_lat_hist_add(mg_lat_hist_t *h, uint64_t us)
{
    static const uint64_t upper_us[MG_LAT_BUCKETS - 1] = {500, 1000, 5000, 10000, 20000,
                                                          50000, 100000, 200000, 1000000};
    int i = 0;
    while (i < MG_LAT_BUCKETS - 1 && us > upper_us[i]) i++;
    h->buckets[i]++;
    h->sum_us += us;
}

#endif
