/*
 * netguard.h: networks as rules: a CIDR parser, and the SSRF guard that
 * every task opening a connection asks before it connects.
 *
 * The guard (kite.yml `security.ssrf`, docs/security.md) is one policy per
 * process, set once at start by netguard_configure and read by any thread
 * after that. Off by default. When on, an address is refused when it falls
 * in a built-in denied range (loopback, private, link-local, CGNAT,
 * 0.0.0.0/8, multicast, the cloud metadata addresses) unless an `allow`
 * entry covers it at least as specifically, and always when a `deny` entry
 * covers it. Host names in `allow` let that name through whatever it
 * resolves to (except to a `deny` range). Addresses are checked, never
 * names: a caller resolves, checks every address it would connect to, and
 * connects to the address it checked (netguard_resolve does the three).
 *
 * Messages name the address and the rule:
 *   security.ssrf: 127.0.0.1 is in the denied range 127.0.0.0/8 (loopback);
 *   allow it in kite.yml security.ssrf.allow
 */
#ifndef KITE_UTIL_NETGUARD_H
#define KITE_UTIL_NETGUARD_H

#include <jansson.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/err.h"

/* ---- CIDRs ------------------------------------------------------------------ */

typedef struct netguard_cidr {
    int family;          /* AF_INET or AF_INET6 */
    uint8_t addr[16];    /* network order; 4 bytes used for AF_INET */
    int bits;            /* prefix length: 0..32 or 0..128 */
} netguard_cidr;

/* Parses "10.0.0.0/8", "fe80::/10", or a bare address (a /32 or /128).
 * Host bits past the prefix must be zero ("10.0.0.1/8" is refused: it is
 * almost always a typo). 0, or -1 with e set naming the text. */
int netguard_cidr_parse(const char *text, netguard_cidr *out /* OUT */, kerr *e);
/* Writes c as text ("10.0.0.0/8") into out (at least 64 bytes). */
char *netguard_cidr_format(const netguard_cidr *c, char *out, size_t outsz);
/* 1 when the address (family, 4 or 16 bytes) is inside c. An IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d) matches as its IPv4 address. */
int netguard_cidr_contains(const netguard_cidr *c, int family, const uint8_t *addr);
/* The same for a socket address (AF_INET or AF_INET6; 0 for others). */
int netguard_cidr_contains_sa(const netguard_cidr *c, const struct sockaddr *sa);
/* Parses a text address into family and bytes; 0 or -1. */
int netguard_addr_parse(const char *text, int *family /* OUT */, uint8_t addr[16] /* OUT */);

/* A list of CIDRs (server.trustedProxies). */
typedef struct netguard_list {
    netguard_cidr *v;
    size_t n;
} netguard_list;

/* Parses a JSON list of CIDR strings; a bad entry is an error naming what
 * (e.g. "server.trustedProxies[2]") and the text. NULL or an empty list
 * gives an empty list. */
int netguard_list_parse(const json_t *list, const char *what, netguard_list *out /* OUT */, kerr *e);
int netguard_list_contains_sa(const netguard_list *l, const struct sockaddr *sa);
int netguard_list_contains_text(const netguard_list *l, const char *addr);
void netguard_list_free(netguard_list *l);

/* ---- the SSRF guard ------------------------------------------------------------- */

/* Sets the process's policy from kite.yml's security.ssrf mapping
 * ({enabled, allow, deny}; NULL: off). Called once at start, before any
 * worker thread; a bad entry is an error naming its key and index. */
int netguard_configure(const json_t *ssrf, kerr *e);
/* 1 when the guard is on. */
int netguard_enabled(void);

/* Checks one address the caller is about to connect to, reached through the
 * name host (for `allow` names; may be NULL). 0 when it may connect (always
 * when the guard is off), -1 with e set to the message above. */
int netguard_check_sa(const struct sockaddr *sa, const char *host, kerr *e);
int netguard_check_text(const char *addr, const char *host, kerr *e);

/* Resolves host (a name or an address) for port and checks every address:
 * fills out with the first one allowed (and its text in addr_text, at least
 * 46 bytes, when not NULL). When the guard is off, the first address. When
 * every address is refused, -1 with the first refusal's message; a name that
 * does not resolve is an error naming it. */
int netguard_resolve(const char *host, int port, int socktype, struct sockaddr_storage *out /* OUT */,
                     socklen_t *outlen /* OUT */, char *addr_text /* OUT */, kerr *e);

/* For clients that resolve the name again themselves (MongoDB, Git): every
 * address host resolves to must be allowed, else -1 with the first refusal
 * (0 at once when the guard is off). A name that does not resolve is left
 * to the client's own error (0). */
int netguard_check_host_all(const char *host, int port, kerr *e);
/* 1 when host is one of security.ssrf.allow's names (or under a ".domain"
 * entry). */
int netguard_name_allowed(const char *host);

/* Resolves host, checks each address as netguard_resolve does, and
 * connects a TCP socket to the first allowed address that answers within
 * timeout_ms (each). Returns the connected descriptor (close-on-exec,
 * blocking), or -1 with e set: the first refusal when every address was
 * refused, else "cannot connect to HOST port N: <errno text>". */
int netguard_connect(const char *host, int port, int timeout_ms, kerr *e);

/* Text of a socket address into out (at least 46 bytes); "?" for others. */
const char *netguard_sa_text(const struct sockaddr *sa, char *out, size_t outsz);

#endif
