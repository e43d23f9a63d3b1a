/*
 * test_util.c: the shared helpers of src/util that have no suite of their
 * own: the string map and FNV-1a (hash.h), digests (digest.h), "did you
 * mean" and hex digits (strutil.h), UTF-8 (utf8.h), truthiness (truth.h),
 * jansson helpers (json.h) and base64 (base64.h).
 *
 * Digests are checked against the published test vectors (RFC 1321, FIPS
 * 180-4 examples); truthiness against Kestra's TruthUtils table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/aesgcm.h"
#include "util/base64.h"
#include "util/digest.h"
#include "util/hash.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/strutil.h"
#include "util/truth.h"
#include "util/utf8.h"

/* ---- hash.h ---------------------------------------------------------------------------- */

static void test_fnv1a_vectors(void **state)
{
    /* kite's offset basis (hash.c), FNV's prime: these values name stored
     * state files, so they must never change */
    assert_true(hash_fnv1a("") == 0x14650fb0739d0383ULL);
    assert_true(hash_fnv1a("a") == 0x44bd8ad473cd9906ULL);
    assert_true(hash_fnv1a("foobar") == 0x88fad7c0a8ff07f2ULL);
    assert_true(hash_fnv1a_n("foobar", 6) == hash_fnv1a("foobar"));
}

static void test_strmap_put_get_grow(void **state)
{
    strmap m;
    strmap_init(&m, 1);
    assert_null(strmap_get(&m, "x"));
    assert_null(strmap_find(&m, "x"));
    char key[32];
    for (intptr_t i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%ld", (long)i);
        assert_int_equal(strmap_put(&m, key, (void *)(i + 1)), 1);
    }
    assert_int_equal(strmap_count(&m), 5000);
    for (intptr_t i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%ld", (long)i);
        assert_true(strmap_get(&m, key) == (void *)(i + 1));
    }
    /* replacing keeps the count */
    assert_int_equal(strmap_put(&m, "k7", (void *)99), 0);
    assert_true(strmap_get(&m, "k7") == (void *)99);
    assert_int_equal(strmap_count(&m), 5000);
    /* a NULL value is found */
    strmap_put(&m, "nothing", NULL);
    assert_non_null(strmap_find(&m, "nothing"));
    assert_null(strmap_get(&m, "nothing"));
    /* owned keys are copies */
    snprintf(key, sizeof key, "temp");
    strmap_put(&m, key, (void *)1);
    key[0] = 'x';
    assert_true(strmap_get(&m, "temp") == (void *)1);
    assert_true(strmap_key(&m, "temp") != key);
    /* iteration sees every key once */
    size_t seen = 0;
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&m, &i, &k, &v);)
        seen++;
    assert_int_equal(seen, strmap_count(&m));
    strmap_free(&m);
    assert_int_equal(strmap_count(&m), 0);
    assert_null(strmap_get(&m, "k1"));
}

static void test_strmap_borrowed_keys(void **state)
{
    strmap m = STRMAP_INIT;
    static const char *names[] = {"log", "Log", "io.kestra.plugin.core.log.Log", ""};
    for (size_t i = 0; i < 4; i++)
        strmap_put(&m, names[i], (void *)names[i]);
    for (size_t i = 0; i < 4; i++) {
        assert_ptr_equal(strmap_get(&m, names[i]), names[i]);
        assert_ptr_equal(strmap_key(&m, names[i]), names[i]);
    }
    int added = 0;
    void **slot = strmap_slot_for(&m, "log", &added);
    assert_int_equal(added, 0);
    assert_ptr_equal(*slot, names[0]);
    strmap_free(&m);
}

/* ---- digest.h ---------------------------------------------------------------------------- */

static void test_digest_vectors(void **state)
{
    static const struct {
        const char *alg, *in, *hex;
    } v[] = {
        {"md5", "", "d41d8cd98f00b204e9800998ecf8427e"},
        {"md5", "abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"sha1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"sha256", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"sha256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"sha256", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"sha512", "abc",
         "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
         "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char *h = digest_hex(v[i].alg, v[i].in, strlen(v[i].in));
        assert_non_null(h);
        assert_string_equal(h, v[i].hex);
        free(h);
    }
    assert_null(digest_hex("sha3", "abc", 3));
    char hex[65];
    digest_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, v[4].hex);
}

static void test_sha256_block_edges(void **state)
{
    /* 55, 56 and 64 bytes: the padding crosses a block at 56 */
    char m[200];
    memset(m, 'a', sizeof m);
    char hex[65];
    digest_sha256_hex(m, 55, hex);
    assert_string_equal(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    digest_sha256_hex(m, 56, hex);
    assert_string_equal(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    digest_sha256_hex(m, 64, hex);
    assert_string_equal(hex, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
    /* FIPS 180-4's long example: a million 'a' */
    char *million = xmalloc(1000000);
    memset(million, 'a', 1000000);
    digest_sha256_hex(million, 1000000, hex);
    free(million);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* ---- strutil.h --------------------------------------------------------------------------- */

static void test_edit_distance_osa(void **state)
{
    assert_int_equal(str_edit_distance("log", "log", 3), 0);
    assert_int_equal(str_edit_distance("Log", "lOG", 3), 0);
    assert_int_equal(str_edit_distance("lgo", "log", 3), 1);   /* a transposition */
    assert_int_equal(str_edit_distance("upper", "uper", 3), 1);
    assert_int_equal(str_edit_distance("kitten", "sitting", 3), 3);
    assert_int_equal(str_edit_distance("abc", "ca", 3), 3);    /* OSA, not Damerau */
    assert_int_equal(str_edit_distance("abcdefgh", "zzzzzzzz", 2), 3); /* capped */
    assert_int_equal(str_edit_distance("a", "abcdef", 2), 3);
    assert_int_equal(str_edit_distance("", "ab", 3), 2);
}

static void test_suggest_one_rule(void **state)
{
    static const char *const c[] = {"upper", "lower", "title", "trim", "length", NULL};
    assert_string_equal(str_suggest_list("uper", c), "upper");
    assert_string_equal(str_suggest_list("lenght", c), "length"); /* a transposition */
    assert_string_equal(str_suggest_list("LOWER", c), "lower");
    assert_null(str_suggest_list("xyzzy", c));
    assert_null(str_suggest_list("t", c)); /* one edit from nothing */
    assert_int_equal(str_suggest_limit(1), 1);
    assert_int_equal(str_suggest_limit(6), 2);
    assert_int_equal(str_suggest_limit(30), 3);
    /* NULL entries are skipped */
    const char *const d[] = {NULL, "retry"};
    assert_string_equal(str_suggest("retyr", d, 2), "retry");
}

static void test_hex_digits(void **state)
{
    assert_int_equal(str_hexval('0'), 0);
    assert_int_equal(str_hexval('a'), 10);
    assert_int_equal(str_hexval('F'), 15);
    assert_int_equal(str_hexval('g'), -1);
    assert_int_equal(str_hexval('\0'), -1);
    char out[9];
    str_hex_encode("\x00\x7f\xff\x10", 4, out);
    assert_string_equal(out, "007fff10");
}

/* ---- utf8.h ------------------------------------------------------------------------------ */

static void test_utf8_encode(void **state)
{
    char o[4];
    assert_int_equal(utf8_encode('A', o), 1);
    assert_int_equal(utf8_encode(0xE9, o), 2);
    assert_memory_equal(o, "\xC3\xA9", 2);
    assert_int_equal(utf8_encode(0x20AC, o), 3);
    assert_memory_equal(o, "\xE2\x82\xAC", 3);
    assert_int_equal(utf8_encode(0x1F600, o), 4);
    assert_memory_equal(o, "\xF0\x9F\x98\x80", 4);
}

static void test_utf8_valid_and_clean(void **state)
{
    assert_true(utf8_valid("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80", 15));
    assert_true(utf8_valid("a\0b", 3));
    assert_false(utf8_valid("\xC3", 1));           /* cut short */
    assert_false(utf8_valid("\xC0\xAF", 2));       /* overlong */
    assert_false(utf8_valid("\xE0\x80\xAF", 3));   /* overlong */
    assert_false(utf8_valid("\xED\xA0\x80", 3));   /* a surrogate */
    assert_false(utf8_valid("\xF4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(utf8_valid("\xFF", 1));
    char *c = utf8_clean("a\xFF" "b\0c\xC3\xA9", 7);
    assert_string_equal(c, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xC3\xA9");
    free(c);
    c = utf8_clean("", 0);
    assert_string_equal(c, "");
    free(c);
}

static void test_utf8_count_split_case(void **state)
{
    assert_int_equal(utf8_count("h\xC3\xA9llo"), 5);
    assert_int_equal(utf8_count(""), 0);
    /* "ab€" cut after 3 bytes would split the euro sign: cut before it */
    assert_int_equal(utf8_split("ab\xE2\x82\xAC", 3), 2);
    assert_int_equal(utf8_split("abcd", 3), 3);
    assert_int_equal(utf8_seq_len("\xE2\x82\xAC!", 4), 3);
    char o[4];
    assert_int_equal(utf8_case_char("\xC3\xA9", 2, 1, o), 2); /* é -> É */
    assert_memory_equal(o, "\xC3\x89", 2);
    assert_int_equal(utf8_case_char("\xC3\x89", 2, 0, o), 2);
    assert_memory_equal(o, "\xC3\xA9", 2);
    assert_int_equal(utf8_case_char("\xC3\xB7", 2, 1, o), 2); /* ÷ stays */
    assert_memory_equal(o, "\xC3\xB7", 2);
    assert_int_equal(utf8_case_char("q", 1, 1, o), 1);
    assert_int_equal(o[0], 'Q');
}

/* ---- truth.h ----------------------------------------------------------------------------- */

static void test_truth_kestra_rule(void **state)
{
    /* Kestra's TruthUtilsTest: true, "  true  ", "1", any text; false for
     * "false", "     false ", "0", "-0", "" */
    assert_true(kite_truthy_text("true", TRUTH_KESTRA));
    assert_true(kite_truthy_text("  true  ", TRUTH_KESTRA));
    assert_true(kite_truthy_text("1", TRUTH_KESTRA));
    assert_true(kite_truthy_text("This should be true", TRUTH_KESTRA));
    assert_false(kite_truthy_text("false", TRUTH_KESTRA));
    assert_false(kite_truthy_text("     false ", TRUTH_KESTRA));
    assert_false(kite_truthy_text("0", TRUTH_KESTRA));
    assert_false(kite_truthy_text("-0", TRUTH_KESTRA));
    assert_false(kite_truthy_text("", TRUTH_KESTRA));
    assert_false(kite_truthy_text(" \n", TRUTH_KESTRA));
    assert_false(kite_truthy_text(NULL, TRUTH_KESTRA));
    assert_true(kite_truthy_text("FALSE", TRUTH_KESTRA)); /* case matters, as in Kestra */
    json_t *v = json_integer(0);
    assert_false(kite_truthy(v, TRUTH_KESTRA));
    json_decref(v);
    v = json_real(2.5);
    assert_true(kite_truthy(v, TRUTH_KESTRA));
    json_decref(v);
    v = json_array();
    assert_true(kite_truthy(v, TRUTH_KESTRA)); /* its text "[]" is not a false word */
    assert_false(kite_truthy(v, TRUTH_PEBBLE));
    json_decref(v);
    assert_false(kite_truthy(json_null(), TRUTH_KESTRA));
    assert_false(kite_truthy(NULL, TRUTH_KESTRA));
    assert_true(kite_truthy(json_true(), TRUTH_KESTRA));
}

static void test_truth_condition_and_pebble_rules(void **state)
{
    assert_false(kite_truthy_text(" false\n", TRUTH_CONDITION));
    assert_false(kite_truthy_text("   ", TRUTH_CONDITION));
    assert_true(kite_truthy_text("0", TRUTH_CONDITION)); /* only "false" is false */
    assert_false(kite_truthy_text("false", TRUTH_PEBBLE));
    assert_true(kite_truthy_text(" false", TRUTH_PEBBLE)); /* no trim */
    assert_false(kite_truthy_text("", TRUTH_PEBBLE));
    json_t *o = json_pack("{s:i}", "a", 1);
    assert_true(kite_truthy(o, TRUTH_PEBBLE));
    json_decref(o);
}

/* ---- json.h ------------------------------------------------------------------------------ */

static void test_json_share_dump_kind(void **state)
{
    json_t *v = json_pack("{s:i}", "a", 1);
    size_t rc = kjson_share(v);
    assert_int_equal(rc, 1);
    json_incref(v);
    json_decref(v);
    json_decref(v); /* immortal: nothing happens */
    assert_true(v->refcount == (size_t)-1);
    kjson_unshare(v, rc);
    assert_int_equal(v->refcount, 1);
    char *s = kjson_dump(v);
    assert_string_equal(s, "{\"a\":1}");
    free(s);
    assert_string_equal(json_kind_word(v, JSON_WORDS_YAML), "a mapping");
    assert_string_equal(json_kind_word(v, JSON_WORDS_JSON), "an object");
    json_decref(v);
    json_t *str = json_string("x");
    s = kjson_dump(str);
    assert_string_equal(s, "\"x\"");
    free(s);
    assert_string_equal(json_kind_word(str, JSON_WORDS_YAML), "a string");
    json_decref(str);
    assert_null(kjson_dump(NULL));
    assert_int_equal(kjson_share(NULL), 0);
}

/* kite's compact dump writes jansson's bytes: every escape, UTF-8 left as it
 * is, embedded NULs, keys in the object's order, reals at both precisions,
 * and 2,000 random documents. */
static json_t *random_value(unsigned *seed, int depth)
{
    static const char *const words[] = {"", "a", "\"q\"", "back\\slash", "tab\there", "nl\n", "\x01\x1f",
                                        "/slash", "caf\xc3\xa9", "\xe2\x80\xa8", "\xf0\x9f\x98\x80", "\x7f"};
    int kind = (int)(rand_r(seed) % (depth > 3 ? 6u : 8u));
    switch (kind) {
    case 0: return json_string(words[rand_r(seed) % (sizeof words / sizeof *words)]);
    case 1: return json_integer((json_int_t)rand_r(seed) * (rand_r(seed) % 2 ? -1 : 1) * 1000003LL);
    case 2: return json_real((double)rand_r(seed) / (rand_r(seed) % 1000 + 1) * (rand_r(seed) % 2 ? 1e-9 : 1e12));
    case 3: return json_true();
    case 4: return json_null();
    case 5: return json_stringn("nul\0byte", 8);
    case 6: {
        json_t *a = json_array();
        for (unsigned i = rand_r(seed) % 5; i; i--)
            json_array_append_new(a, random_value(seed, depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = rand_r(seed) % 5; i; i--) {
            char k[16];
            snprintf(k, sizeof k, "%s%u", i % 2 ? "k\"" : "key", rand_r(seed) % 100);
            json_object_set_new(o, k, random_value(seed, depth + 1));
        }
        return o;
    }
    }
}

static void test_json_dump_writes_janssons_bytes(void **state)
{
    unsigned seed = 15;
    for (int i = 0; i < 2000; i++) {
        json_t *v = random_value(&seed, 0);
        for (int p = 0; p <= 15; p += 15) {
            char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(p));
            char *got = kjson_dump_real(v, p);
            assert_non_null(want);
            assert_string_equal(got, want);
            free(want);
            free(got);
        }
        json_decref(v);
    }
    json_t *o = json_pack("{s:s,s:[],s:{},s:f,s:f}", "z", "first", "a", "b", "n", 0.1, "m", 1e300);
    char *s = kjson_dump(o);
    assert_string_equal(s, "{\"z\":\"first\",\"a\":[],\"b\":{},\"n\":0.10000000000000001,\"m\":1.0000000000000001e300}");
    free(s);
    s = kjson_dump_real(o, 15);
    assert_string_equal(s, "{\"z\":\"first\",\"a\":[],\"b\":{},\"n\":0.1,\"m\":1e300}");
    free(s);
    json_decref(o);
}

/* ---- base64.h ---------------------------------------------------------------------------- */

static void test_base64(void **state)
{
    static const char *const rfc[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                         {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < 7; i++) {
        char *e = base64_encode(rfc[i][0], strlen(rfc[i][0]));
        assert_string_equal(e, rfc[i][1]);
        free(e);
        size_t n;
        char *d = base64_decode(rfc[i][1], strlen(rfc[i][1]), &n, NULL);
        assert_int_equal(n, strlen(rfc[i][0]));
        assert_string_equal(d, rfc[i][0]);
        free(d);
    }
    size_t n, bad = 0;
    char *d = base64_decode("Zm9v\nYmFy\r\n", 11, &n, &bad);
    assert_string_equal(d, "foobar");
    free(d);
    d = base64_decode("-_8", 3, &n, NULL); /* the URL alphabet */
    assert_int_equal(n, 2);
    assert_memory_equal(d, "\xfb\xff", 2);
    free(d);
    assert_null(base64_decode("Zm9v*", 5, &n, &bad));
    assert_int_equal(bad, 4);
}

/* The GCM specification's test case 3 (AES-128, 96-bit IV), laid out as Kestra lays a value
 * out (IV || ciphertext || tag, base64): decrypting it gives the spec's plaintext; one flipped
 * bit fails on the tag; encrypting then decrypting gives the text back, with a fresh IV. */
static void test_aesgcm(void **state)
{
    static const unsigned char want[] = {
        0xd9, 0x31, 0x32, 0x25, 0xf8, 0x84, 0x06, 0xe5, 0xa5, 0x59, 0x09, 0xc5, 0xaf, 0xf5, 0x26, 0x9a,
        0x86, 0xa7, 0xa9, 0x53, 0x15, 0x34, 0xf7, 0xda, 0x2e, 0x4c, 0x30, 0x3d, 0x8a, 0x31, 0x8a, 0x72,
        0x1c, 0x3c, 0x0c, 0x95, 0x95, 0x68, 0x09, 0x53, 0x2f, 0xcf, 0x0e, 0x24, 0x49, 0xa6, 0xb5, 0x25,
        0xb1, 0x6a, 0xed, 0xf5, 0xaa, 0x0d, 0xe6, 0x57, 0xba, 0x63, 0x7b, 0x39, 0x1a, 0xaf, 0xd2, 0x55};
    const char *key = "/v/pkoZlcxxtao+UZzCDCA==";
    char value[] = "yv66vvrO263eyviIQoMewiF3dCRLciG3hNDUnOOqIS8sAqTgNcF+IymsoS4h1RSyVGaTHH2PalqshKoFG6MLOWoK"
                   "rJc9WOCRRz9ZhU1cKvMnzWSmLPNavSum+rQ=";
    kerr e = KERR_INIT;
    size_t len = 0;
    char *plain = aesgcm_decrypt(key, value, &len, &e);
    assert_non_null(plain);
    assert_int_equal(len, sizeof want);
    assert_memory_equal(plain, want, sizeof want);
    free(plain);
    value[40] = value[40] == 'A' ? 'B' : 'A';
    assert_null(aesgcm_decrypt(key, value, &len, &e));
    assert_string_equal(e.msg, "tag mismatch: the value was encrypted with another key, or altered");

    const char *k256 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    char *a = aesgcm_encrypt(k256, "", 0, &e), *b = aesgcm_encrypt(k256, "", 0, &e);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_not_equal(a, b); /* a random IV each time */
    assert_int_equal(strlen(a), 40); /* base64 of 12 + 0 + 16 bytes */
    plain = aesgcm_decrypt(k256, a, &len, &e);
    assert_non_null(plain);
    assert_int_equal(len, 0);
    free(plain);
    free(a);
    free(b);
    assert_null(aesgcm_encrypt("c2hvcnQ=", "x", 1, &e));
    assert_string_equal(e.msg, "invalid AES key length: 5 bytes (the base64 key must decode to 16, 24 or 32 bytes)");
}

int main(void)
{
    kjson_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1a_vectors),
        cmocka_unit_test(test_aesgcm),
        cmocka_unit_test(test_strmap_put_get_grow),
        cmocka_unit_test(test_strmap_borrowed_keys),
        cmocka_unit_test(test_digest_vectors),
        cmocka_unit_test(test_sha256_block_edges),
        cmocka_unit_test(test_edit_distance_osa),
        cmocka_unit_test(test_suggest_one_rule),
        cmocka_unit_test(test_hex_digits),
        cmocka_unit_test(test_utf8_encode),
        cmocka_unit_test(test_utf8_valid_and_clean),
        cmocka_unit_test(test_utf8_count_split_case),
        cmocka_unit_test(test_truth_kestra_rule),
        cmocka_unit_test(test_truth_condition_and_pebble_rules),
        cmocka_unit_test(test_json_share_dump_kind),
        cmocka_unit_test(test_json_dump_writes_janssons_bytes),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
