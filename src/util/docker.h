/*
 * docker.h: a client of the Docker Engine API (v1.41) over util/httpc.
 *
 * An engine is reached at a host URL: "unix:///var/run/docker.sock" (the
 * default, or $DOCKER_HOST), "tcp://host:port" (spoken as plain HTTP) or
 * "http://host:port". The calls are those a task runner needs: ping,
 * inspect and pull an image, create, start, follow the logs of, wait for,
 * stop, kill, inspect and remove a container, and copy files in and out of
 * it as tar archives (util/tar.h).
 *
 * Ownership: a docker owns its HTTP client and belongs to one thread at a
 * time. Strings passed in are borrowed.
 *
 * Errors: -1 with e set to one line naming the engine and the call, then
 * the engine's own message: "Docker Engine unix:///var/run/docker.sock:
 * create container: No such image: ubuntu:latest (404)". The registry
 * credentials handed to docker_image_pull never appear in a message.
 */
#ifndef KITE_UTIL_DOCKER_H
#define KITE_UTIL_DOCKER_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/proc.h"

typedef struct docker docker;

/* 1 when a Docker Engine answers GET /_ping at host (a "unix:///path",
 * "tcp://h:p", "http://h:p" URL; NULL or "": $DOCKER_HOST, else
 * unix:///var/run/docker.sock) within 1 s, else 0. Never fails, never logs.
 * The answer for one host is kept for 2 s (a flow of many tasks probes once
 * every 2 s at most). Thread-safe. */
int docker_engine_reachable(const char *host);

/* The host URL that host stands for (NULL or "": $DOCKER_HOST, else the
 * default socket); borrowed from host, the environment or a constant. */
const char *docker_default_host(const char *host);

/* A client for the engine at host (as above). No I/O: 0, or -1 with e set
 * for a host URL kite cannot speak to (npipe://, ssh://). */
int docker_open(const char *host, docker **out /* OUT */, kerr *e);
void docker_free(docker *d);
/* What messages call the engine ("unix:///var/run/docker.sock"). */
const char *docker_host(const docker *d);

int docker_ping(docker *d, kerr *e);

/* Image references: "ubuntu", "ubuntu:22.04", "reg:5000/team/app@sha256:..".
 * *present: 1 when the engine has the image, 0 when not. */
int docker_image_present(docker *d, const char *image, int *present /* OUT */, kerr *e);
/* Pulls image (":latest" when it names no tag nor digest). auth: the
 * X-Registry-Auth value (docker_registry_auth), or NULL. The pull's progress
 * stream is read to its end; an error in it fails the call. */
int docker_image_pull(docker *d, const char *image, const char *auth, kerr *e);
/* The X-Registry-Auth value for these credentials (any may be NULL):
 * base64url of {"username","password","auth","serveraddress",
 * "identitytoken","registrytoken"} (malloc'd; the caller wipes and frees). */
char *docker_registry_auth(const char *username, const char *password, const char *auth,
                           const char *registry, const char *identity_token,
                           const char *registry_token);

/* POST /containers/create with body (borrowed): *id malloc'd. */
int docker_container_create(docker *d, const json_t *body, char **id /* OUT */, kerr *e);
int docker_container_start(docker *d, const char *id, kerr *e);

/* Follows the container's stdout and stderr (GET /logs?follow=1) until it
 * ends, demultiplexing the engine's frames into lines (proc_lines rules:
 * max_line, split pieces) handed to fn. Stops early when *cancel becomes
 * non-zero (*stopped = 1) or after timeout_ms (0: none; *stopped = 2).
 * Returns 0 (also when stopped), -1 with e set. */
int docker_container_logs(docker *d, const char *id, size_t max_line, proc_line_fn fn, void *ud,
                          const atomic_int *cancel, int64_t timeout_ms, int *stopped /* OUT */,
                          kerr *e);
/* POST /wait: the exit status. */
int docker_container_wait(docker *d, const char *id, long *status /* OUT */, kerr *e);
/* POST /stop?t=grace_s (SIGTERM, then SIGKILL after grace_s seconds). A
 * container that already stopped is not an error. */
int docker_container_stop(docker *d, const char *id, long grace_s, kerr *e);
/* GET /containers/{id}/json: *oom 1 when the kernel's OOM killer ended it. */
int docker_container_oom(docker *d, const char *id, int *oom /* OUT */, kerr *e);
/* DELETE /containers/{id}?force=1&v=1. */
int docker_container_remove(docker *d, const char *id, kerr *e);

/* PUT /containers/{id}/archive?path=path with the tar file tar_path. */
int docker_archive_put(docker *d, const char *id, const char *path, const char *tar_path, kerr *e);
/* GET /containers/{id}/archive?path=path into the file tar_path. *missing
 * is set to 1 (and 0 returned) when the path does not exist. */
int docker_archive_get(docker *d, const char *id, const char *path, const char *tar_path,
                       int *missing /* OUT */, kerr *e);

/* ---- the log stream's frames (for the fuzzer and the tests) -------------
 * A stream without a TTY comes in frames: 8 bytes (stream 0/1/2/3, three
 * zero bytes, a big-endian 32-bit size) then size bytes. */
typedef struct docker_frames {
    unsigned char head[8];
    size_t nhead;
    uint32_t left;        /* bytes of the current frame's payload still due */
    int stream;
    int bad;              /* a malformed header was seen: the rest is dropped */
} docker_frames;

/* Feeds n bytes; each payload piece goes to fn(ud, stream, data, len)
 * (stream 1 stdout, 2 stderr; 0 and 3 are reported as stderr). Returns 0, or
 * -1 once a header is malformed (then nothing more is delivered). */
int docker_frames_feed(docker_frames *f, const char *data, size_t n,
                       void (*fn)(void *ud, int stream, const char *data, size_t len), void *ud);

#endif
