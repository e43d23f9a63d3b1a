/*
 * netguard.c: CIDRs, lists of them, and the SSRF guard (netguard.h).
 *
 * The decision for one address, in this order:
 *   1. a `deny` entry of kite.yml covers it: refused;
 *   2. it was reached through a host name listed in `allow`: allowed;
 *   3. the most specific built-in denied range and the most specific
 *      `allow` CIDR covering it are compared: the range wins when it is
 *      more specific than the allow entry (or there is none). So allowing
 *      10.0.0.0/8 lets the private network through, allowing
 *      169.254.0.0/16 does not let the metadata address (a /32) through:
 *      that needs 169.254.169.254 itself in `allow`.
 *   4. anything else (public addresses) is allowed.
 * IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) IPv6 addresses are
 * judged as the IPv4 address they carry, so ::ffff:127.0.0.1 is loopback.
 *
 * DESIGN
 * The policy is plain static data written once by netguard_configure
 * before worker threads start, and only read afterwards: no lock.
 */
#include "util/netguard.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- CIDRs ------------------------------------------------------------------ */

int netguard_addr_parse(const char *text, int *family, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, text, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, addr) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

/* An IPv6 address that carries an IPv4 one (mapped, NAT64) as that IPv4
 * address: rewrites *family and addr. */
static void unwrap(int *family, uint8_t *addr)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (*family == AF_INET6 && (!memcmp(addr, mapped, 12) || !memcmp(addr, nat64, 12))) {
        memmove(addr, addr + 12, 4);
        memset(addr + 4, 0, 12);
        *family = AF_INET;
    }
}

int netguard_cidr_parse(const char *text, netguard_cidr *out, kerr *e)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text || strlen(text) > 64)
        return kerr_setc(e, KERR_INVALID, "'%.64s' is not a network (use 10.0.0.0/8, fd00::/8 or an address)",
                         text ? text : "");
    char a[65];
    snprintf(a, sizeof a, "%s", text);
    char *slash = strchr(a, '/');
    long bits = -1;
    if (slash) {
        *slash = '\0';
        const char *b = slash + 1;
        if (!*b || strlen(b) > 3)
            goto bad;
        for (const char *p = b; *p; p++)
            if (!isdigit((unsigned char)*p))
                goto bad;
        if (b[0] == '0' && b[1])
            goto bad;
        bits = strtol(b, NULL, 10);
    }
    if (netguard_addr_parse(a, &out->family, out->addr))
        goto bad;
    int max = out->family == AF_INET ? 32 : 128;
    if (bits < 0)
        bits = max;
    if (bits > max)
        goto bad;
    out->bits = (int)bits;
    /* a network of IPv4 addresses written in IPv6 (::ffff:10.0.0.0/104) is
     * kept as the IPv4 network it is, since addresses are matched so */
    if (out->family == AF_INET6 && out->bits >= 96) {
        int f = AF_INET6;
        unwrap(&f, out->addr);
        if (f == AF_INET) {
            out->family = AF_INET;
            out->bits -= 96;
            max = 32;
        }
    }
    /* host bits must be zero */
    for (int i = out->bits; i < max; i++)
        if (out->addr[i / 8] & (0x80 >> (i % 8)))
            return kerr_setc(e, KERR_INVALID,
                             "'%s' has bits set past its /%d prefix (did you mean the network that contains it?)",
                             text, out->bits);
    return 0;
bad:
    return kerr_setc(e, KERR_INVALID, "'%s' is not a network (use 10.0.0.0/8, fd00::/8 or an address)", text);
}

char *netguard_cidr_format(const netguard_cidr *c, char *out, size_t outsz)
{
    char a[INET6_ADDRSTRLEN];
    inet_ntop(c->family, c->addr, a, sizeof a);
    snprintf(out, outsz, "%s/%d", a, c->bits);
    return out;
}

static int contains(const netguard_cidr *c, int family, const uint8_t *addr)
{
    if (c->family != family)
        return 0;
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, addr, (size_t)full))
        return 0;
    if (rest) {
        uint8_t mask = (uint8_t)(0xff << (8 - rest));
        if ((c->addr[full] & mask) != (addr[full] & mask))
            return 0;
    }
    return 1;
}

int netguard_cidr_contains(const netguard_cidr *c, int family, const uint8_t *addr)
{
    uint8_t a[16];
    memcpy(a, addr, family == AF_INET ? 4 : 16);
    if (family == AF_INET)
        memset(a + 4, 0, 12);
    unwrap(&family, a);
    return contains(c, family, a);
}

/* The family and bytes of sa, unwrapped; -1 for other families. */
static int sa_bytes(const struct sockaddr *sa, int *family, uint8_t *a)
{
    memset(a, 0, 16);
    if (!sa)
        return -1;
    if (sa->sa_family == AF_INET) {
        memcpy(a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        *family = AF_INET;
    } else if (sa->sa_family == AF_INET6) {
        memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        *family = AF_INET6;
    } else {
        return -1;
    }
    unwrap(family, a);
    return 0;
}

int netguard_cidr_contains_sa(const netguard_cidr *c, const struct sockaddr *sa)
{
    int f;
    uint8_t a[16];
    return !sa_bytes(sa, &f, a) && contains(c, f, a);
}

const char *netguard_sa_text(const struct sockaddr *sa, char *out, size_t outsz)
{
    int f;
    uint8_t a[16];
    if (sa_bytes(sa, &f, a) || !inet_ntop(f, a, out, (socklen_t)outsz))
        snprintf(out, outsz, "?");
    return out;
}

/* ---- lists ------------------------------------------------------------------------ */

int netguard_list_parse(const json_t *list, const char *what, netguard_list *out, kerr *e)
{
    memset(out, 0, sizeof *out);
    if (!list || json_is_null(list))
        return 0;
    if (!json_is_array(list))
        return kerr_setc(e, KERR_INVALID, "'%s' must be a list of networks such as 10.0.0.0/8", what);
    out->v = xcalloc(json_array_size(list) + 1, sizeof *out->v);
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) {
        kerr e2 = KERR_INIT;
        if (!json_is_string(v) || netguard_cidr_parse(json_string_value(v), &out->v[out->n], &e2)) {
            netguard_list_free(out);
            return kerr_setc(e, KERR_INVALID, "'%s[%zu]': %s", what, i,
                             json_is_string(v) ? e2.msg : "must be a network such as 10.0.0.0/8");
        }
        out->n++;
    }
    return 0;
}

int netguard_list_contains_sa(const netguard_list *l, const struct sockaddr *sa)
{
    int f;
    uint8_t a[16];
    if (!l || !l->n || sa_bytes(sa, &f, a))
        return 0;
    for (size_t i = 0; i < l->n; i++)
        if (contains(&l->v[i], f, a))
            return 1;
    return 0;
}

int netguard_list_contains_text(const netguard_list *l, const char *addr)
{
    int f;
    uint8_t a[16];
    if (!l || !l->n || netguard_addr_parse(addr, &f, a))
        return 0;
    unwrap(&f, a);
    for (size_t i = 0; i < l->n; i++)
        if (contains(&l->v[i], f, a))
            return 1;
    return 0;
}

void netguard_list_free(netguard_list *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- the policy ------------------------------------------------------------------- */

typedef struct builtin {
    const char *cidr, *why;
} builtin;

static const builtin builtins[] = {
    {"0.0.0.0/8", "this network"},
    {"10.0.0.0/8", "private"},
    {"100.64.0.0/10", "carrier-grade NAT"},
    {"127.0.0.0/8", "loopback"},
    {"169.254.0.0/16", "link-local"},
    {"169.254.169.254/32", "the cloud metadata address"},
    {"172.16.0.0/12", "private"},
    {"192.168.0.0/16", "private"},
    {"224.0.0.0/4", "multicast"},
    {"240.0.0.0/4", "reserved"},
    {"::/128", "unspecified"},
    {"::1/128", "loopback"},
    {"fc00::/7", "unique local (private)"},
    {"fd00:ec2::254/128", "the cloud metadata address"},
    {"fe80::/10", "link-local"},
    {"ff00::/8", "multicast"},
};
#define NBUILTIN (sizeof builtins / sizeof builtins[0])

static struct {
    int enabled;
    netguard_cidr deny_builtin[NBUILTIN];
    netguard_list allow, deny;
    char **names;      /* host names in allow: "db.internal", or ".example.com" for its subdomains */
    size_t nnames;
} pol;

static void policy_free(void)
{
    netguard_list_free(&pol.allow);
    netguard_list_free(&pol.deny);
    for (size_t i = 0; i < pol.nnames; i++)
        free(pol.names[i]);
    free(pol.names);
    pol.names = NULL;
    pol.nnames = 0;
    pol.enabled = 0;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 253)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
            return 0;
    return 1;
}

int netguard_configure(const json_t *ssrf, kerr *e)
{
    policy_free();
    for (size_t i = 0; i < NBUILTIN; i++)
        netguard_cidr_parse(builtins[i].cidr, &pol.deny_builtin[i], NULL);
    if (!ssrf || json_is_null(ssrf))
        return 0;
    if (!json_is_object(ssrf))
        return kerr_setc(e, KERR_INVALID, "'security.ssrf' must be a mapping (enabled, allow, deny)");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)ssrf, k, v) {
        if (strcmp(k, "enabled") && strcmp(k, "allow") && strcmp(k, "deny"))
            return kerr_setc(e, KERR_INVALID, "unknown key 'security.ssrf.%s' (use enabled, allow, deny)", k);
    }
    const json_t *en = json_object_get(ssrf, "enabled");
    if (en && !json_is_boolean(en))
        return kerr_setc(e, KERR_INVALID, "'security.ssrf.enabled' must be true or false");
    if (netguard_list_parse(json_object_get(ssrf, "deny"), "security.ssrf.deny", &pol.deny, e))
        return -1;
    const json_t *al = json_object_get(ssrf, "allow");
    if (al && !json_is_array(al)) {
        policy_free();
        return kerr_setc(e, KERR_INVALID, "'security.ssrf.allow' must be a list of networks or host names");
    }
    size_t n = json_array_size(al);
    pol.allow.v = xcalloc(n + 1, sizeof *pol.allow.v);
    pol.names = xcalloc(n + 1, sizeof *pol.names);
    size_t i;
    json_array_foreach(al, i, v) {
        const char *s = json_string_value(v);
        if (!s) {
            policy_free();
            return kerr_setc(e, KERR_INVALID, "'security.ssrf.allow[%zu]' must be a network or a host name", i);
        }
        if (!netguard_cidr_parse(s, &pol.allow.v[pol.allow.n], NULL)) {
            pol.allow.n++;
            continue;
        }
        int f;
        uint8_t a[16];
        const char *name = !strncmp(s, "*.", 2) ? s + 1 : s;
        int looks_ip = strchr(s, '/') || strchr(s, ':') || !netguard_addr_parse(s, &f, a);
        if (looks_ip || !valid_name(name[0] == '.' ? name + 1 : name)) {
            kerr e2 = KERR_INIT;
            netguard_cidr_parse(s, &pol.allow.v[pol.allow.n], &e2);
            policy_free();
            return kerr_setc(e, KERR_INVALID, "'security.ssrf.allow[%zu]': %s", i,
                             looks_ip ? e2.msg : "not a network nor a host name");
        }
        char *c = xstrdup(name);
        for (char *p = c; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        size_t cl = strlen(c);
        if (cl > 1 && c[cl - 1] == '.')
            c[cl - 1] = '\0';
        pol.names[pol.nnames++] = c;
    }
    pol.enabled = json_is_true(en);
    return 0;
}

int netguard_enabled(void) { return pol.enabled; }

/* 1 when host is one of allow's names (".example.com" covers its subdomains). */
int netguard_name_allowed(const char *host)
{
    if (!host || !*host || !pol.nnames)
        return 0;
    char h[256];
    size_t n = strlen(host);
    if (n >= sizeof h)
        return 0;
    for (size_t i = 0; i <= n; i++)
        h[i] = (char)tolower((unsigned char)host[i]);
    if (n > 1 && h[n - 1] == '.')
        h[--n] = '\0';
    for (size_t i = 0; i < pol.nnames; i++) {
        const char *a = pol.names[i];
        size_t an = strlen(a);
        if (a[0] == '.') {
            if (n > an && !strcmp(h + n - an, a))
                return 1;
        } else if (!strcmp(h, a)) {
            return 1;
        }
    }
    return 0;
}

static int decide(int f, const uint8_t *a, const char *text, const char *host, kerr *e)
{
    char c[64];
    for (size_t i = 0; i < pol.deny.n; i++)
        if (contains(&pol.deny.v[i], f, a))
            return kerr_setc(e, KERR_INVALID, "security.ssrf: %s is in the denied range %s (security.ssrf.deny in kite.yml)",
                             text, netguard_cidr_format(&pol.deny.v[i], c, sizeof c));
    if (netguard_name_allowed(host))
        return 0;
    int best = -1, allow_bits = -1;
    for (size_t i = 0; i < NBUILTIN; i++)
        if (contains(&pol.deny_builtin[i], f, a) && (best < 0 || pol.deny_builtin[i].bits > pol.deny_builtin[best].bits))
            best = (int)i;
    if (best < 0)
        return 0;
    for (size_t i = 0; i < pol.allow.n; i++)
        if (contains(&pol.allow.v[i], f, a) && pol.allow.v[i].bits > allow_bits)
            allow_bits = pol.allow.v[i].bits;
    if (allow_bits >= pol.deny_builtin[best].bits)
        return 0;
    return kerr_setc(e, KERR_INVALID, "security.ssrf: %s is in the denied range %s (%s); allow it in kite.yml security.ssrf.allow",
                     text, builtins[best].cidr, builtins[best].why);
}

int netguard_check_sa(const struct sockaddr *sa, const char *host, kerr *e)
{
    if (!pol.enabled)
        return 0;
    int f;
    uint8_t a[16];
    char text[INET6_ADDRSTRLEN];
    if (sa_bytes(sa, &f, a))
        return kerr_setc(e, KERR_INVALID, "security.ssrf: only IPv4 and IPv6 connections are allowed");
    inet_ntop(f, a, text, sizeof text);
    return decide(f, a, text, host, e);
}

int netguard_check_text(const char *addr, const char *host, kerr *e)
{
    if (!pol.enabled)
        return 0;
    int f;
    uint8_t a[16];
    if (netguard_addr_parse(addr, &f, a))
        return kerr_setc(e, KERR_INVALID, "security.ssrf: '%s' is not an address", addr);
    unwrap(&f, a);
    char text[INET6_ADDRSTRLEN];
    inet_ntop(f, a, text, sizeof text);
    return decide(f, a, text, host, e);
}

int netguard_resolve(const char *host, int port, int socktype, struct sockaddr_storage *out, socklen_t *outlen,
                     char *addr_text, kerr *e)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype ? socktype : SOCK_STREAM;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc)
        return kerr_setc(e, KERR_UNAVAILABLE, "cannot resolve '%s': %s", host, gai_strerror(rc));
    kerr first = KERR_INIT;
    int found = 0;
    for (struct addrinfo *ai = res; ai && !found; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        kerr e2 = KERR_INIT;
        if (netguard_check_sa(ai->ai_addr, host, &e2)) {
            if (!first.code)
                first = e2;
            continue;
        }
        memcpy(out, ai->ai_addr, ai->ai_addrlen);
        *outlen = ai->ai_addrlen;
        if (addr_text)
            netguard_sa_text(ai->ai_addr, addr_text, INET6_ADDRSTRLEN);
        found = 1;
    }
    freeaddrinfo(res);
    if (found)
        return 0;
    if (first.code) {
        if (e)
            *e = first;
        return -1;
    }
    return kerr_setc(e, KERR_UNAVAILABLE, "cannot resolve '%s': no IPv4 or IPv6 address", host);
}

/* A non-blocking connect bounded by timeout_ms; 0, or -1 with errno. */
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int rc = connect(fd, sa, len);
    if (rc && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n;
        do
            n = poll(&p, 1, timeout_ms > 0 ? timeout_ms : 10000);
        while (n < 0 && errno == EINTR);
        if (n == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        int err = 0;
        socklen_t el = sizeof err;
        if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el))
            return -1;
        if (err) {
            errno = err;
            return -1;
        }
        rc = 0;
    }
    fcntl(fd, F_SETFL, fl);
    return rc;
}

int netguard_connect(const char *host, int port, int timeout_ms, kerr *e)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc)
        return kerr_setc(e, KERR_UNAVAILABLE, "cannot resolve '%s': %s", host, gai_strerror(rc));
    kerr first = KERR_INIT;
    int fd = -1, last_errno = 0, tried = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        kerr e2 = KERR_INIT;
        if (netguard_check_sa(ai->ai_addr, host, &e2)) {
            if (!first.code)
                first = e2;
            continue;
        }
        tried = 1;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if (connect_within(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms)) {
            last_errno = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0)
        return fd;
    if (!tried && first.code) {
        if (e)
            *e = first;
        return -1;
    }
    return kerr_setc(e, KERR_UNAVAILABLE, "cannot connect to %s port %d: %s", host, port,
                     last_errno ? strerror(last_errno) : "no IPv4 or IPv6 address");
}

int netguard_check_host_all(const char *host, int port, kerr *e)
{
    if (!pol.enabled)
        return 0;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(host, ps, &hints, &res))
        return 0;
    int rc = 0;
    for (struct addrinfo *ai = res; ai && !rc; ai = ai->ai_next)
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
            rc = netguard_check_sa(ai->ai_addr, host, e);
    freeaddrinfo(res);
    return rc;
}
