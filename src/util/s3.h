/*
 * s3.h: a small S3 client over util/httpc (requests signed with SigV4 by
 * libcurl, httpc_do_aws): the operations kite's S3 tasks and the s3
 * storage backend need, nothing more.
 *
 * Objects stream: an upload reads its source from a file descriptor, in one
 * PutObject when it fits in one part, else as a multipart upload of
 * part_size parts (one part in memory at a time, so memory stays bounded
 * whatever the size); a download writes to a file descriptor. Every request
 * is retried on 5xx, 429 and S3's throttling codes (SlowDown, Throttling,
 * RequestTimeout) and on transport errors, with exponential backoff
 * (100 ms, 200 ms, 400 ms... `retries` times).
 *
 * Addressing: path-style (endpoint/bucket/key) when asked, or when the
 * endpoint's host is an IP address or localhost; virtual-hosted otherwise
 * (bucket.host/key). Without an endpoint: https://s3.<region>.amazonaws.com.
 *
 * A client belongs to one thread (it holds one httpc). Errors name the
 * operation, the bucket and key, the HTTP status and S3's error code and
 * message: "s3: GetObject b/k: HTTP 404 NoSuchKey: The specified key does
 * not exist.". Strings returned are malloc'd; the caller frees them.
 */
#ifndef KITE_UTIL_S3_H
#define KITE_UTIL_S3_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct s3_conf {
    const char *endpoint;       /* "http://127.0.0.1:9000", or NULL for AWS */
    const char *region;         /* NULL: us-east-1 */
    const char *access_key;     /* NULL: $AWS_ACCESS_KEY_ID */
    const char *secret_key;     /* NULL: $AWS_SECRET_ACCESS_KEY */
    const char *session_token;  /* NULL: $AWS_SESSION_TOKEN when the keys came from the environment */
    int path_style;             /* forcePathStyle */
    int retries;                /* 0: 4 */
    size_t part_size;           /* multipart part size; 0: 8 MiB (S3's minimum is 5 MiB) */
    long timeout_ms;            /* idle timeout of a request; 0: 60 s */
} s3_conf;

typedef struct s3_client s3_client;

s3_client *s3_new(const s3_conf *conf, kerr *e);
void s3_free(s3_client *c);

typedef struct s3_object {
    char *key;
    char *etag;
    int64_t size;
    char *last_modified;        /* ISO 8601 as S3 wrote it */
    int is_prefix;              /* a CommonPrefixes entry (a "directory") */
} s3_object;

void s3_objects_free(s3_object *v, size_t n);

typedef struct s3_put_result {
    char *etag;
    char *version_id;           /* NULL when the bucket has no versioning */
    int parts;                  /* 0: one PutObject, else the parts of the multipart upload */
} s3_put_result;

void s3_put_result_clear(s3_put_result *r);

/* Uploads size bytes read from fd (from its current offset) as bucket/key.
 * content_type may be NULL; meta ("name", "value", ..., NULL) becomes
 * x-amz-meta-* headers and may be NULL. */
int s3_put_fd(s3_client *c, const char *bucket, const char *key, int fd, int64_t size,
              const char *content_type, const char *const *meta, s3_put_result *out /* OUT */,
              kerr *e);
/* The same from memory. */
int s3_put(s3_client *c, const char *bucket, const char *key, const void *data, size_t n,
           const char *content_type, s3_put_result *out /* OUT */, kerr *e);

typedef struct s3_get_result {
    int64_t size;
    char *etag, *content_type, *version_id;
    char **meta;                /* name, value, ... (x-amz-meta-*), NULL-terminated or NULL */
} s3_get_result;

void s3_get_result_clear(s3_get_result *r);

/* Downloads bucket/key into fd (truncated first). KERR_NOT_FOUND for a
 * missing key. */
int s3_get_fd(s3_client *c, const char *bucket, const char *key, int fd, s3_get_result *out /* OUT */,
              kerr *e);
/* GetObject of the bytes [off, off + len) of bucket/key into dst (len bytes
 * at most); *got the bytes received (fewer at the object's end). if_match
 * (an ETag, or NULL) makes S3 refuse with 412 PreconditionFailed when the
 * object changed since that ETag, so a reader never mixes two versions. */
int s3_get_range(s3_client *c, const char *bucket, const char *key, const char *if_match, int64_t off,
                 size_t len, void *dst, size_t *got /* OUT */, kerr *e);
/* HeadObject: KERR_NOT_FOUND for a missing key. out may be NULL. */
int s3_head(s3_client *c, const char *bucket, const char *key, s3_get_result *out /* OUT */, kerr *e);
int s3_delete(s3_client *c, const char *bucket, const char *key, char **version_id /* OUT, may be NULL */,
              int *delete_marker /* OUT, may be NULL */, kerr *e);
/* DeleteObjects in batches of 1,000. */
int s3_delete_many(s3_client *c, const char *bucket, char *const *keys, size_t n, kerr *e);
int s3_copy(s3_client *c, const char *src_bucket, const char *src_key, const char *src_version,
            const char *bucket, const char *key, s3_put_result *out /* OUT */, kerr *e);
/* CreateBucket (with a LocationConstraint outside us-east-1); an existing
 * bucket of ours is fine. */
int s3_create_bucket(s3_client *c, const char *bucket, kerr *e);

typedef struct s3_list_query {
    const char *prefix, *delimiter, *start_after;
    size_t max_keys;            /* per request; 0: 1000 */
    size_t limit;               /* objects in all; 0: no limit */
} s3_list_query;

/* ListObjectsV2, following continuation tokens; objects and common prefixes
 * in S3's order. */
int s3_list(s3_client *c, const char *bucket, const s3_list_query *q, s3_object **out /* OUT */,
            size_t *n /* OUT */, kerr *e);

/* The endpoint requests go to ("https://s3.eu-west-3.amazonaws.com", or the
 * one configured), for messages; owned by c. */
const char *s3_endpoint(const s3_client *c);

/* Requests made, retries done (figures for tests and benchmarks). */
long s3_requests(const s3_client *c);
long s3_retries(const s3_client *c);

#endif
