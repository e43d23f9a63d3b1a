/*
 * test_httpc.c: the HTTP client against real servers on loopback.
 *
 * The group starts tests/lib/httpd.py twice, once plain and once with TLS
 * from a self-signed certificate made for the run (tests/lib/mkcert.sh), and
 * stops both at the end. Every case is a real request over TCP.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>

#include "util/buf.h"
#include "util/httpc.h"

static char tmpdir[64];
static char cert[128];
static pid_t plain_pid, tls_pid;
static int plain_port, tls_port;

static pid_t start_server(int tls, int *port)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);   /* a child must not inherit unwritten test output */
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        char key[128];
        snprintf(key, sizeof key, "%s/key.pem", tmpdir);
        if (tls)
            execlp("python3", "python3", "tests/lib/httpd.py", "--max-seconds", "300", "--tls",
                   cert, key, (char *)NULL);
        else
            execlp("python3", "python3", "tests/lib/httpd.py", "--max-seconds", "300",
                   (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    /* the port, on a line of its own, once the server listens */
    char line[32] = "";
    size_t got = 0;
    while (got < sizeof line - 1 && !memchr(line, '\n', got)) {
        ssize_t n = read(fds[0], line + got, sizeof line - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    *port = atoi(line);
    if (*port <= 0)
        fprintf(stderr, "httpd.py did not start (read '%s')\n", line);
    return pid;
}

static int group_setup(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kite-httpc-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "tests/lib/mkcert.sh %s", tmpdir);
    if (system(cmd) != 0)
        return -1;
    snprintf(cert, sizeof cert, "%s/cert.pem", tmpdir);
    plain_pid = start_server(0, &plain_port);
    tls_pid = start_server(1, &tls_port);
    return plain_pid > 0 && tls_pid > 0 && plain_port > 0 && tls_port > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    if (plain_pid > 0)
        kill(plain_pid, SIGTERM), waitpid(plain_pid, NULL, 0);
    if (tls_pid > 0)
        kill(tls_pid, SIGTERM), waitpid(tls_pid, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *url(int tls, const char *path)
{
    static char u[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(u[i], sizeof u[i], "%s://127.0.0.1:%d%s", tls ? "https" : "http",
             tls ? tls_port : plain_port, path);
    return u[i];
}

static json_t *body_json(const httpc_resp *r)
{
    json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
    assert_non_null(j);
    return j;
}

static void test_get_sends_headers_and_reads_the_answer(void **state)
{
    httpc *c = httpc_new();
    const char *hdrs[] = {"X-Team: platform", NULL};
    httpc_req rq = {.url = url(0, "/echo?a=1"), .headers = hdrs};
    httpc_resp r;
    kerr e = KERR_INIT;
    assert_int_equal(httpc_do(c, &rq, NULL, &r, &e), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(httpc_resp_header(&r, "content-type"), "application/json");
    assert_string_equal(httpc_resp_header(&r, "X-TEST"), "kite");
    json_t *j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(j, "query")), "a=1");
    json_t *h = json_object_get(j, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "X-Team")), "platform");
    assert_string_equal(json_string_value(json_object_get(h, "User-Agent")), "kite");
    json_decref(j);
    httpc_resp_free(&r);
    httpc_free(c);
}

static void test_methods_and_bodies(void **state)
{
    httpc *c = httpc_new();
    static const char *methods[] = {"POST", "PUT", "PATCH", "DELETE"};
    for (size_t i = 0; i < 4; i++) {
        httpc_req rq = {.method = methods[i], .url = url(0, "/echo"), .body = "{\"k\":1}",
                        .body_len = 7};
        httpc_resp r;
        kerr e = KERR_INIT;
        assert_int_equal(httpc_do(c, &rq, NULL, &r, &e), 0);
        json_t *j = body_json(&r);
        assert_string_equal(json_string_value(json_object_get(j, "method")), methods[i]);
        assert_string_equal(json_string_value(json_object_get(j, "body")), "{\"k\":1}");
        json_decref(j);
        httpc_resp_free(&r);
    }
    httpc_free(c);
}

static void test_an_error_status_is_an_answer_not_a_failure(void **state)
{
    httpc *c = httpc_new();
    httpc_req rq = {.url = url(0, "/status/503")};
    httpc_resp r;
    kerr e = KERR_INIT;
    assert_int_equal(httpc_do(c, &rq, NULL, &r, &e), 0);
    assert_int_equal(r.status, 503);
    assert_string_equal(buf_str(&r.body), "status 503");
    httpc_resp_free(&r);
    httpc_free(c);
}

static void test_refused_connection_names_target_and_cause(void **state)
{
    httpc *c = httpc_new();
    httpc_req rq = {.method = "POST", .url = "http://deploy:hunter2@127.0.0.1:1/hook",
                    .body = "x", .body_len = 1};
    httpc_resp r;
    kerr e = KERR_INIT;
    assert_int_equal(httpc_do(c, &rq, NULL, &r, &e), -1);
    assert_string_equal(e.msg, "POST http://127.0.0.1:1/hook: connect: Connection refused");
    assert_null(strstr(e.msg, "hunter2"));
    httpc_free(c);
}

static void test_body_over_the_cap_fails(void **state)
{
    httpc *c = httpc_new();
    httpc_opts o = {.max_body = 1 << 20};
    httpc_req rq = {.url = url(0, "/big?n=2097152")};
    httpc_resp r;
    kerr e = KERR_INIT;
    assert_int_equal(httpc_do(c, &rq, &o, &r, &e), -1);
    assert_non_null(strstr(e.msg, "response body larger than the 1048576 bytes kept"));

    httpc_free(c);
}

static int count_sink(void *ud, const char *p, size_t n)
{
    *(size_t *)ud += n;
    return 0;
}

static int stop_sink(void *ud, const char *p, size_t n)
{
    return 1;
}

static void test_sink_takes_a_body_of_any_size(void **state)
{
    httpc *c = httpc_new();
    size_t got = 0;
    httpc_opts o = {.max_body = 1024};
    httpc_req rq = {.url = url(0, "/big?n=5242880"), .sink = count_sink, .sink_ud = &got};
    httpc_resp r;
    kerr e = KERR_INIT;
    assert_int_equal(httpc_do(c, &rq, &o, &r, &e), 0);
    assert_int_equal(got, 5242880);
    assert_int_equal(r.body_bytes, 5242880);
    assert_int_equal(r.body.len, 0);
    httpc_resp_free(&r);

    rq.sink = stop_sink;
    assert_int_equal(httpc_do(c, &rq, &o, &r, &e), -1);
    assert_non_null(strstr(e.msg, "stopped by the receiver"));
    httpc_free(c);
}

static void test_redirects_only_when_asked_and_bounded(void **state)
{
    httpc *c = httpc_new();
    httpc_req rq = {.url = url(0, "/hops/3")};
    httpc_resp r;
    kerr e = KERR_INIT;
    assert_int_equal(httpc_do(c, &rq, NULL, &r, &e), 0);
    assert_int_equal(r.status, 302);
    assert_string_equal(httpc_resp_header(&r, "Location"), "/hops/2");
    httpc_resp_free(&r);

    httpc_opts o = {.follow_redirects = 1};
    assert_int_equal(httpc_do(c, &rq, &o, &r, &e), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.effective_url, "/hops/0"));
    assert_null(httpc_resp_header(&r, "Location"));   /* the last answer's headers */
    httpc_resp_free(&r);

    o.max_redirects = 2;
    assert_int_equal(httpc_do(c, &rq, &o, &r, &e), -1);
    assert_non_null(strstr(e.msg, "more than 2 redirects"));
    httpc_free(c);
}

static void test_redirect_to_another_scheme_is_refused(void **state)
{
    httpc *c = httpc_new();
    httpc_opts o = {.follow_redirects = 1};
    httpc_req rq = {.url = url(0, "/redirect?to=file:///etc/passwd")};
    httpc_resp r;
    kerr e = KERR_INIT;
    assert_int_equal(httpc_do(c, &rq, &o, &r, &e), -1);
    assert_null(strstr(e.msg, "root:"));
    rq.url = "file:///etc/passwd";
    assert_int_equal(httpc_do(c, &rq, &o, &r, &e), -1);
    assert_non_null(strstr(e.msg, "only http and https URLs are allowed"));
    httpc_free(c);
}

static void test_tls_verifies_unless_told_otherwise(void **state)
{
    httpc *c = httpc_new();
    httpc_req rq = {.url = url(1, "/echo")};
    httpc_resp r;
    kerr e = KERR_INIT;
    assert_int_equal(httpc_do(c, &rq, NULL, &r, &e), -1);
    assert_non_null(strstr(e.msg, "GET https://127.0.0.1:"));
    assert_non_null(strstr(e.msg, ": TLS: "));

    httpc_opts trust = {.ca_file = cert};
    assert_int_equal(httpc_do(c, &rq, &trust, &r, &e), 0);
    assert_int_equal(r.status, 200);
    httpc_resp_free(&r);

    httpc_opts insecure = {.insecure = 1};
    assert_int_equal(httpc_do(c, &rq, &insecure, &r, &e), 0);
    assert_int_equal(r.status, 200);
    httpc_resp_free(&r);
    httpc_free(c);
}

static void test_hundred_requests_reuse_one_tls_connection(void **state)
{
    httpc *c = httpc_new();
    httpc_opts trust = {.ca_file = cert};
    httpc_req rq = {.url = url(1, "/echo")};
    for (int i = 0; i < 100; i++) {
        httpc_resp r;
        kerr e = KERR_INIT;
        assert_int_equal(httpc_do(c, &rq, &trust, &r, &e), 0);
        assert_int_equal(r.status, 200);
        httpc_resp_free(&r);
    }
    assert_int_equal(httpc_connects(c), 1);
    httpc_free(c);
}

static void test_timeouts_end_the_request(void **state)
{
    httpc *c = httpc_new();
    httpc_opts o = {.timeout_ms = 300};
    httpc_req rq = {.url = url(0, "/slow?s=5")};
    httpc_resp r;
    kerr e = KERR_INIT;
    assert_int_equal(httpc_do(c, &rq, &o, &r, &e), -1);
    assert_non_null(strstr(e.msg, "GET http://127.0.0.1:"));
    assert_non_null(strstr(e.msg, "/slow?s=5: timeout: "));

    httpc_opts idle = {.idle_timeout_ms = 1000};
    rq.url = url(0, "/stall");
    assert_int_equal(httpc_do(c, &rq, &idle, &r, &e), -1);
    assert_non_null(strstr(e.msg, ": timeout: "));
    httpc_free(c);
}

static void test_upload_streams_a_file_and_auth_is_sent(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "%s/upload.bin", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 300000; i++)
        fputs("kite", f);
    fclose(f);
    httpc *c = httpc_new();
    httpc_req rq = {.method = "PUT", .url = url(0, "/echo"), .upload_path = path,
                    .basic_user = "ops", .basic_password = "pw"};
    httpc_opts o = {.max_body = 4 << 20};
    httpc_resp r;
    kerr e = KERR_INIT;
    assert_int_equal(httpc_do(c, &rq, &o, &r, &e), 0);
    json_t *j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "method")), "PUT");
    assert_int_equal(json_integer_value(json_object_get(j, "body_len")), 1200000);
    json_t *h = json_object_get(j, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "Authorization")),
                        "Basic b3BzOnB3");
    json_decref(j);
    httpc_resp_free(&r);

    httpc_req bearer = {.url = url(0, "/echo"), .bearer = "t0ken"};
    assert_int_equal(httpc_do(c, &bearer, NULL, &r, &e), 0);
    j = body_json(&r);
    h = json_object_get(j, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "Authorization")),
                        "Bearer t0ken");
    json_decref(j);
    httpc_resp_free(&r);

    rq.upload_path = "/nonexistent/file";
    assert_int_equal(httpc_do(c, &rq, &o, &r, &e), -1);
    assert_non_null(strstr(e.msg, "cannot read the body file"));
    httpc_free(c);
}

static void test_redact_and_escape(void **state)
{
    buf b = BUF_INIT;
    httpc_redact_url("https://u:p@h.example/x?y=@z", &b);
    assert_string_equal(buf_str(&b), "https://h.example/x?y=@z");
    buf_reset(&b);
    httpc_redact_url("https://h.example/a@b", &b);
    assert_string_equal(buf_str(&b), "https://h.example/a@b");
    buf_reset(&b);
    httpc_escape("a b/é~", 7, &b);
    assert_string_equal(buf_str(&b), "a%20b%2F%C3%A9~");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_sends_headers_and_reads_the_answer),
        cmocka_unit_test(test_methods_and_bodies),
        cmocka_unit_test(test_an_error_status_is_an_answer_not_a_failure),
        cmocka_unit_test(test_refused_connection_names_target_and_cause),
        cmocka_unit_test(test_body_over_the_cap_fails),
        cmocka_unit_test(test_sink_takes_a_body_of_any_size),
        cmocka_unit_test(test_redirects_only_when_asked_and_bounded),
        cmocka_unit_test(test_redirect_to_another_scheme_is_refused),
        cmocka_unit_test(test_tls_verifies_unless_told_otherwise),
        cmocka_unit_test(test_hundred_requests_reuse_one_tls_connection),
        cmocka_unit_test(test_timeouts_end_the_request),
        cmocka_unit_test(test_upload_streams_a_file_and_auth_is_sent),
        cmocka_unit_test(test_redact_and_escape),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("httpc", tests, group_setup, group_teardown);
}
