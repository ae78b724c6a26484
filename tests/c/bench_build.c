/*
 * One build through the C ABI, for bench/ffi.sh: bench_build STORE CONTEXT TAG
 * Builds with the layer cache disabled (no_cache) and prints the image digest.
 */
#include "idpkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s STORE CONTEXT TAG\n", argv[0]);
    return 2;
  }
  idpkit_store *store = NULL;
  idpkit_error *err = NULL;
  if (idpkit_store_new(argv[1], &store, &err) != IDPKIT_RESULT_OK) {
    fprintf(stderr, "open: %s\n", idpkit_error_message(err));
    idpkit_error_free(err);
    return 1;
  }
  char opts[4096];
  snprintf(opts, sizeof opts, "{\"context\": \"%s\", \"tags\": [\"%s\"], \"no_cache\": true}",
           argv[2], argv[3]);
  char *result = NULL;
  int rc = 0;
  if (idpkit_build(store, opts, NULL, NULL, NULL, NULL, &result, &err) != IDPKIT_RESULT_OK) {
    fprintf(stderr, "build: %s: %s\n", idpkit_error_code(err), idpkit_error_message(err));
    idpkit_error_free(err);
    rc = 1;
  } else {
    const char *d = strstr(result, "\"digest\":\"");
    printf("%.80s\n", d ? d + 10 : result);
    idpkit_string_free(result);
  }
  idpkit_store_free(store);
  return rc;
}
