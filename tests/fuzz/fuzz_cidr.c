/*
 * fuzz_cidr.c: the network parsers of kite.yml and of X-Forwarded-For, on
 * any bytes (server.trustedProxies, security.ssrf.allow and deny, and the
 * header a proxy forwards).
 *
 * Beyond "does not crash", it aborts when a property fails:
 *   - a parsed CIDR formats to text that parses back to the same network,
 *     and contains its own address;
 *   - an address the guard refuses has a message naming it and the rule;
 *   - the client address read from X-Forwarded-For (the input's second
 *     line) is an address, the peer's when the peer is not trusted.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"
#include "util/mem.h"
#include "util/netguard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static int configured;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    if (!configured) {
        json_t *j = json_loads("{\"enabled\": true, \"allow\": [\"10.1.0.0/16\", \"ok.example\"], \"deny\": "
                               "[\"192.0.2.0/24\"]}", 0, NULL);
        check(netguard_configure(j, NULL) == 0);
        json_decref(j);
        configured = 1;
    }
    char *text = xstrndup((const char *)data, size);
    char *nl = strchr(text, '\n');
    char *xff = NULL;
    if (nl) {
        *nl = '\0';
        xff = nl + 1;
    }
    netguard_cidr c, d;
    kerr e = KERR_INIT;
    if (netguard_cidr_parse(text, &c, &e) == 0) {
        char out[64];
        netguard_cidr_format(&c, out, sizeof out);
        check(netguard_cidr_parse(out, &d, NULL) == 0);
        check(c.family == d.family && c.bits == d.bits && !memcmp(c.addr, d.addr, 16));
        check(netguard_cidr_contains(&c, c.family, c.addr));
    } else {
        check(e.msg[0] != '\0');
    }
    kerr e2 = KERR_INIT;
    if (netguard_check_text(text, xff, &e2))
        check(strstr(e2.msg, "security.ssrf: ") == e2.msg);
    static const char *const proxies[] = {"127.0.0.0/8", "::1", NULL};
    json_t *pl = json_array();
    for (const char *const *p = proxies; *p; p++)
        json_array_append_new(pl, json_string(*p));
    netguard_list l;
    check(netguard_list_parse(pl, "p", &l, NULL) == 0);
    json_decref(pl);
    char client[INET6_ADDRSTRLEN];
    srv__client_from(&l, "127.0.0.1", xff, client);
    int f;
    uint8_t a[16];
    check(netguard_addr_parse(client, &f, a) == 0);
    srv__client_from(&l, "192.0.2.5", xff, client);
    check(!strcmp(client, "192.0.2.5"));
    netguard_list_free(&l);
    free(text);
    return 0;
}
