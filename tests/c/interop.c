/* Cross-language check helper: writes or reads one value through the C ABI so the
 * Python tests can prove values move between languages unchanged.
 *   stratacache_interop write URL KEY JSON   store JSON with the cache's serializer
 *   stratacache_interop read URL KEY         print the value as JSON (exit 3 on a miss) */
#include <stdio.h>
#include <string.h>

#include "stratacache.h"

int main(int argc, char **argv) {
  if (argc < 4 || (strcmp(argv[1], "write") == 0 && argc != 5)) {
    fprintf(stderr, "usage: %s write URL KEY JSON | read URL KEY\n", argv[0]);
    return 2;
  }
  stratacache_cache *c = NULL;
  if (stratacache_open(&c, argv[2]) != STRATACACHE_OK) {
    fprintf(stderr, "open: %s\n", stratacache_last_error());
    return 1;
  }
  const char *key = argv[3];
  int rc;
  if (strcmp(argv[1], "write") == 0) {
    rc = stratacache_set_json(c, key, strlen(key), argv[4], strlen(argv[4]), STRATACACHE_TTL_DEFAULT, NULL);
  } else {
    char *json = NULL;
    size_t len = 0;
    rc = stratacache_get_json(&json, &len, c, key, strlen(key), NULL);
    if (rc == STRATACACHE_OK) {
      fwrite(json, 1, len, stdout);
      putchar('\n');
      stratacache_free(json);
    }
  }
  if (rc == STRATACACHE_ENOTFOUND) {
    stratacache_close(c);
    return 3;
  }
  if (rc != STRATACACHE_OK) fprintf(stderr, "%s: %s\n", stratacache_strerror(rc), stratacache_last_error());
  stratacache_close(c);
  return rc == STRATACACHE_OK ? 0 : 1;
}
