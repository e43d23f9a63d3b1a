/*
 * test_netguard.c: CIDRs (util/netguard.h), the SSRF guard's decision, and
 * the server's rule for the client address behind trusted proxies
 * (srv__client_from, server/proxy.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/server_int.h"
#include "util/json.h"
#include "util/netguard.h"

static void test_cidr_parse_and_format(void **st)
{
    netguard_cidr c;
    char out[64];
    kerr e = KERR_INIT;
    assert_int_equal(netguard_cidr_parse("10.0.0.0/8", &c, &e), 0);
    assert_int_equal(c.family, AF_INET);
    assert_int_equal(c.bits, 8);
    assert_string_equal(netguard_cidr_format(&c, out, sizeof out), "10.0.0.0/8");
    assert_int_equal(netguard_cidr_parse("fe80::/10", &c, &e), 0);
    assert_string_equal(netguard_cidr_format(&c, out, sizeof out), "fe80::/10");
    assert_int_equal(netguard_cidr_parse("192.0.2.7", &c, &e), 0);
    assert_int_equal(c.bits, 32);
    assert_int_equal(netguard_cidr_parse("::1", &c, &e), 0);
    assert_int_equal(c.bits, 128);
    assert_int_equal(netguard_cidr_parse("0.0.0.0/0", &c, &e), 0);
    const char *bad[] = {"", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/-1", "10.0.0/8", "::/129",
                         "host.example", "10.0.0.0/8/8", "1.2.3.4 ", "10.0.0.0/ 8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kerr e2 = KERR_INIT;
        assert_int_equal(netguard_cidr_parse(bad[i], &c, &e2), -1);
        assert_non_null(strstr(e2.msg, "is not a network"));
    }
    kerr e3 = KERR_INIT;
    assert_int_equal(netguard_cidr_parse("10.0.0.1/8", &c, &e3), -1);
    assert_string_equal(e3.msg, "'10.0.0.1/8' has bits set past its /8 prefix (did you mean the network that contains it?)");
}

static void test_cidr_contains_and_mapped(void **st)
{
    netguard_cidr c;
    netguard_cidr_parse("172.16.0.0/12", &c, NULL);
    int f;
    uint8_t a[16];
    netguard_addr_parse("172.31.255.255", &f, a);
    assert_true(netguard_cidr_contains(&c, f, a));
    netguard_addr_parse("172.32.0.0", &f, a);
    assert_false(netguard_cidr_contains(&c, f, a));
    netguard_cidr_parse("127.0.0.0/8", &c, NULL);
    netguard_addr_parse("::ffff:127.0.0.1", &f, a);
    assert_true(netguard_cidr_contains(&c, f, a)); /* mapped: judged as IPv4 */
    netguard_addr_parse("64:ff9b::7f00:1", &f, a);
    assert_true(netguard_cidr_contains(&c, f, a)); /* NAT64 too */
}

static int refused(const char *addr, const char *host, char *msg)
{
    kerr e = KERR_INIT;
    int rc = netguard_check_text(addr, host, &e);
    if (msg)
        snprintf(msg, KERR_MSG_MAX, "%s", e.msg);
    return rc != 0;
}

static void test_guard_off_by_default(void **st)
{
    assert_int_equal(netguard_configure(NULL, NULL), 0);
    assert_false(netguard_enabled());
    assert_false(refused("127.0.0.1", NULL, NULL));
    json_t *j = json_loads("{\"allow\": [\"10.0.0.0/8\"]}", 0, NULL);
    assert_int_equal(netguard_configure(j, NULL), 0);
    assert_false(netguard_enabled()); /* enabled: false unless said */
    json_decref(j);
}

static void test_guard_builtin_ranges(void **st)
{
    json_t *j = json_loads("{\"enabled\": true}", 0, NULL);
    assert_int_equal(netguard_configure(j, NULL), 0);
    json_decref(j);
    char msg[KERR_MSG_MAX];
    assert_true(refused("127.0.0.1", NULL, msg));
    assert_string_equal(msg, "security.ssrf: 127.0.0.1 is in the denied range 127.0.0.0/8 (loopback); allow it in "
                             "kite.yml security.ssrf.allow");
    assert_true(refused("169.254.169.254", NULL, msg));
    assert_non_null(strstr(msg, "169.254.169.254/32 (the cloud metadata address)"));
    const char *denied[] = {"10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "0.0.0.0", "169.254.1.1",
                            "::1", "fe80::1", "fc00::1", "fd00:ec2::254", "::ffff:10.0.0.1", "::", "224.0.0.1",
                            "255.255.255.255"};
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
        assert_true(refused(denied[i], NULL, NULL));
    const char *allowed[] = {"93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1", "100.128.0.1"};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        assert_false(refused(allowed[i], NULL, NULL));
}

static void test_guard_allow_deny_specificity(void **st)
{
    json_t *j = json_loads("{\"enabled\": true, \"allow\": [\"10.0.0.0/8\", \"169.254.0.0/16\", \"db.internal\", "
                           "\"*.corp.example\", \"127.0.0.1\"], \"deny\": [\"10.9.0.0/16\", \"8.8.8.0/24\"]}",
                           0, NULL);
    kerr e = KERR_INIT;
    assert_int_equal(netguard_configure(j, &e), 0);
    json_decref(j);
    char msg[KERR_MSG_MAX];
    assert_false(refused("10.1.2.3", NULL, NULL));       /* allowed range */
    assert_true(refused("10.9.1.1", NULL, msg));         /* deny beats allow */
    assert_string_equal(msg, "security.ssrf: 10.9.1.1 is in the denied range 10.9.0.0/16 (security.ssrf.deny in kite.yml)");
    assert_true(refused("8.8.8.8", NULL, NULL));         /* deny of a public range */
    assert_false(refused("169.254.1.1", NULL, NULL));    /* link-local allowed ... */
    assert_true(refused("169.254.169.254", NULL, NULL)); /* ... not the more specific metadata */
    assert_false(refused("127.0.0.1", NULL, NULL));      /* exact address */
    assert_true(refused("127.0.0.2", NULL, NULL));
    assert_false(refused("192.168.1.1", "db.internal", NULL)); /* a name in allow */
    assert_false(refused("192.168.1.1", "DB.Internal.", NULL));
    assert_false(refused("192.168.1.1", "a.corp.example", NULL));
    assert_true(refused("192.168.1.1", "corp.example", NULL));
    assert_true(refused("192.168.1.1", "xcorp.example", NULL));
    assert_true(refused("10.9.0.1", "db.internal", NULL)); /* deny beats a name */
    netguard_configure(NULL, NULL);
}

static void test_guard_config_errors(void **st)
{
    const char *cases[][2] = {
        {"{\"enabled\": \"yes\"}", "'security.ssrf.enabled' must be true or false"},
        {"{\"allow\": [\"10.0.0.1/8\"]}", "'security.ssrf.allow[0]': '10.0.0.1/8' has bits set"},
        {"{\"allow\": [\"a b\"]}", "'security.ssrf.allow[0]': not a network nor a host name"},
        {"{\"deny\": [\"nope\"]}", "'security.ssrf.deny[0]': 'nope' is not a network"},
        {"{\"deny\": \"10.0.0.0/8\"}", "'security.ssrf.deny' must be a list"},
        {"{\"allwo\": []}", "unknown key 'security.ssrf.allwo'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = json_loads(cases[i][0], 0, NULL);
        kerr e = KERR_INIT;
        assert_int_equal(netguard_configure(j, &e), -1);
        if (!strstr(e.msg, cases[i][1]))
            fail_msg("%s: got '%s'", cases[i][0], e.msg);
        json_decref(j);
    }
    netguard_configure(NULL, NULL);
}

static void test_guard_resolve(void **st)
{
    json_t *j = json_loads("{\"enabled\": true}", 0, NULL);
    netguard_configure(j, NULL);
    json_decref(j);
    struct sockaddr_storage ss;
    socklen_t len;
    char text[64];
    kerr e = KERR_INIT;
    assert_int_equal(netguard_resolve("localhost", 80, 0, &ss, &len, text, &e), -1);
    assert_non_null(strstr(e.msg, "is in the denied range"));
    netguard_configure(NULL, NULL);
    kerr e2 = KERR_INIT;
    assert_int_equal(netguard_resolve("127.0.0.1", 5432, 0, &ss, &len, text, &e2), 0);
    assert_string_equal(text, "127.0.0.1");
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 5432);
}

/* A listening socket on 127.0.0.1; its port in *port. */
static int listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static void test_guard_connect(void **st)
{
    int port, l = listener(&port);
    netguard_configure(NULL, NULL);
    kerr e = KERR_INIT;
    int fd = netguard_connect("127.0.0.1", port, 2000, &e);
    assert_true(fd >= 0); /* off: connects */
    close(fd);
    json_t *j = json_loads("{\"enabled\": true}", 0, NULL);
    netguard_configure(j, NULL);
    json_decref(j);
    kerr e2 = KERR_INIT;
    assert_int_equal(netguard_connect("127.0.0.1", port, 2000, &e2), -1);
    assert_string_equal(e2.msg, "security.ssrf: 127.0.0.1 is in the denied range 127.0.0.0/8 (loopback); allow it in "
                                "kite.yml security.ssrf.allow");
    kerr e3 = KERR_INIT;
    assert_int_equal(netguard_check_host_all("localhost", port, &e3), -1);
    j = json_loads("{\"enabled\": true, \"allow\": [\"127.0.0.1\"]}", 0, NULL);
    netguard_configure(j, NULL);
    json_decref(j);
    kerr e4 = KERR_INIT;
    fd = netguard_connect("127.0.0.1", port, 2000, &e4);
    assert_true(fd >= 0); /* allowed: connects to the address checked */
    close(fd);
    close(l);
    kerr e5 = KERR_INIT;
    assert_int_equal(netguard_connect("127.0.0.1", port, 2000, &e5), -1); /* nobody listens now */
    assert_non_null(strstr(e5.msg, "cannot connect to 127.0.0.1 port"));
    netguard_configure(NULL, NULL);
}

static void test_client_from_proxies(void **st)
{
    json_t *j = json_loads("[\"10.0.0.0/8\", \"::1\"]", 0, NULL);
    netguard_list l;
    assert_int_equal(netguard_list_parse(j, "server.trustedProxies", &l, NULL), 0);
    json_decref(j);
    char out[INET6_ADDRSTRLEN];
    srv__client_from(&l, "192.0.2.1", "203.0.113.7", out);
    assert_string_equal(out, "192.0.2.1"); /* untrusted peer: header ignored */
    srv__client_from(&l, "10.0.0.2", NULL, out);
    assert_string_equal(out, "10.0.0.2");
    srv__client_from(&l, "10.0.0.2", "1.1.1.1, 203.0.113.7", out);
    assert_string_equal(out, "203.0.113.7"); /* rightmost */
    srv__client_from(&l, "10.0.0.2", "203.0.113.7, 10.1.1.1,10.2.2.2", out);
    assert_string_equal(out, "203.0.113.7"); /* trusted hops skipped */
    srv__client_from(&l, "10.0.0.2", "10.1.1.1, 10.2.2.2", out);
    assert_string_equal(out, "10.1.1.1"); /* all trusted: the leftmost */
    srv__client_from(&l, "10.0.0.2", "203.0.113.7, junk", out);
    assert_string_equal(out, "10.0.0.2"); /* malformed: the last trusted hop */
    srv__client_from(&l, "::1", "[2001:db8::1]:443", out);
    assert_string_equal(out, "2001:db8::1");
    srv__client_from(&l, "::1", "203.0.113.7:51234", out);
    assert_string_equal(out, "203.0.113.7");
    srv__client_from(&l, "10.0.0.2", "", out);
    assert_string_equal(out, "10.0.0.2");
    netguard_list_free(&l);
}

int main(void)
{
    kjson_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_parse_and_format),
        cmocka_unit_test(test_cidr_contains_and_mapped),
        cmocka_unit_test(test_guard_off_by_default),
        cmocka_unit_test(test_guard_builtin_ranges),
        cmocka_unit_test(test_guard_allow_deny_specificity),
        cmocka_unit_test(test_guard_config_errors),
        cmocka_unit_test(test_guard_resolve),
        cmocka_unit_test(test_guard_connect),
        cmocka_unit_test(test_client_from_proxies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
