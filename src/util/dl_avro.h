/*
 * dl_avro.h: libavro (the Avro serdes tasks), loaded on first use (util/dl.h).
 * Include it instead of the library's header; call dl_avro_load() first.
 */
#ifndef KITE_UTIL_DL_AVRO_H
#define KITE_UTIL_DL_AVRO_H

#include <avro.h>

#include "util/dl.h"

/* The functions kite calls, as named in the library. */
#define DL_AVRO(X) \
    X(avro_file_reader) \
    X(avro_file_reader_close) \
    X(avro_file_reader_get_writer_schema) \
    X(avro_file_reader_read_value) \
    X(avro_file_writer_append_value) \
    X(avro_file_writer_close) \
    X(avro_file_writer_create_with_codec) \
    X(avro_generic_class_from_schema) \
    X(avro_generic_value_new) \
    X(avro_schema_decref) \
    X(avro_schema_from_json_length) \
    X(avro_strerror) \
    X(avro_value_decref)

struct dl_avro {
    DL_AVRO(DL_SLOT)
};
extern struct dl_avro dl_avro;

/* Each call goes through the table. */
#define avro_file_reader (dl_avro.avro_file_reader)
#define avro_file_reader_close (dl_avro.avro_file_reader_close)
#define avro_file_reader_get_writer_schema (dl_avro.avro_file_reader_get_writer_schema)
#define avro_file_reader_read_value (dl_avro.avro_file_reader_read_value)
#define avro_file_writer_append_value (dl_avro.avro_file_writer_append_value)
#define avro_file_writer_close (dl_avro.avro_file_writer_close)
#define avro_file_writer_create_with_codec (dl_avro.avro_file_writer_create_with_codec)
#define avro_generic_class_from_schema (dl_avro.avro_generic_class_from_schema)
#define avro_generic_value_new (dl_avro.avro_generic_value_new)
#define avro_schema_decref (dl_avro.avro_schema_decref)
#define avro_schema_from_json_length (dl_avro.avro_schema_from_json_length)
#define avro_strerror (dl_avro.avro_strerror)
#define avro_value_decref (dl_avro.avro_value_decref)

#endif
