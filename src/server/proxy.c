/*
 * proxy.c: who the client is when kite runs behind a reverse proxy.
 *
 * X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host are believed
 * only from a peer in server.trustedProxies; from anyone else they are
 * ignored (anyone can send them). The client is the rightmost
 * X-Forwarded-For entry that is not itself a trusted proxy: each proxy
 * appends the address it saw, so the entries left of the first untrusted
 * one were written by the client and prove nothing. A malformed entry stops
 * the walk at the last trusted hop. See docs/server.md, "Behind a reverse
 * proxy".
 */
#include "server/server_int.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

static void peer_text(srv_req *r, char *out)
{
    const union MHD_ConnectionInfo *ai = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    netguard_sa_text(ai ? ai->client_addr : NULL, out, INET6_ADDRSTRLEN);
}

int srv_peer_trusted(srv_req *r)
{
    if (!r->s->proxies.n)
        return 0;
    const union MHD_ConnectionInfo *ai = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return ai && netguard_list_contains_sa(&r->s->proxies, ai->client_addr);
}

/* One entry of X-Forwarded-For (trimmed, brackets of "[v6]" and a port of
 * "a.b.c.d:port" removed) into out as a canonical address; -1 when it is
 * not an address. */
static int xff_entry(const char *s, size_t n, char *out)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (!n || n >= 64)
        return -1;
    char t[64];
    memcpy(t, s, n);
    t[n] = '\0';
    char *a = t;
    if (a[0] == '[') {
        char *end = strchr(a, ']');
        if (!end)
            return -1;
        *end = '\0';
        a++;
    } else if (strchr(a, '.') && strchr(a, ':') == strrchr(a, ':') && strchr(a, ':')) {
        *strchr(a, ':') = '\0'; /* 203.0.113.7:51234 */
    }
    int f;
    uint8_t b[16];
    if (netguard_addr_parse(a, &f, b))
        return -1;
    inet_ntop(f, b, out, INET6_ADDRSTRLEN);
    return 0;
}

void srv__client_from(const netguard_list *proxies, const char *peer, const char *xff, char *out)
{
    snprintf(out, INET6_ADDRSTRLEN, "%s", peer);
    if (!xff || !netguard_list_contains_text(proxies, peer))
        return;
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        char a[INET6_ADDRSTRLEN];
        if (xff_entry(start, (size_t)(end - start), a))
            return; /* out holds the last trusted hop */
        snprintf(out, INET6_ADDRSTRLEN, "%s", a);
        if (!netguard_list_contains_text(proxies, a))
            return;
        end = start > xff ? start - 1 : xff;
    }
}

typedef struct xff_acc {
    buf b;
} xff_acc;

static enum MHD_Result add_xff(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    xff_acc *x = cls;
    if (k && v && !strcasecmp(k, "X-Forwarded-For") && x->b.len < 8192)
        buf_printf(&x->b, "%s%s", x->b.len ? "," : "", v);
    return MHD_YES;
}

const char *srv_client_addr(srv_req *r)
{
    if (r->client[0])
        return r->client;
    char peer[INET6_ADDRSTRLEN];
    peer_text(r, peer);
    if (!srv_peer_trusted(r)) {
        snprintf(r->client, sizeof r->client, "%s", peer);
        return r->client;
    }
    /* every X-Forwarded-For field, in order (a client may send its own
     * before the proxy's) */
    xff_acc x;
    buf_init(&x.b, 0);
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_xff, &x);
    srv__client_from(&r->s->proxies, peer, x.b.len ? buf_str(&x.b) : NULL, r->client);
    buf_free(&x.b);
    return r->client;
}

/* The first comma-separated token of a header (trimmed) into out; 0 when
 * there is one. */
static int first_token(const char *v, char *out, size_t outsz)
{
    if (!v)
        return -1;
    while (isspace((unsigned char)*v))
        v++;
    size_t n = strcspn(v, ",");
    while (n && isspace((unsigned char)v[n - 1]))
        n--;
    if (!n || n >= outsz)
        return -1;
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

int srv_request_secure(srv_req *r)
{
    if (r->s->tls)
        return 1;
    char p[16];
    if (srv_peer_trusted(r) && !first_token(srv_header(r, "X-Forwarded-Proto"), p, sizeof p))
        return !strcasecmp(p, "https");
    return 0;
}

static int host_ok(const char *h)
{
    if (!*h)
        return 0;
    for (const char *p = h; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-:[]_", *p))
            return 0;
    return 1;
}

const char *srv_request_host(srv_req *r)
{
    if (srv_peer_trusted(r) && !first_token(srv_header(r, "X-Forwarded-Host"), r->host, sizeof r->host) &&
        host_ok(r->host))
        return r->host;
    const char *h = srv_header(r, "Host");
    if (h && strlen(h) < sizeof r->host && host_ok(h))
        return h;
    return NULL;
}
