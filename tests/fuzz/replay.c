/*
 * replay.c: runs a libFuzzer target as a plain program over files and
 * folders of inputs, so `make test` replays every fuzz corpus with any
 * compiler and sanitizer. Usage: replay_<target> PATH...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count;

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
    if (!data || (n > 0 && fread(data, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "%s: read failed\n", path);
        exit(2);
    }
    fclose(f);
    LLVMFuzzerTestOneInput(data, (size_t)n);
    free(data);
    count++;
}

static void run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st)) {
        perror(path);
        exit(2);
    }
    if (!S_ISDIR(st.st_mode)) {
        run_file(path);
        return;
    }
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        run_path(sub);
    }
    if (d)
        closedir(d);
}

int main(int argc, char **argv)
{
    kjson_init(); /* jansson allocates through kite's allocator, as in kite itself */
    for (int i = 1; i < argc; i++)
        run_path(argv[i]);
    printf("replayed %d inputs\n", count);
    return 0;
}
