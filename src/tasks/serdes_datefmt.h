/*
 * serdes_datefmt.h: the part of Java's DateTimeFormatter patterns that
 * IonToCsv's dateFormat, timeFormat and dateTimeFormat use (serdes_datefmt.c).
 */
#ifndef KITE_TASKS_SERDES_DATEFMT_H
#define KITE_TASKS_SERDES_DATEFMT_H

#include "util/buf.h"
#include "util/err.h"

typedef struct datefmt datefmt;

/* A date, a time, or both, with or without an offset (what java.time calls
 * LocalDate, LocalTime, OffsetTime, LocalDateTime, ZonedDateTime). */
typedef struct dt_value {
    int has_date, has_time, has_offset;
    int year, month, day;  /* month 1-12 */
    int hour, min, sec;
    int nano;              /* 0..999999999 */
    int offset;            /* seconds east of UTC, when has_offset */
} dt_value;

/* Compiles pattern; prop names the property in errors ("property
 * 'dateFormat': pattern letter 'G' is not supported by kite ..."). NULL with
 * the message in e. */
datefmt *datefmt_compile(const char *prop, const char *pattern, kerr *e);
void datefmt_free(datefmt *f);
/* Appends v formatted by f to out. -1 (with a message naming the property
 * and the field) when the pattern asks, outside an optional section, for a
 * field v does not have (a time of day of a date). */
int datefmt_format(const datefmt *f, const dt_value *v, buf *out, kerr *e);

#endif
