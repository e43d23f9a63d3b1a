/*
 * conns.c: the connection guard: deadlines counted from accept, a cap per
 * client address, and eviction of the oldest unfinished request, so that
 * a slow or hostile client cannot hold the server's connections (slowloris).
 *
 * libmicrohttpd's own timeout (--http-timeout) only closes a connection
 * that sends nothing for that long: a client sending one header line every
 * few seconds keeps a connection, and a thread, forever. The guard tracks
 * every connection from accept (MHD_OPTION_NOTIFY_CONNECTION) to close:
 * - its headers must be complete within header_timeout_s of the accept, or
 *   of the end of the previous request on a kept-alive connection;
 * - its whole request (headers and body) within request_timeout_s;
 * - one address holds at most max_per_address connections and the server
 *   max_connections: past either, the oldest connection of that address
 *   (or of any) whose request has not reached its handler is closed to
 *   make room. A new well-formed request is always served, even from the
 *   attacking address (a proxy, or loopback in the tests); the slow ones
 *   lose their place.
 * A connection whose handler runs (an event stream, wait=true, a download)
 * is never closed by the guard.
 *
 * DESIGN
 * Closing is shutdown(2) of the socket, under the guard's lock: the
 * connection's thread sees the end of the stream and libmicrohttpd closes
 * it as if the client had left. MHD sends CLOSED (which takes the lock and
 * forgets the connection) before it closes the descriptor, so the guard
 * never touches a descriptor that was reused. A watchdog thread checks the
 * deadlines four times a second; eviction happens at accept.
 */
#include "server/server_int.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct srv_conn {
    srv_conn *prev, *next;
    int fd;
    char addr[INET6_ADDRSTRLEN];
    int64_t since_us;       /* accept, or the end of the previous request */
    int state;              /* SRV_CONN_* */
    int proxied;            /* the peer is a trusted proxy: addr is the client it forwards */
    int named;              /* addr names that client (a request came); until then the
                             * connection counts against no address */
};

/* Whether o counts against its address's cap. */
static int counted(const srv_conn *o) { return o->state != SRV_CONN_CLOSING && (!o->proxied || o->named); }

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Closes c (lock held). */
static void conn_close(server *s, srv_conn *c, int64_t *counter, const char *why)
{
    if (c->state == SRV_CONN_CLOSING)
        return;
    c->state = SRV_CONN_CLOSING;
    shutdown(c->fd, SHUT_RDWR);
    __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
    if (!s->o.quiet)
        fprintf(stderr, "kite server: closed a connection from %s: %s\n", c->addr, why);
}

static int unfinished(const srv_conn *c) { return c->state == SRV_CONN_HEADERS || c->state == SRV_CONN_BODY; }

/* Below the server's cap, a connection younger than this is not slow, the
 * server is: the per-address cap never evicts it (a burst of well-formed
 * requests from one proxy waits for its turn instead). At the server's cap
 * the oldest unfinished connection goes, whatever its age. */
#define EVICT_MIN_AGE_US 1000000

/* The oldest unfinished connection (of addr when not NULL), other than me,
 * open for at least min_age; NULL when there is none. */
static srv_conn *oldest_unfinished(server *s, const char *addr, const srv_conn *me, int64_t now, int64_t min_age)
{
    srv_conn *best = NULL;
    for (srv_conn *c = s->conns; c; c = c->next)
        if (c != me && unfinished(c) && now - c->since_us >= min_age && (!addr || (counted(c) && !strcmp(c->addr, addr))) &&
            (!best || c->since_us < best->since_us))
            best = c;
    return best;
}

void srv_conn_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
                     enum MHD_ConnectionNotificationCode code)
{
    server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        srv_conn *c = xcalloc(1, sizeof *c);
        const union MHD_ConnectionInfo *fi = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        c->fd = fi ? fi->connect_fd : -1;
        snprintf(c->addr, sizeof c->addr, "?");
        if (ai && ai->client_addr) {
            const struct sockaddr *sa = ai->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->addr, sizeof c->addr);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, c->addr, sizeof c->addr);
        }
        c->since_us = mono_us();
        c->state = SRV_CONN_HEADERS;
        c->proxied = ai && netguard_list_contains_sa(&s->proxies, ai->client_addr);
        *socket_context = c;
        pthread_mutex_lock(&s->conn_lock);
        unsigned same = 0, total = 0;
        for (srv_conn *o = s->conns; o; o = o->next) {
            if (o->state == SRV_CONN_CLOSING)
                continue;
            total++;
            same += counted(o) && !strcmp(o->addr, c->addr);
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        if (total >= s->o.max_connections) {
            srv_conn *v = oldest_unfinished(s, c->addr, c, c->since_us, 0);
            if (!v)
                v = oldest_unfinished(s, NULL, c, c->since_us, 0);
            if (v)
                conn_close(s, v, &s->evicted, "the server is full, this connection the oldest unfinished");
        } else if (!c->proxied && same >= s->o.max_per_address) {
            srv_conn *v = oldest_unfinished(s, c->addr, c, c->since_us, EVICT_MIN_AGE_US);
            if (v)
                conn_close(s, v, &s->evicted, "too many connections from this address, this one the oldest unfinished");
        }
        pthread_mutex_unlock(&s->conn_lock);
        return;
    }
    srv_conn *c = *socket_context;
    if (!c)
        return;
    pthread_mutex_lock(&s->conn_lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&s->conn_lock);
    free(c);
    *socket_context = NULL;
}

void srv_conn_state(srv_req *r, int state)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    srv_conn *c = ci ? ci->socket_context : NULL;
    if (!c)
        return;
    /* behind a trusted proxy, the cap is the forwarded client's */
    const char *client = state == SRV_CONN_BODY && c->proxied ? srv_client_addr(r) : NULL;
    pthread_mutex_lock(&r->s->conn_lock);
    if (c->state != SRV_CONN_CLOSING) {
        if (client) {
            snprintf(c->addr, sizeof c->addr, "%s", client);
            c->named = 1;
        }
        c->state = state;
        if (state == SRV_CONN_HEADERS)
            c->since_us = mono_us();
    }
    pthread_mutex_unlock(&r->s->conn_lock);
}

/* Brings every address back under max_per_address and the server under
 * max_connections (lock held): a burst that came in faster than it could be
 * evicted (connections younger than EVICT_MIN_AGE_US are never evicted)
 * must not keep the server at libmicrohttpd's own limit, where new
 * connections are refused before the guard sees them. */
static void enforce_caps(server *s, int64_t now)
{
    unsigned total = 0;
    for (srv_conn *c = s->conns; c; c = c->next)
        total += c->state != SRV_CONN_CLOSING;
    while (total > s->o.max_connections) {
        srv_conn *v = oldest_unfinished(s, NULL, NULL, now, 0);
        if (!v)
            break;
        conn_close(s, v, &s->evicted, "the server is full, this connection the oldest unfinished");
        total--;
    }
    for (srv_conn *c = s->conns; c; c = c->next) {
        if (!counted(c))
            continue;
        unsigned same = 0;
        for (srv_conn *o = s->conns; o; o = o->next)
            same += counted(o) && !strcmp(o->addr, c->addr);
        while (same > s->o.max_per_address) {
            srv_conn *v = oldest_unfinished(s, c->addr, NULL, now, EVICT_MIN_AGE_US);
            if (!v)
                break;
            conn_close(s, v, &s->evicted, "too many connections from this address, this one the oldest unfinished");
            same--;
        }
    }
}

static void *watchdog(void *arg)
{
    server *s = arg;
    int64_t hdr = (int64_t)s->o.header_timeout_s * 1000000, whole = (int64_t)s->o.request_timeout_s * 1000000;
    pthread_mutex_lock(&s->conn_lock);
    while (!s->guard_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->guard_cond, &s->conn_lock, &ts);
        int64_t now = mono_us();
        enforce_caps(s, now);
        for (srv_conn *c = s->conns; c; c = c->next) {
            if (c->state == SRV_CONN_HEADERS && now - c->since_us > hdr)
                conn_close(s, c, &s->deadline_closed, "its request headers were not complete in time");
            else if (c->state == SRV_CONN_BODY && now - c->since_us > whole)
                conn_close(s, c, &s->deadline_closed, "its request was not complete in time");
        }
    }
    pthread_mutex_unlock(&s->conn_lock);
    return NULL;
}

int srv_guard_start(server *s)
{
    s->guard_stop = 0;
    if (pthread_create(&s->guard, NULL, watchdog, s))
        return -1;
    s->guard_running = 1;
    return 0;
}

void srv_guard_stop(server *s)
{
    if (!s->guard_running)
        return;
    pthread_mutex_lock(&s->conn_lock);
    s->guard_stop = 1;
    pthread_cond_signal(&s->guard_cond);
    pthread_mutex_unlock(&s->conn_lock);
    pthread_join(s->guard, NULL);
    s->guard_running = 0;
}
