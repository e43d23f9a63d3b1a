/*
 * fuzz_inputs.c: execution inputs and flow outputs on any bytes.
 *
 * Input values come from users (the API, forms, `kite run --input`), so the
 * reader must take anything without crashing. An input is
 *
 *   TYPE '\n' DECLARATION-EXTRAS (a JSON object, or anything) '\n' VALUE
 *
 * where the value is given once as text and once as the JSON it parses to
 * (when it does). Beyond "does not crash" this checks, aborting otherwise:
 *   - a failed read names the input: its message starts with "input 'x";
 *   - a read that succeeds has exactly the key "x";
 *   - reading is idempotent: the value read, given again, reads the same
 *     (not for JSON and YAML, whose text is parsed and not re-quoted);
 *   - engine_output_typed either fails naming the output or returns a value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/engine.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static int reparses(const char *type, const json_t *decl)
{
    if (!strcasecmp(type, "JSON") || !strcasecmp(type, "YAML"))
        return 0;
    const char *it = json_string_value(json_object_get(decl, "itemType"));
    if (!strcasecmp(type, "ARRAY") && (!it || !strcasecmp(it, "JSON") || !strcasecmp(it, "YAML")))
        return 0;
    return 1;
}

static void read_once(flow *f, const json_t *decl, const char *type, json_t *value)
{
    json_t *given = json_object();
    json_object_set(given, "x", value);
    kerr e = KERR_INIT;
    json_t *r = engine_inputs_read(f, given, NULL, NULL, "exec", &e);
    if (!r) {
        check(strncmp(e.msg, "input 'x", 8) == 0);
    } else {
        check(json_is_object(r) && json_object_size(r) == 1 && json_object_get(r, "x"));
        json_t *x = json_object_get(r, "x");
        if (!json_is_null(x) && !json_is_null(value) && reparses(type, decl)) {
            json_t *again = json_object();
            json_object_set(again, "x", x);
            kerr e2 = KERR_INIT;
            json_t *r2 = engine_inputs_read(f, again, NULL, NULL, "exec", &e2);
            check(r2 && json_equal(r2, r));
            json_decref(r2);
            json_decref(again);
        }
        json_decref(r);
    }
    json_decref(given);

    kerr eo = KERR_INIT;
    json_t *o = engine_output_typed("x", type, value, &eo);
    if (!o)
        check(strncmp(eo.msg, "output 'x'", 10) == 0);
    json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = xmalloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl1 = memchr(text, '\n', size);
    char *nl2 = nl1 ? memchr(nl1 + 1, '\n', size - (size_t)(nl1 + 1 - text)) : NULL;
    if (!nl2) {
        free(text);
        return 0;
    }
    *nl1 = *nl2 = '\0';
    const char *type = text;
    json_t *decl = json_loadb(nl1 + 1, (size_t)(nl2 - nl1 - 1), 0, NULL);
    if (!json_is_object(decl)) {
        json_decref(decl);
        decl = json_object();
    }
    json_object_set_new(decl, "id", json_string("x"));
    json_object_set_new(decl, "type", json_string(type));    /* NULL (bad UTF-8): no type */
    json_t *doc = json_pack("{s[O]}", "inputs", decl);

    flow f;
    memset(&f, 0, sizeof f);
    f.doc = doc;
    f.id = "f";
    f.namespace = "company.team";

    const char *vtext = nl2 + 1;
    size_t vlen = size - (size_t)(vtext - text);
    json_t *as_text = json_stringn(vtext, vlen);    /* NULL when not UTF-8 */
    if (as_text)
        read_once(&f, decl, type, as_text);
    json_t *as_json = json_loadb(vtext, vlen, JSON_DECODE_ANY, NULL);
    if (as_json)
        read_once(&f, decl, type, as_json);
    json_decref(as_text);
    json_decref(as_json);
    json_decref(doc);
    json_decref(decl);
    free(text);
    return 0;
}
