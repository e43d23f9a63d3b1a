/*
 * test_mask.c: secret masking in every form a secret leaves kite in.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>

#include "util/buf.h"
#include "util/mask.h"

/* An encoder written apart from mask.c's, as a script would encode. */
static char *ref_b64(const char *s, size_t n, int url)
{
    const char *A = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                        : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = calloc(1, n * 2 + 8);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)(unsigned char)s[i] << 16;
        if (i + 1 < n) w |= (uint32_t)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n) w |= (unsigned char)s[i + 2];
        out[o++] = A[(w >> 18) & 63];
        out[o++] = A[(w >> 12) & 63];
        out[o++] = i + 1 < n ? A[(w >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? A[w & 63] : '=';
    }
    return out;
}

static void assert_masked(masker *m, const char *text, const char *expect)
{
    char *r = masker_apply_dup(m, text);
    assert_string_equal(r, expect);
    free(r);
}

static void test_plain_value_masked_everywhere(void **state)
{
    masker *m = masker_new();
    assert_int_equal(masker_add(m, "hunter2", 7), 1);
    assert_int_equal(masker_add(m, "hunter2", 7), 0);
    assert_masked(m, "pw=hunter2 again hunter2.", "pw=****** again ******.");
    assert_masked(m, "nothing here", "nothing here");
    assert_null(masker_apply(m, "nothing", 7, NULL));
    assert_int_equal(masker_count(m), 1);
    masker_free(m);
}

static void test_short_values_are_not_registered(void **state)
{
    masker *m = masker_new();
    assert_int_equal(masker_add(m, "ab", 2), 0);
    assert_masked(m, "about a b", "about a b");
    masker_free(m);
}

static void test_base64_in_any_alignment(void **state)
{
    const char *secret = "s3cr3t-Tok/en+value";
    masker *m = masker_new();
    masker_add(m, secret, strlen(secret));
    for (int url = 0; url < 2; url++)
        for (int pre = 0; pre < 6; pre++)
            for (int post = 0; post < 4; post++) {
                char plain[128];
                snprintf(plain, sizeof plain, "%.*s%s%.*s", pre, "user:", secret, post, "xyz");
                char *enc = ref_b64(plain, strlen(plain), url);
                char *r = masker_apply_dup(m, enc);
                assert_non_null(strstr(r, MASK_TEXT));
                /* at most the prefix's and suffix's own characters stay, plus
                 * the two that mix them with the secret */
                assert_true(strlen(r) - strlen(MASK_TEXT) <= (size_t)(pre + post) * 4 / 3 + 6);
                free(r);
                free(enc);
            }
    masker_free(m);
}

static void test_basic_auth_header_is_masked(void **state)
{
    masker *m = masker_new();
    masker_add(m, "p4ssw0rd!", 9);
    char *enc = ref_b64("deploy:p4ssw0rd!", 16, 0);
    char line[128];
    snprintf(line, sizeof line, "Authorization: Basic %s", enc);
    char *r = masker_apply_dup(m, line);
    assert_non_null(strstr(r, MASK_TEXT));
    assert_null(strstr(r, enc + 8));
    free(r);
    free(enc);
    masker_free(m);
}

static void test_url_and_json_forms(void **state)
{
    const char *secret = "a b&c/d\"e\\f";
    masker *m = masker_new();
    masker_add(m, secret, strlen(secret));
    assert_masked(m, "https://h/?t=a%20b%26c%2Fd%22e%5Cf&x=1", "https://h/?t=******&x=1");
    assert_masked(m, "q=a+b%26c%2fd%22e%5cf", "q=******");
    json_t *j = json_pack("{s:s}", "token", secret);
    char *dump = json_dumps(j, JSON_COMPACT);
    assert_masked(m, dump, "{\"token\":\"******\"}");
    free(dump);
    json_decref(j);
    masker_free(m);
}

static void test_overlapping_secrets_leave_no_fragment(void **state)
{
    masker *m = masker_new();
    masker_add(m, "abcdef", 6);
    masker_add(m, "defghi", 6);
    assert_masked(m, "xabcdefghiy", "x******y");
    assert_masked(m, "abcdefabcdef", "******");
    masker_free(m);
}

static void test_binary_values(void **state)
{
    masker *m = masker_new();
    const char v[] = {'k', 0, 'e', 'y', '\n'};
    masker_add(m, v, sizeof v);
    const char text[] = {'[', 'k', 0, 'e', 'y', '\n', ']'};
    size_t n = 0;
    char *r = masker_apply(m, text, sizeof text, &n);
    assert_non_null(r);
    assert_int_equal(n, 8);
    assert_memory_equal(r, "[******]", 8);
    free(r);
    assert_masked(m, "{\"v\":\"k\\u0000ey\\n\"}", "{\"v\":\"******\"}");
    masker_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_value_masked_everywhere),
        cmocka_unit_test(test_short_values_are_not_registered),
        cmocka_unit_test(test_base64_in_any_alignment),
        cmocka_unit_test(test_basic_auth_header_is_masked),
        cmocka_unit_test(test_url_and_json_forms),
        cmocka_unit_test(test_overlapping_secrets_leave_no_fragment),
        cmocka_unit_test(test_binary_values),
    };
    return cmocka_run_group_tests_name("mask", tests, NULL, NULL);
}
