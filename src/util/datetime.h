/*
 * datetime.h: ISO-8601 durations and date-times, and time zones read from the
 * system's tz database (/usr/share/zoneinfo, TZif files).
 *
 * kite never uses the process-wide TZ variable or localtime(): zones are
 * explicit objects, safe to use from many threads at once. Instants are
 * microseconds since the Unix epoch, UTC (int64_t "us").
 */
#ifndef KITE_UTIL_DATETIME_H
#define KITE_UTIL_DATETIME_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define US_PER_SEC 1000000LL
#define US_PER_MS 1000LL

/* ---- durations ---------------------------------------------------------- */

/* Parses an ISO-8601 duration ("PT0.05S", "PT1H30M", "P1D", "P1DT2H", "-PT5S",
 * "P2W") into microseconds. Years and months are refused (they have no fixed
 * length). Returns 0, or -1 with a message in e. */
int duration_parse(const char *s, int64_t *us /* OUT */, kerr *e);
/* Formats microseconds as an ISO-8601 duration ("PT1H30M", "PT0.05S", "PT0S")
 * into out (at least 64 bytes). */
void duration_format(int64_t us, char *out, size_t outsz);

/* ---- civil time --------------------------------------------------------- */

/* A broken-down time in some zone. */
typedef struct civil {
    int year, month, day;       /* month 1-12, day 1-31 */
    int hour, min, sec;
    int usec;                   /* 0..999999 */
    int wday;                   /* 0 = Sunday .. 6 */
    int yday;                   /* 1..366 */
    int offset;                 /* seconds east of UTC in force */
} civil;

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t days_from_civil(int y, int m, int d);
void civil_from_days(int64_t days, int *y, int *m, int *d);

/* Now, in microseconds since the epoch (CLOCK_REALTIME). */
int64_t time_now_us(void);
/* A monotonic clock in microseconds, for timeouts and benchmarks. */
int64_t time_mono_us(void);

/* ---- time zones ---------------------------------------------------------- */

typedef struct tzone tzone;

/* Returns the zone named name ("Europe/Paris", "UTC", "Z", fixed offsets such
 * as "+02:00" or "UTC+2"), loaded once from the tz database and cached for the
 * process lifetime; NULL with a message in e when it does not exist. Zones
 * are immutable and shared: never freed by the caller. Thread-safe. */
const tzone *tz_get(const char *name, kerr *e);
const tzone *tz_utc(void);
/* The zone of this system (TZ variable, else /etc/localtime), UTC if unknown. */
const tzone *tz_local(void);
const char *tz_name(const tzone *z);

/* The UTC offset in seconds in force at instant us. */
int tz_offset_at(const tzone *z, int64_t us);
/* Instant to civil time in zone z. */
void tz_to_civil(const tzone *z, int64_t us, civil *c /* OUT */);
/* Civil time (year..usec; wday/yday/offset ignored) in zone z to an instant.
 * For a time that falls in a gap (spring forward) the result is shifted
 * forward by the gap's length (as java.time does); for a time that occurs
 * twice (fall back) the earlier instant is returned. */
int64_t tz_from_civil(const tzone *z, const civil *c);

/* ---- ISO-8601 date-times ------------------------------------------------ */

/* Parses "2024-01-15T10:30:00Z", "...+02:00", "...[Europe/Paris]",
 * fractions of seconds, "2024-01-15" (midnight) and "2024-01-15T10:30"
 * (no zone: read in zone dflt, UTC when NULL). Returns 0 and the instant and
 * the offset that was written (or the zone's offset), or -1 with a message. */
int datetime_parse(const char *s, const tzone *dflt, int64_t *us /* OUT */,
                   int *offset /* OUT, may be NULL */, kerr *e);
/* Formats as Kestra does: "2024-01-15T10:30:00.123456Z" in UTC (fraction
 * digits trimmed to the shortest of 0, 3 or 6), or with the zone's offset
 * ("+02:00") when z is not UTC. out needs at least 40 bytes. */
void datetime_format(int64_t us, const tzone *z, char *out, size_t outsz);

#endif
