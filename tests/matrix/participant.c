/* The C participant of the value matrix (docs/languages.md), through the C ABI only.
 * C has no JSON parser here, so tests/matrix/run_matrix.py hands it the cases it can
 * express as lines "NAME FORMAT HEX" (FORMAT msgpack|json|raw; HEX: for raw the bytes,
 * otherwise UTF-8 JSON text): the JSON-expressible msgpack cases (no bytes, no ext
 * types), every json case and every raw case.
 *   participant write URL PREFIX LANG LINES [--key ID:HEX]
 *     msgpack: stratacache_set_json on a msgpack handle; json, raw: stratacache_set
 *   participant read URL PREFIX LANG LINES [--key ID:HEX]
 *     prints "NAME json HEX" (stratacache_get_json: JSON text) or "NAME raw HEX"
 *     (stratacache_get) per case; a miss or any error: a message on stderr, exit 1. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stratacache.h"

static int die(const char *what, const char *name, int rc) {
  fprintf(stderr, "c participant: %s %s: %s (%s)\n", what, name ? name : "", stratacache_strerror(rc),
          stratacache_last_error());
  return 1;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes hex text in place; returns the byte count or -1. */
static long unhex(char *text) {
  size_t n = strlen(text);
  if (n % 2) return -1;
  for (size_t i = 0; i < n / 2; ++i) {
    int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    text[i] = (char)(hi * 16 + lo);
  }
  return (long)(n / 2);
}

static void print_hex(const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; ++i) printf("%02x", p[i]);
}

static int open_cache(stratacache_cache **out, const char *url, const char *key_arg) {
  stratacache_options *opts = NULL;
  int rc = stratacache_options_from_url(&opts, url);
  if (rc != STRATACACHE_OK) return die("options", url, rc);
  if (key_arg) {
    char buf[128];
    const char *colon = strchr(key_arg, ':');
    long n = -1;
    if (colon && strlen(colon + 1) < sizeof buf) {
      strcpy(buf, colon + 1);
      n = unhex(buf);
    }
    if (n < 0) {
      stratacache_options_free(opts);
      fprintf(stderr, "c participant: --key must be ID:HEX\n");
      return 1;
    }
    rc = stratacache_options_add_key(opts, (uint32_t)strtoul(key_arg, NULL, 10), buf, (size_t)n, 1);
    if (rc != STRATACACHE_OK) {
      stratacache_options_free(opts);
      return die("key", key_arg, rc);
    }
  }
  rc = stratacache_open_with(out, opts);
  stratacache_options_free(opts);
  return rc == STRATACACHE_OK ? 0 : die("open", url, rc);
}

int main(int argc, char **argv) {
  if (argc != 6 && !(argc == 8 && strcmp(argv[6], "--key") == 0)) {
    fprintf(stderr, "usage: %s write|read URL PREFIX LANG LINES [--key ID:HEX]\n", argv[0]);
    return 2;
  }
  int writing = strcmp(argv[1], "write") == 0;
  if (!writing && strcmp(argv[1], "read") != 0) return die("mode", argv[1], STRATACACHE_EINVAL);
  FILE *lines = fopen(argv[5], "r");
  if (!lines) {
    perror(argv[5]);
    return 1;
  }
  stratacache_cache *cache = NULL;
  if (open_cache(&cache, argv[2], argc == 8 ? argv[7] : NULL)) return 1;

  int status = 0;
  size_t cap = 0;
  char *line = NULL;
  char key[1024];
  while (status == 0 && getline(&line, &cap, lines) > 0) {
    char *name = strtok(line, " \n"), *format = strtok(NULL, " \n"), *hex = strtok(NULL, " \n");
    if (!name || !format) continue;
    if (!hex) hex = "";
    int n = snprintf(key, sizeof key, "%s:%s:%s", argv[3], argv[4], name);
    if (n < 0 || (size_t)n >= sizeof key) return die("key too long", name, STRATACACHE_EINVAL);
    int raw = strcmp(format, "raw") == 0;
    int rc;
    if (writing) {
      long len = unhex(hex);
      if (len < 0) return die("bad hex for", name, STRATACACHE_EINVAL);
      if (strcmp(format, "msgpack") == 0) {
        rc = stratacache_set_json(cache, key, (size_t)n, hex, (size_t)len, 0, NULL);
      } else {
        rc = stratacache_set(cache, key, (size_t)n, hex, (size_t)len,
                             raw ? STRATACACHE_FORMAT_RAW : STRATACACHE_FORMAT_JSON, 0, NULL);
      }
      if (rc != STRATACACHE_OK) status = die("set", key, rc);
      continue;
    }
    void *value = NULL;
    size_t len = 0;
    if (raw) {
      rc = stratacache_get(&value, &len, NULL, cache, key, (size_t)n, NULL);
    } else {
      rc = stratacache_get_json((char **)&value, &len, cache, key, (size_t)n, NULL);
    }
    if (rc != STRATACACHE_OK) {
      status = die("get", key, rc);
      continue;
    }
    printf("%s %s ", name, raw ? "raw" : "json");
    print_hex(value, len);
    printf("\n");
    stratacache_free(value);
  }
  free(line);
  fclose(lines);
  stratacache_close(cache);
  return status;
}
