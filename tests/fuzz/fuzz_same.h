/*
 * fuzz_same.h: the equality the JSON/Ion fuzz targets check (fuzz_ion.c,
 * fuzz_json_ion.c): jansson's, but integers and reals compared as numbers
 * (the JSON paths keep digits, so 5.0 may read back as 5) and nan equal
 * to nan. Included by the targets, not a library.
 */
#ifndef KITE_FUZZ_SAME_H
#define KITE_FUZZ_SAME_H

#include <jansson.h>
#include <math.h>

/* a and b equal, with integers and reals compared as numbers */
static int same(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b) ||
               (isnan(json_number_value(a)) && isnan(json_number_value(b)));
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)a, k, x) if (!json_object_get(b, k) || !same(x, json_object_get(b, k))) return 0;
        return 1;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

#endif
