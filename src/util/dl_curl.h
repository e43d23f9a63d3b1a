/*
 * dl_curl.h: libcurl, loaded on first use (util/dl.h). Only util/httpc.c and
 * httpc_smtp.c include it (through httpc_int.h): HTTP tasks, notifications,
 * Vault, S3 and the Docker API all go through them. httpc_unavailable()
 * loads it (and runs curl_global_init) before a first handle.
 */
#ifndef KITE_UTIL_DL_CURL_H
#define KITE_UTIL_DL_CURL_H

/* curl_easy_setopt and curl_easy_getinfo go through the table: without this,
 * curl.h makes them macros of the same name (typecheck-gcc.h). */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#undef curl_easy_setopt
#undef curl_easy_getinfo

#include "util/dl.h"

/* The functions kite calls, as named in the library. */
#define DL_CURL(X) \
    X(curl_easy_cleanup) \
    X(curl_easy_getinfo) \
    X(curl_easy_init) \
    X(curl_easy_perform) \
    X(curl_easy_reset) \
    X(curl_easy_setopt) \
    X(curl_easy_strerror) \
    X(curl_free) \
    X(curl_global_init) \
    X(curl_mime_addpart) \
    X(curl_mime_data) \
    X(curl_mime_encoder) \
    X(curl_mime_filedata) \
    X(curl_mime_filename) \
    X(curl_mime_free) \
    X(curl_mime_headers) \
    X(curl_mime_init) \
    X(curl_mime_name) \
    X(curl_mime_subparts) \
    X(curl_mime_type) \
    X(curl_slist_append) \
    X(curl_slist_free_all) \
    X(curl_url) \
    X(curl_url_cleanup) \
    X(curl_url_get) \
    X(curl_url_set)

struct dl_curl {
    DL_CURL(DL_SLOT)
};
extern struct dl_curl dl_curl;

/* Each call goes through the table. */
#define curl_easy_cleanup (dl_curl.curl_easy_cleanup)
#define curl_easy_getinfo (dl_curl.curl_easy_getinfo)
#define curl_easy_init (dl_curl.curl_easy_init)
#define curl_easy_perform (dl_curl.curl_easy_perform)
#define curl_easy_reset (dl_curl.curl_easy_reset)
#define curl_easy_setopt (dl_curl.curl_easy_setopt)
#define curl_easy_strerror (dl_curl.curl_easy_strerror)
#define curl_free (dl_curl.curl_free)
#define curl_global_init (dl_curl.curl_global_init)
#define curl_mime_addpart (dl_curl.curl_mime_addpart)
#define curl_mime_data (dl_curl.curl_mime_data)
#define curl_mime_encoder (dl_curl.curl_mime_encoder)
#define curl_mime_filedata (dl_curl.curl_mime_filedata)
#define curl_mime_filename (dl_curl.curl_mime_filename)
#define curl_mime_free (dl_curl.curl_mime_free)
#define curl_mime_headers (dl_curl.curl_mime_headers)
#define curl_mime_init (dl_curl.curl_mime_init)
#define curl_mime_name (dl_curl.curl_mime_name)
#define curl_mime_subparts (dl_curl.curl_mime_subparts)
#define curl_mime_type (dl_curl.curl_mime_type)
#define curl_slist_append (dl_curl.curl_slist_append)
#define curl_slist_free_all (dl_curl.curl_slist_free_all)
#define curl_url (dl_curl.curl_url)
#define curl_url_cleanup (dl_curl.curl_url_cleanup)
#define curl_url_get (dl_curl.curl_url_get)
#define curl_url_set (dl_curl.curl_url_set)

#endif
