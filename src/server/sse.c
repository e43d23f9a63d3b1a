/*
 * sse.c: server-sent event streams (text/event-stream).
 *
 * A stream is a response whose body comes from a callback: MHD calls
 * sse_read on the connection's own thread (one thread per connection), so
 * it may sleep between polls of its producer (only after a poll that found
 * nothing, so a backlog streams at once). It ends when the producer
 * says so, when the server stops, or when the client goes away (MHD then
 * frees the stream; a comment line after 15 s of silence, or half the
 * connection timeout when shorter, makes a dead client show up and keeps
 * MHD from timing out a live stream).
 */
#include "server/server_int.h"
#include "util/mem.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct sse {
    server *s;
    srv_sse_fn fn;
    void *ud;
    void (*ud_free)(void *);
    int64_t poll_us;
    buf pending;
    size_t off;
    int done, polled;
    int idle; /* the last poll found nothing: wait before the next */
    int64_t last_write_us;
} sse;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
    sse *x = cls;
    for (;;) {
        if (x->off < x->pending.len) {
            size_t n = x->pending.len - x->off;
            if (n > max)
                n = max;
            memcpy(out, x->pending.data + x->off, n);
            x->off += n;
            x->last_write_us = mono_us();
            return (ssize_t)n;
        }
        buf_reset(&x->pending);
        x->off = 0;
        if (x->done || SRV_STOPPING(x->s))
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (x->polled && x->idle) {
            /* only after a poll that found nothing: lines that are waiting go
             * out at once (a backlog of 100,000 lines is not paced at one batch
             * a poll). Sleep in small steps so that a stopping server is not kept waiting */
            for (int64_t slept = 0; slept < x->poll_us && !SRV_STOPPING(x->s); slept += 50000)
                usleep((useconds_t)(x->poll_us - slept < 50000 ? x->poll_us - slept : 50000));
        }
        x->polled = 1;
        x->done = x->fn(x->ud, &x->pending);
        x->idle = x->pending.len == 0;
        size_t mlen = 0;   /* secrets never leave in a stream either */
        char *masked = x->pending.len ? engine_mask(x->s->o.engine, x->pending.data, x->pending.len, &mlen) : NULL;
        if (masked) {
            buf_reset(&x->pending);
            buf_append(&x->pending, masked, mlen);
            free(masked);
        }
        /* silence longer than the connection timeout would let MHD drop the
         * stream between two polls: speak at half of it (15 s at most) */
        int64_t quiet_us = x->s->o.timeout_s ? (int64_t)x->s->o.timeout_s * 500000 : 15000000;
        if (quiet_us > 15000000)
            quiet_us = 15000000;
        if (!x->pending.len && mono_us() - x->last_write_us > quiet_us)
            buf_puts(&x->pending, ": keep-alive\n\n");
    }
}

static void sse_free(void *cls)
{
    sse *x = cls;
    if (x->ud_free)
        x->ud_free(x->ud);
    buf_free(&x->pending);
    free(x);
}

enum MHD_Result srv_sse(srv_req *r, srv_sse_fn fn, void *ud, void (*ud_free)(void *), int64_t poll_us)
{
    sse *x = xcalloc(1, sizeof *x);
    x->s = r->s;
    x->fn = fn;
    x->ud = ud;
    x->ud_free = ud_free;
    x->poll_us = poll_us > 0 ? poll_us : 200000;
    x->last_write_us = mono_us();
    buf_init(&x->pending, 0);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_read, x, sse_free);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    r->answered = 200;
    enum MHD_Result rc = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}
