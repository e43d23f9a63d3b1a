/*
 * fuzz_tar.c: libFuzzer target for what the Docker runner reads from an
 * engine: the tar reader of util/tar.c (GET /containers/{id}/archive) and
 * the log stream's frame demultiplexer of util/docker.c.
 *
 * Input: bit 0 of the first byte picks the reader: 0 the tar reader (every
 * entry's data read to its end in pieces whose sizes come from the second
 * byte), 1 the frames (fed in pieces of the second byte's size). The tar
 * reader must end with 0 or an error that carries a message, never read
 * more data than an entry's size, and give names within its bound; the
 * frames must deliver no more payload than the input held.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "util/docker.h"
#include "util/tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct mem {
    const uint8_t *p;
    size_t n;
} mem;

static ssize_t mem_read(void *ud, void *out, size_t n)
{
    mem *m = ud;
    if (n > m->n)
        n = m->n;
    memcpy(out, m->p, n);
    m->p += n;
    m->n -= n;
    return (ssize_t)n;
}

static size_t delivered;

static void on_piece(void *ud, int stream, const char *d, size_t len)
{
    (void)ud;
    (void)d;
    if (stream != 1 && stream != 2)
        abort();
    delivered += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int which = data[0] & 1;
    size_t piece = (size_t)data[1] + 1;
    data += 2;
    size -= 2;
    if (which == 1) {
        docker_frames f;
        memset(&f, 0, sizeof f);
        delivered = 0;
        for (size_t off = 0; off < size; off += piece) {
            size_t k = size - off < piece ? size - off : piece;
            if (docker_frames_feed(&f, (const char *)data + off, k, on_piece, NULL))
                break;
        }
        if (delivered > size)
            abort();
        return 0;
    }
    mem m = {data, size};
    tar_reader *r = tar_reader_new(mem_read, &m);
    tar_entry en;
    int rc;
    kerr e = KERR_INIT;
    char buf[300];
    while ((rc = tar_next(r, &en, &e)) == 1) {
        if (!en.name || strlen(en.name) > 4096 + 156)
            abort();
        uint64_t got = 0;
        ssize_t k;
        while ((k = tar_data(r, buf, piece < sizeof buf ? piece : sizeof buf, &e)) > 0)
            got += (uint64_t)k;
        if (k < 0)
            break;
        if (got != en.size)
            abort();
    }
    if (rc < 0 && !e.msg[0])
        abort();
    tar_reader_free(r);
    return 0;
}
