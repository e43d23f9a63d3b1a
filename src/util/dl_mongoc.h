/*
 * dl_mongoc.h: libmongoc and libbson (MongoDB tasks), loaded on first use (util/dl.h).
 * Include it instead of the library's header; call dl_mongoc_load() first.
 */
#ifndef KITE_UTIL_DL_MONGOC_H
#define KITE_UTIL_DL_MONGOC_H

#include <mongoc/mongoc.h>

#include "util/dl.h"

/* The functions kite calls, as named in the library. */
#define DL_MONGOC(X) \
    X(bson_append_binary) \
    X(bson_append_bool) \
    X(bson_append_document) \
    X(bson_append_int32) \
    X(bson_append_int64) \
    X(bson_append_iter) \
    X(bson_append_oid) \
    X(bson_as_canonical_extended_json) \
    X(bson_as_relaxed_extended_json) \
    X(bson_concat) \
    X(bson_decimal128_to_string) \
    X(bson_destroy) \
    X(bson_free) \
    X(bson_get_data) \
    X(bson_init_static) \
    X(bson_iter_array) \
    X(bson_iter_as_bool) \
    X(bson_iter_as_int64) \
    X(bson_iter_binary) \
    X(bson_iter_bool) \
    X(bson_iter_date_time) \
    X(bson_iter_decimal128) \
    X(bson_iter_document) \
    X(bson_iter_double) \
    X(bson_iter_init) \
    X(bson_iter_init_find) \
    X(bson_iter_int32) \
    X(bson_iter_int64) \
    X(bson_iter_key) \
    X(bson_iter_next) \
    X(bson_iter_oid) \
    X(bson_iter_type) \
    X(bson_iter_utf8) \
    X(bson_new) \
    X(bson_new_from_json) \
    X(bson_oid_init) \
    X(bson_oid_is_valid) \
    X(bson_oid_to_string) \
    X(mongoc_bulk_operation_destroy) \
    X(mongoc_bulk_operation_execute) \
    X(mongoc_bulk_operation_insert_with_opts) \
    X(mongoc_bulk_operation_remove_many_with_opts) \
    X(mongoc_bulk_operation_remove_one_with_opts) \
    X(mongoc_bulk_operation_replace_one_with_opts) \
    X(mongoc_bulk_operation_update_many_with_opts) \
    X(mongoc_bulk_operation_update_one_with_opts) \
    X(mongoc_client_destroy) \
    X(mongoc_client_get_collection) \
    X(mongoc_client_new_from_uri_with_error) \
    X(mongoc_client_set_appname) \
    X(mongoc_client_set_error_api) \
    X(mongoc_collection_aggregate) \
    X(mongoc_collection_create_bulk_operation_with_opts) \
    X(mongoc_collection_delete_many) \
    X(mongoc_collection_delete_one) \
    X(mongoc_collection_destroy) \
    X(mongoc_collection_find_with_opts) \
    X(mongoc_collection_insert_one) \
    X(mongoc_collection_replace_one) \
    X(mongoc_collection_update_many) \
    X(mongoc_collection_update_one) \
    X(mongoc_cursor_destroy) \
    X(mongoc_cursor_error) \
    X(mongoc_cursor_next) \
    X(mongoc_init) \
    X(mongoc_uri_destroy) \
    X(mongoc_uri_get_hosts) \
    X(mongoc_uri_get_option_as_int32) \
    X(mongoc_uri_get_password) \
    X(mongoc_uri_get_srv_hostname) \
    X(mongoc_uri_new_with_error) \
    X(mongoc_uri_set_option_as_int32)

struct dl_mongoc {
    DL_MONGOC(DL_SLOT)
};
extern struct dl_mongoc dl_mongoc;

/* Each call goes through the table. */
#define bson_append_binary (dl_mongoc.bson_append_binary)
#define bson_append_bool (dl_mongoc.bson_append_bool)
#define bson_append_document (dl_mongoc.bson_append_document)
#define bson_append_int32 (dl_mongoc.bson_append_int32)
#define bson_append_int64 (dl_mongoc.bson_append_int64)
#define bson_append_iter (dl_mongoc.bson_append_iter)
#define bson_append_oid (dl_mongoc.bson_append_oid)
#define bson_as_canonical_extended_json (dl_mongoc.bson_as_canonical_extended_json)
#define bson_as_relaxed_extended_json (dl_mongoc.bson_as_relaxed_extended_json)
#define bson_concat (dl_mongoc.bson_concat)
#define bson_decimal128_to_string (dl_mongoc.bson_decimal128_to_string)
#define bson_destroy (dl_mongoc.bson_destroy)
#define bson_free (dl_mongoc.bson_free)
#define bson_get_data (dl_mongoc.bson_get_data)
#define bson_init_static (dl_mongoc.bson_init_static)
#define bson_iter_array (dl_mongoc.bson_iter_array)
#define bson_iter_as_bool (dl_mongoc.bson_iter_as_bool)
#define bson_iter_as_int64 (dl_mongoc.bson_iter_as_int64)
#define bson_iter_binary (dl_mongoc.bson_iter_binary)
#define bson_iter_bool (dl_mongoc.bson_iter_bool)
#define bson_iter_date_time (dl_mongoc.bson_iter_date_time)
#define bson_iter_decimal128 (dl_mongoc.bson_iter_decimal128)
#define bson_iter_document (dl_mongoc.bson_iter_document)
#define bson_iter_double (dl_mongoc.bson_iter_double)
#define bson_iter_init (dl_mongoc.bson_iter_init)
#define bson_iter_init_find (dl_mongoc.bson_iter_init_find)
#define bson_iter_int32 (dl_mongoc.bson_iter_int32)
#define bson_iter_int64 (dl_mongoc.bson_iter_int64)
#define bson_iter_key (dl_mongoc.bson_iter_key)
#define bson_iter_next (dl_mongoc.bson_iter_next)
#define bson_iter_oid (dl_mongoc.bson_iter_oid)
#define bson_iter_type (dl_mongoc.bson_iter_type)
#define bson_iter_utf8 (dl_mongoc.bson_iter_utf8)
#define bson_new (dl_mongoc.bson_new)
#define bson_new_from_json (dl_mongoc.bson_new_from_json)
#define bson_oid_init (dl_mongoc.bson_oid_init)
#define bson_oid_is_valid (dl_mongoc.bson_oid_is_valid)
#define bson_oid_to_string (dl_mongoc.bson_oid_to_string)
#define mongoc_bulk_operation_destroy (dl_mongoc.mongoc_bulk_operation_destroy)
#define mongoc_bulk_operation_execute (dl_mongoc.mongoc_bulk_operation_execute)
#define mongoc_bulk_operation_insert_with_opts (dl_mongoc.mongoc_bulk_operation_insert_with_opts)
#define mongoc_bulk_operation_remove_many_with_opts (dl_mongoc.mongoc_bulk_operation_remove_many_with_opts)
#define mongoc_bulk_operation_remove_one_with_opts (dl_mongoc.mongoc_bulk_operation_remove_one_with_opts)
#define mongoc_bulk_operation_replace_one_with_opts (dl_mongoc.mongoc_bulk_operation_replace_one_with_opts)
#define mongoc_bulk_operation_update_many_with_opts (dl_mongoc.mongoc_bulk_operation_update_many_with_opts)
#define mongoc_bulk_operation_update_one_with_opts (dl_mongoc.mongoc_bulk_operation_update_one_with_opts)
#define mongoc_client_destroy (dl_mongoc.mongoc_client_destroy)
#define mongoc_client_get_collection (dl_mongoc.mongoc_client_get_collection)
#define mongoc_client_new_from_uri_with_error (dl_mongoc.mongoc_client_new_from_uri_with_error)
#define mongoc_client_set_appname (dl_mongoc.mongoc_client_set_appname)
#define mongoc_client_set_error_api (dl_mongoc.mongoc_client_set_error_api)
#define mongoc_collection_aggregate (dl_mongoc.mongoc_collection_aggregate)
#define mongoc_collection_create_bulk_operation_with_opts (dl_mongoc.mongoc_collection_create_bulk_operation_with_opts)
#define mongoc_collection_delete_many (dl_mongoc.mongoc_collection_delete_many)
#define mongoc_collection_delete_one (dl_mongoc.mongoc_collection_delete_one)
#define mongoc_collection_destroy (dl_mongoc.mongoc_collection_destroy)
#define mongoc_collection_find_with_opts (dl_mongoc.mongoc_collection_find_with_opts)
#define mongoc_collection_insert_one (dl_mongoc.mongoc_collection_insert_one)
#define mongoc_collection_replace_one (dl_mongoc.mongoc_collection_replace_one)
#define mongoc_collection_update_many (dl_mongoc.mongoc_collection_update_many)
#define mongoc_collection_update_one (dl_mongoc.mongoc_collection_update_one)
#define mongoc_cursor_destroy (dl_mongoc.mongoc_cursor_destroy)
#define mongoc_cursor_error (dl_mongoc.mongoc_cursor_error)
#define mongoc_cursor_next (dl_mongoc.mongoc_cursor_next)
#define mongoc_init (dl_mongoc.mongoc_init)
#define mongoc_uri_destroy (dl_mongoc.mongoc_uri_destroy)
#define mongoc_uri_get_hosts (dl_mongoc.mongoc_uri_get_hosts)
#define mongoc_uri_get_option_as_int32 (dl_mongoc.mongoc_uri_get_option_as_int32)
#define mongoc_uri_get_password (dl_mongoc.mongoc_uri_get_password)
#define mongoc_uri_get_srv_hostname (dl_mongoc.mongoc_uri_get_srv_hostname)
#define mongoc_uri_new_with_error (dl_mongoc.mongoc_uri_new_with_error)
#define mongoc_uri_set_option_as_int32 (dl_mongoc.mongoc_uri_set_option_as_int32)

#endif
