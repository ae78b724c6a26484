/*
 * The C ABI's test: builds an image from tests/c/fixture into a temporary store, lists,
 * tags, inspects, exports, imports, removes and collects it, provokes every error kind it
 * can reach without a network peer, pushes, pulls and lists tags against the rig's
 * registries (registry-plain, and registry-tls for AUTH and UNTRUSTED; their IDPKIT_RIG_*
 * variables must be set), and frees everything (tests/suites/20-c.sh runs it
 * under valgrind, which must report no leak and no error).
 *
 * Usage: test_idpkit FIXTURE_DIR
 * Prints one line per check and closes with "N passed, N failed".
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int passed, failed;
const char SENTINEL[] = "untouched";

void expect_error(const char *what, idpkit_result got, idpkit_result want, idpkit_error *err,
                  const char *out_sentinel, const char *out) {
  int ok = got == want && err != NULL && idpkit_error_result(err) == want &&
           strcmp(idpkit_error_code(err), idpkit_result_name(want)) == 0 &&
           idpkit_error_message(err) != NULL && idpkit_error_message(err)[0] != '\0' &&
           out == out_sentinel;
  CHECK(ok, "%s -> %s (%s)", what, idpkit_result_name(got),
        err ? idpkit_error_message(err) : "no error");
  idpkit_error_free(err);
}

const char *J(const char *fmt, ...) {
  static char bufs[16][2048];
  static int next;
  char *buf = bufs[next++ % 16];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof bufs[0], fmt, ap);
  va_end(ap);
  return buf;
}

idpkit_credentials *basic_credentials(const char *username, const char *password) {
  idpkit_credentials *c = idpkit_credentials_new();
  idpkit_error *err = NULL;
  if (idpkit_credentials_set_basic(c, username, password, &err) != IDPKIT_RESULT_OK) {
    fprintf(stderr, "credentials: %s\n", idpkit_error_message(err));
    abort();
  }
  return c;
}

struct events {
  int count;
  int started;
  int layer_done;
  idpkit_cancel *cancel_on_first; /* when set: cancel at the first event */
};

static void on_event(void *user_data, const char *event_json) {
  struct events *ev = user_data;
  ev->count++;
  if (strstr(event_json, "\"type\":\"build_started\"")) ev->started++;
  if (strstr(event_json, "\"type\":\"layer_done\"")) ev->layer_done++;
  if (ev->cancel_on_first) idpkit_cancel_cancel(ev->cancel_on_first);
}

char *build_options(const char *context, const char *tag, int no_cache) {
  char *json = NULL;
  if (asprintf(&json,
               "{\"context\": \"%s\", \"tags\": [\"%s\"], \"cmd\": [\"/app/run.sh\"],"
               " \"env\": {\"GREETING\": \"hello\"}, \"labels\": {\"from\": \"c\"},"
               " \"no_cache\": %s}",
               context, tag, no_cache ? "true" : "false") < 0)
    abort();
  return json;
}

struct thread_arg {
  const idpkit_store *store;
  const char *context;
  char tag[64];
  idpkit_result result;
};

static void *build_thread(void *p) {
  struct thread_arg *a = p;
  char *opts = build_options(a->context, a->tag, 1);
  char *out = NULL;
  idpkit_error *err = NULL;
  a->result = idpkit_build(a->store, opts, NULL, NULL, NULL, NULL, &out, &err);
  if (err) fprintf(stderr, "thread %s: %s\n", a->tag, idpkit_error_message(err));
  idpkit_error_free(err);
  idpkit_string_free(out);
  free(opts);
  return NULL;
}

/* ---- registry: push, pull and list tags against the rig ---- */

struct reg_events {
  int count;
  int blob_done;
  int manifest_pushed;
  idpkit_cancel *cancel_on_first; /* when set: cancel at the first event, then stall 100 ms */
};

static void on_registry_event(void *user_data, const char *event_json) {
  struct reg_events *ev = user_data;
  ev->count++;
  if (ev->cancel_on_first && ev->count == 1) {
    idpkit_cancel_cancel(ev->cancel_on_first);
    usleep(100 * 1000); /* the core notices within 20 ms: the call cannot finish first */
  }
  if (strstr(event_json, "\"type\":\"blob_done\"")) ev->blob_done++;
  if (strstr(event_json, "\"type\":\"manifest_pushed\"")) ev->manifest_pushed++;
}

const char *json_string(const char *json, const char *key, char *buf, size_t len) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char *p = json ? strstr(json, pat) : NULL;
  buf[0] = '\0';
  if (!p) return buf;
  p += strlen(pat);
  const char *end = strchr(p, '"');
  size_t n = end ? (size_t)(end - p) : 0;
  if (n >= len) n = len - 1;
  memcpy(buf, p, n);
  buf[n] = '\0';
  return buf;
}

const char *rig_env(const char *var, const char *peer) {
  const char *v = getenv(var);
  int secret = strstr(var, "PASSWORD") != NULL || strstr(var, "TOKEN") != NULL;
  CHECK(v && *v, "rig peer %s: $%s is %s", peer, var,
        !(v && *v) ? "not set (start the rig: tests/rig/up; 20-c.sh exports it)"
        : secret   ? "set"
                   : v);
  return v && *v ? v : NULL;
}

/* Every RegistryOptions field of push, each set to a value other than its default. When the
 * core gains a push option this list lacks, resolve_every_registry_option fails naming it. */
static const char *const every_push_option[][2] = {
    {"source", "\"c-test:v1\""},
    {"destination", "\"127.0.0.1:9/c/app:9\""},
    {"ca_files", "[\"/nowhere/ca.pem\"]"},
    {"insecure_hosts", "[\"insecure.example:5000\"]"},
    {"certs_d", "[\"/nowhere/certs.d\"]"},
    {"no_platform_roots", "true"},
    {"jobs", "7"},
    {"monolithic_max", "1234"},
    {"chunk_size", "4321"},
    {"attempts", "9"},
    {"backoff_base_ms", "11"},
    {"backoff_max_ms", "22"},
    {"connect_timeout_secs", "33"},
    {"read_timeout_secs", "44"},
    {"retry_budget_secs", "55"},
    {"breaker_threshold", "0"},
    {"platform", "\"linux/arm64/v8\""},
    {"all_platforms", "true"},
    {"mount_from", "[\"other/repo\"]"},
};
#define N_PUSH_OPTIONS (sizeof every_push_option / sizeof every_push_option[0])

/* The top-level keys of the JSON object `json` (at most `max`, 63 bytes each). */
static int top_level_keys(const char *json, char keys[][64], int max) {
  int depth = 0, n = 0, expect_key = 0;
  for (const char *p = json; p && *p; p++) {
    if (*p == '"') {
      const char *start = ++p;
      while (*p && *p != '"') p += (*p == '\\' && p[1]) ? 2 : 1;
      if (depth == 1 && expect_key && n < max) {
        size_t len = (size_t)(p - start) < 63 ? (size_t)(p - start) : 63;
        memcpy(keys[n], start, len);
        keys[n++][len] = '\0';
      }
      expect_key = 0;
      if (!*p) break;
    } else if (*p == '{' || *p == '[') {
      expect_key = ++depth == 1 && *p == '{';
    } else if (*p == '}' || *p == ']') {
      depth--;
    } else if (*p == ',' && depth == 1) {
      expect_key = 1;
    }
  }
  return n;
}

/* Each push option set in C arrives in the core: resolve_options hands back the options the
 * core would run push with, and every non-default value comes back as given. */
static void resolve_every_registry_option(void) {
  char *defaults = NULL, *resolved = NULL;
  idpkit_error *err = NULL;
  idpkit_result r = idpkit_resolve_options("{\"operation\": \"push\"}", NULL, NULL, NULL, NULL,
                                           &defaults, &err);
  CHECK(r == IDPKIT_RESULT_OK && defaults, "resolve_options of push's defaults: %s",
        defaults ? defaults : idpkit_error_message(err));
  idpkit_error_free(err);
  err = NULL;
  char keys[64][64];
  int n = top_level_keys(defaults, keys, 64);
  const char *missing = NULL;
  for (int i = 0; i < n && !missing; i++) {
    size_t j = 0;
    while (j < N_PUSH_OPTIONS && strcmp(every_push_option[j][0], keys[i]) != 0) j++;
    if (j == N_PUSH_OPTIONS) missing = keys[i];
  }
  CHECK(n == (int)N_PUSH_OPTIONS && !missing,
        "the test sets every one of push's %d options (%zu set; not set: %s)", n,
        (size_t)N_PUSH_OPTIONS, missing ? missing : "none");

  char opts[2048] = "{\"operation\": \"push\", \"options\": {";
  for (size_t i = 0; i < N_PUSH_OPTIONS; i++) {
    size_t used = strlen(opts);
    snprintf(opts + used, sizeof opts - used, "%s\"%s\": %s", i ? ", " : "",
             every_push_option[i][0], every_push_option[i][1]);
  }
  strncat(opts, "}}", sizeof opts - strlen(opts) - 1);
  r = idpkit_resolve_options(opts, NULL, NULL, NULL, NULL, &resolved, &err);
  CHECK(r == IDPKIT_RESULT_OK && resolved, "resolve_options of push with every option: %s",
        resolved ? resolved : idpkit_error_message(err));
  idpkit_error_free(err);
  for (size_t i = 0; i < N_PUSH_OPTIONS; i++) {
    char want[256];
    snprintf(want, sizeof want, "\"%s\":%s", every_push_option[i][0], every_push_option[i][1]);
    CHECK(resolved && strstr(resolved, want) && defaults && !strstr(defaults, want),
          "push option %s arrives in the core as %s (default differs)", every_push_option[i][0],
          every_push_option[i][1]);
  }
  idpkit_string_free(defaults);
  idpkit_string_free(resolved);
}

static void registry_tests(const idpkit_store *store, const char *fixture, const char *tmp) {
  const char *plain = rig_env("IDPKIT_RIG_REGISTRY_PLAIN", "registry-plain");
  const char *tls = rig_env("IDPKIT_RIG_REGISTRY_TLS", "registry-tls");
  const char *user = rig_env("IDPKIT_RIG_REGISTRY_USER", "registry-tls");
  const char *password = rig_env("IDPKIT_RIG_REGISTRY_PASSWORD", "registry-tls");
  const char *ca = rig_env("IDPKIT_RIG_CA", "registry-tls");
  idpkit_error *err = NULL;
  char *out = (char *)SENTINEL;
  idpkit_result r;

  /* options are checked before anything goes to the network: an unknown field is named,
   * with the allowed ones, also inside a nested object and through idpkit_call */
  const char *nowhere = "{\"repository\": \"127.0.0.1:9/c/app\", \"job\": 2}";
  r = idpkit_list_tags(nowhere, NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_INVALID_INPUT && err && strstr(idpkit_error_message(err), "job") &&
            strstr(idpkit_error_message(err), "jobs") && out == SENTINEL,
        "list_tags with an unknown option names it and the allowed ones: %s",
        err ? idpkit_error_message(err) : "no error");
  expect_error("list_tags with an unknown option", r, IDPKIT_RESULT_INVALID_INPUT, err,
               SENTINEL, out);
  err = NULL;
  r = idpkit_call("list_tags", NULL, nowhere, NULL, NULL, NULL, NULL, &out, &err);
  expect_error("idpkit_call list_tags with an unknown option", r, IDPKIT_RESULT_INVALID_INPUT,
               err, SENTINEL, out);
  err = NULL;
  r = idpkit_build(store, J("{\"context\": \"%s\", \"pull\": {\"jbos\": 1}}", fixture), NULL,
                   NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_INVALID_INPUT && err && strstr(idpkit_error_message(err), "jbos") &&
            out == SENTINEL,
        "build with an unknown field in pull names it: %s",
        err ? idpkit_error_message(err) : "no error");
  idpkit_error_free(err);
  err = NULL;
  r = idpkit_call("no_such_operation", NULL, NULL, NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_INVALID_INPUT && err &&
            strstr(idpkit_error_message(err), "no_such_operation") &&
            strstr(idpkit_error_message(err), "list_tags") && out == SENTINEL,
        "an unknown operation is named, with the operations: %s",
        err ? idpkit_error_message(err) : "no error");
  idpkit_error_free(err);
  err = NULL;
  r = idpkit_list_tags("{\"repository\": \"127.0.0.1:9/c/app\", \"password\": \"x\"}", NULL,
                       NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_INVALID_INPUT && err &&
            strstr(idpkit_error_message(err), "credentials are separate") && out == SENTINEL,
        "a password in the options is refused, pointing at the credentials: %s",
        err ? idpkit_error_message(err) : "no error");
  idpkit_error_free(err);
  err = NULL;
  idpkit_credentials *half = idpkit_credentials_new();
  r = idpkit_credentials_set_basic(half, "someone", NULL, &err);
  expect_error("a username without a password", r, IDPKIT_RESULT_NULL_ARGUMENT, err, SENTINEL,
               out);
  err = NULL;
  r = idpkit_credentials_set_basic(NULL, "someone", "pw", &err);
  expect_error("credentials on a NULL handle", r, IDPKIT_RESULT_NULL_ARGUMENT, err, SENTINEL,
               out);
  err = NULL;
  idpkit_credentials_free(half);
  idpkit_credentials_free(NULL);
  r = idpkit_push(store,
                  "{\"source\": \"c-test:absent\", \"destination\": \"127.0.0.1:9/c/app:1\"}",
                  NULL, NULL, NULL, NULL, &out, &err);
  expect_error("push of an absent image", r, IDPKIT_RESULT_NOT_FOUND, err, SENTINEL, out);
  err = NULL;
  r = idpkit_pull(NULL, "{\"reference\": \"127.0.0.1:9/c/app:1\"}", NULL, NULL, NULL, NULL, &out,
                  &err);
  expect_error("pull into a NULL store", r, IDPKIT_RESULT_NULL_ARGUMENT, err, SENTINEL, out);
  err = NULL;
  r = idpkit_call("pull", NULL, "{\"reference\": \"127.0.0.1:9/c/app:1\"}", NULL, NULL, NULL,
                  NULL, &out, &err);
  expect_error("idpkit_call pull without a store", r, IDPKIT_RESULT_INVALID_INPUT, err,
               SENTINEL, out);
  err = NULL;
  r = idpkit_pull(store, NULL, NULL, NULL, NULL, NULL, &out, &err);
  expect_error("pull without a reference", r, IDPKIT_RESULT_INVALID_INPUT, err, SENTINEL, out);
  err = NULL;
  idpkit_cancel *cancel = idpkit_cancel_new();
  idpkit_cancel_cancel(cancel);
  r = idpkit_pull(store, "{\"reference\": \"127.0.0.1:9/c/app:1\"}", NULL, NULL, NULL, cancel,
                  &out, &err);
  expect_error("pull with a raised cancel", r, IDPKIT_RESULT_CANCELLED, err, SENTINEL, out);
  err = NULL;
  r = idpkit_list_tags("{\"repository\": \"127.0.0.1:9/c/app\"}", NULL, NULL, NULL, cancel, &out,
                       &err);
  expect_error("list_tags with a raised cancel", r, IDPKIT_RESULT_CANCELLED, err, SENTINEL, out);
  err = NULL;
  idpkit_cancel_free(cancel);

  resolve_every_registry_option();

  if (!plain || !tls || !user || !password || !ca) return;

  /* push, push again under a second tag, list, pull into another store */
  char repo[256], ref1[300], ref2[300], missing[300];
  snprintf(repo, sizeof repo, "%s/ctest/app-%ld-%ld", plain, (long)getpid(), (long)time(NULL));
  snprintf(ref1, sizeof ref1, "%s:1", repo);
  snprintf(ref2, sizeof ref2, "%s:2", repo);
  snprintf(missing, sizeof missing, "%s:missing", repo);
  char *opts = build_options(fixture, ref1, 0);
  char *built = NULL;
  r = idpkit_build(store, opts, NULL, NULL, NULL, NULL, &built, &err);
  free(opts);
  char digest[128];
  json_string(built, "digest", digest, sizeof digest);
  CHECK(r == IDPKIT_RESULT_OK && digest[0], "build %s", ref1);
  idpkit_string_free(built);

  struct reg_events ev = {0};
  char *pushed = NULL, got[128];
  r = idpkit_push(store, J("{\"source\": \"%s\", \"jobs\": 2}", ref1), NULL, on_registry_event,
                  &ev, NULL, &pushed, &err);
  CHECK(r == IDPKIT_RESULT_OK && pushed && strstr(pushed, "\"blobs_uploaded\":2") &&
            strstr(pushed, "\"unchanged\":false") &&
            strcmp(json_string(pushed, "digest", got, sizeof got), digest) == 0,
        "push %s -> %s", ref1, pushed ? pushed : idpkit_error_message(err));
  CHECK(ev.blob_done == 2 && ev.manifest_pushed == 1,
        "push events: %d (blob_done %d, manifest_pushed %d)", ev.count, ev.blob_done,
        ev.manifest_pushed);
  idpkit_string_free(pushed);
  pushed = NULL;
  idpkit_error_free(err);
  err = NULL;

  r = idpkit_push(store, J("{\"source\": \"%s\", \"destination\": \"%s\"}", ref1, ref2), NULL,
                  NULL, NULL, NULL, &pushed, &err);
  CHECK(r == IDPKIT_RESULT_OK && pushed && strstr(pushed, "\"blobs_uploaded\":0") &&
            strstr(pushed, "\"blobs_skipped\":2"),
        "push to a second tag skips the blobs: %s",
        pushed ? pushed : idpkit_error_message(err));
  idpkit_string_free(pushed);
  pushed = NULL;
  idpkit_error_free(err);
  err = NULL;

  char *tags = NULL;
  r = idpkit_call("list_tags", NULL, J("{\"repository\": \"%s\"}", repo), NULL, NULL, NULL, NULL,
                  &tags, &err);
  CHECK(r == IDPKIT_RESULT_OK && tags &&
            (strcmp(tags, "[\"1\",\"2\"]") == 0 || strcmp(tags, "[\"2\",\"1\"]") == 0),
        "list_tags %s -> %s", repo, tags ? tags : idpkit_error_message(err));
  idpkit_string_free(tags);
  idpkit_error_free(err);
  err = NULL;

  char other_dir[512];
  snprintf(other_dir, sizeof other_dir, "%s/pulled", tmp);
  idpkit_store *other = NULL;
  r = idpkit_store_new(other_dir, &other, &err);
  CHECK(r == IDPKIT_RESULT_OK && other, "second store %s", other_dir);
  idpkit_error_free(err);
  err = NULL;
  if (other) {
    ev = (struct reg_events){0};
    char *pulled = NULL;
    r = idpkit_pull(other, J("{\"reference\": \"%s\", \"jobs\": 2}", ref2), NULL,
                    on_registry_event, &ev, NULL, &pulled, &err);
    CHECK(r == IDPKIT_RESULT_OK && pulled && strstr(pulled, "\"blobs_fetched\":2") &&
              strstr(pulled, "\"index_digest\":null") &&
              strcmp(json_string(pulled, "digest", got, sizeof got), digest) == 0,
          "pull %s -> %s", ref2, pulled ? pulled : idpkit_error_message(err));
    CHECK(ev.blob_done == 2, "pull events: %d (blob_done %d)", ev.count, ev.blob_done);
    char pulled_ref[300];
    json_string(pulled, "reference", pulled_ref, sizeof pulled_ref);
    idpkit_string_free(pulled);
    idpkit_error_free(err);
    err = NULL;
    char *a = NULL, *b = NULL;
    idpkit_inspect(other, J("{\"reference\": \"%s\"}", pulled_ref),
                   NULL, NULL, NULL, NULL, &a, NULL);
    idpkit_inspect(store, J("{\"reference\": \"%s\"}", ref1), NULL, NULL, NULL, NULL, &b, NULL);
    CHECK(a && b && strstr(a, "GREETING=hello") && strstr(a, digest),
          "the pulled image inspects like the pushed one");
    idpkit_string_free(a);
    idpkit_string_free(b);

    out = (char *)SENTINEL;
    r = idpkit_pull(other, J("{\"reference\": \"%s\"}", missing),
                    NULL, NULL, NULL, NULL, &out, &err);
    expect_error("pull of a missing tag", r, IDPKIT_RESULT_NOT_FOUND, err, SENTINEL, out);
    err = NULL;
    idpkit_store_free(other);
  }

  /* cancelled while running (from the callback): CANCELLED, and nothing lands in the store */
  char cancel_ref[300];
  snprintf(cancel_ref, sizeof cancel_ref, "%s-cancel:1", repo);
  r = idpkit_tag(store, J("{\"source\": \"%s\", \"target\": \"%s\"}", ref1, cancel_ref), NULL,
                 NULL, NULL, NULL, &out, NULL);
  if (r == IDPKIT_RESULT_OK) idpkit_string_free(out);
  out = (char *)SENTINEL;
  ev = (struct reg_events){0};
  ev.cancel_on_first = idpkit_cancel_new();
  r = idpkit_push(store, J("{\"source\": \"%s\"}", cancel_ref), NULL, on_registry_event, &ev,
                  ev.cancel_on_first, &out, &err);
  expect_error("push cancelled from its callback", r, IDPKIT_RESULT_CANCELLED, err, SENTINEL,
               out);
  err = NULL;
  idpkit_cancel_free(ev.cancel_on_first);
  snprintf(other_dir, sizeof other_dir, "%s/pull-cancelled", tmp);
  other = NULL;
  r = idpkit_store_new(other_dir, &other, NULL);
  if (other) {
    ev = (struct reg_events){0};
    ev.cancel_on_first = idpkit_cancel_new();
    r = idpkit_pull(other, J("{\"reference\": \"%s\"}", ref1), NULL, on_registry_event, &ev,
                    ev.cancel_on_first, &out, &err);
    expect_error("pull cancelled from its callback", r, IDPKIT_RESULT_CANCELLED, err, SENTINEL,
                 out);
    err = NULL;
    idpkit_cancel_free(ev.cancel_on_first);
    char *images = NULL;
    r = idpkit_images(other, NULL, NULL, NULL, NULL, NULL, &images, NULL);
    CHECK(r == IDPKIT_RESULT_OK && images && strcmp(images, "[]") == 0,
          "a cancelled pull stored nothing: %s", images ? images : "(null)");
    idpkit_string_free(images);
    idpkit_store_free(other);
  }

  /* the TLS registry: the right password works, a wrong one is AUTH and never shown */
  char tls_opts[700], tls_repo[256], tls_ref[300], wrong[200];
  /* the registry options every TLS call below shares (a JSON object's members) */
  snprintf(tls_opts, sizeof tls_opts, "\"ca_files\": [\"%s\"], \"attempts\": 2", ca);
  snprintf(wrong, sizeof wrong, "wrong-%s-c-secret", password);
  idpkit_credentials *good = basic_credentials(user, password);
  idpkit_credentials *bad = basic_credentials(user, wrong);
  snprintf(tls_repo, sizeof tls_repo, "%s/ctest/tls-%ld-%ld", tls, (long)getpid(),
           (long)time(NULL));
  snprintf(tls_ref, sizeof tls_ref, "%s:1", tls_repo);
  r = idpkit_tag(store, J("{\"source\": \"%s\", \"target\": \"%s\"}", ref1, tls_ref), NULL,
                 NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK, "tag %s", tls_ref);
  if (r == IDPKIT_RESULT_OK) idpkit_string_free(out);
  idpkit_error_free(err);
  err = NULL;
  pushed = NULL;
  r = idpkit_push(store, J("{\"source\": \"%s\", %s}", tls_ref, tls_opts), good, NULL, NULL, NULL,
                  &pushed, &err);
  CHECK(r == IDPKIT_RESULT_OK && pushed && strstr(pushed, digest),
        "push over TLS with the rig's credentials -> %s",
        pushed ? pushed : idpkit_error_message(err));
  idpkit_string_free(pushed);
  idpkit_error_free(err);
  err = NULL;
  tags = NULL;
  r = idpkit_list_tags(J("{\"repository\": \"%s\", %s}", tls_repo, tls_opts), good, NULL, NULL,
                       NULL, &tags, &err);
  CHECK(r == IDPKIT_RESULT_OK && tags && strcmp(tags, "[\"1\"]") == 0,
        "list_tags over TLS -> %s", tags ? tags : idpkit_error_message(err));
  idpkit_string_free(tags);
  idpkit_error_free(err);
  err = NULL;

  out = (char *)SENTINEL;
  r = idpkit_list_tags(J("{\"repository\": \"%s\", %s}", tls_repo, tls_opts), bad, NULL, NULL,
                       NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_AUTH && err && !strstr(idpkit_error_message(err), wrong) &&
            !strstr(idpkit_error_message(err), "c-secret") && out == SENTINEL,
        "list_tags with a wrong password -> %s: %s", idpkit_result_name(r),
        err ? idpkit_error_message(err) : "no error");
  idpkit_error_free(err);
  err = NULL;
  r = idpkit_push(store, J("{\"source\": \"%s\", %s}", tls_ref, tls_opts), bad, NULL, NULL, NULL,
                  &out, &err);
  CHECK(r == IDPKIT_RESULT_AUTH && err && !strstr(idpkit_error_message(err), "c-secret") &&
            out == SENTINEL,
        "push with a wrong password -> %s: %s", idpkit_result_name(r),
        err ? idpkit_error_message(err) : "no error");
  idpkit_error_free(err);
  err = NULL;
  r = idpkit_pull(store, J("{\"reference\": \"%s\", \"attempts\": 1}", tls_ref), good, NULL,
                  NULL, NULL, &out, &err);
  expect_error("pull over TLS without the rig's CA", r, IDPKIT_RESULT_UNTRUSTED, err, SENTINEL,
               out);
  idpkit_credentials_free(good);
  idpkit_credentials_free(bad);
}

/* ---- excludes: the layer holds exactly what the patterns and .dockerignore leave in ---- */

/* Writes `body` to DIR/REL, creating REL's parent directory (one level) first. */
static int write_file(const char *dir, const char *rel, const char *body) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  char *slash = strrchr(path, '/');
  if (slash && slash > path + strlen(dir)) {
    *slash = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return -1;
    *slash = '/';
  }
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  int ok = fputs(body, f) >= 0;
  return fclose(f) == 0 && ok ? 0 : -1;
}

static void excludes_tests(const char *tmp) {
  char context[512], store_dir[512];
  snprintf(context, sizeof context, "%s/excludes-context", tmp);
  snprintf(store_dir, sizeof store_dir, "%s/excludes-store", tmp);
  int written = mkdir(context, 0755) == 0 && write_file(context, "a.txt", "a\n") == 0 &&
                write_file(context, "keep/b.txt", "b\n") == 0 &&
                write_file(context, "keep/c.log", "left out by **.log\n") == 0 &&
                write_file(context, "debug.log", "left out by **.log\n") == 0 &&
                write_file(context, "logs/x.log", "left out with its directory\n") == 0 &&
                write_file(context, "secret.env", "left out by .dockerignore\n") == 0 &&
                write_file(context, ".dockerignore", "secret.env\n") == 0;
  CHECK(written, "excludes: context %s written", context);
  if (!written) return;

  idpkit_store *store = NULL;
  idpkit_error *err = NULL;
  idpkit_result r = idpkit_store_new(store_dir, &store, &err);
  CHECK(r == IDPKIT_RESULT_OK && store, "excludes: store_new %s", store_dir);
  idpkit_error_free(err);
  err = NULL;
  if (!store) return;

  /* "**.log" (a suffix test at any depth) rather than "*.log": a pattern that goes through
   * the core's regexp engine draws a memcheck report (Cond in ignore::re::Regex::new, the
   * release build reading a node's code point before its variant), which valgrind.supp
   * does not cover yet. */
  char *opts = NULL;
  if (asprintf(&opts,
               "{\"context\": \"%s\", \"tags\": [\"c-excludes:v1\"],"
               " \"excludes\": [\"**.log\", \"logs\"]}",
               context) < 0)
    abort();
  char *result = NULL;
  r = idpkit_build(store, opts, NULL, NULL, NULL, NULL, &result, &err);
  free(opts);
  CHECK(r == IDPKIT_RESULT_OK && result, "excludes: build -> %s",
        result ? result : idpkit_error_message(err));
  idpkit_error_free(err);
  err = NULL;

  /* the layer's digest from the image's manifest, its blob listed by tar */
  char *inspect = NULL;
  char layer[128] = "";
  r = idpkit_inspect(store, "{\"reference\": \"c-excludes:v1\"}",
                     NULL, NULL, NULL, NULL, &inspect, &err);
  const char *layers = inspect ? strstr(inspect, "\"layers\":") : NULL;
  if (layers) json_string(layers, "digest", layer, sizeof layer);
  CHECK(r == IDPKIT_RESULT_OK && strncmp(layer, "sha256:", 7) == 0 && result &&
            strstr(result, layer),
        "excludes: inspect names the built layer %s", layer);
  idpkit_string_free(inspect);
  idpkit_error_free(err);
  err = NULL;

  char listing[4096] = "";
  size_t used = 0;
  int status = -1;
  char *root = NULL;
  if (layer[0] && idpkit_store_root(store, &root, NULL) == IDPKIT_RESULT_OK) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "tar -tzf '%s/blobs/sha256/%s'", root, layer + 7);
    FILE *p = popen(cmd, "r");
    if (p) {
      used = fread(listing, 1, sizeof listing - 1, p);
      listing[used] = '\0';
      status = pclose(p);
    }
  }
  idpkit_string_free(root);
  const char *want = ".dockerignore\na.txt\nkeep/\nkeep/b.txt\n";
  CHECK(status == 0 && strcmp(listing, want) == 0,
        "excludes: the layer holds exactly .dockerignore a.txt keep/ keep/b.txt:\n%s", listing);
  const char *entries = result ? strstr(result, "\"entries\":") : NULL;
  CHECK(entries && strtoul(entries + strlen("\"entries\":"), NULL, 10) == 4,
        "excludes: the result counts the 4 entries: %s", result ? result : "(null)");
  idpkit_string_free(result);
  idpkit_store_free(store);
}


int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s FIXTURE_DIR\n", argv[0]);
    return 2;
  }
  const char *fixture = argv[1];
  char tmpl[400];
  const char *tmpdir = getenv("TMPDIR");
  snprintf(tmpl, sizeof tmpl, "%s/idpkit-c-test.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
  char *tmp = mkdtemp(tmpl);
  if (!tmp) {
    perror("mkdtemp");
    return 2;
  }
  char store_dir[512], layout_dir[512], default_dir[512], a_file[512];
  snprintf(store_dir, sizeof store_dir, "%s/store", tmp);
  snprintf(layout_dir, sizeof layout_dir, "%s/layout", tmp);
  snprintf(default_dir, sizeof default_dir, "%s/default-store", tmp);
  snprintf(a_file, sizeof a_file, "%s/a-file", tmp);

  /* version and names */
  CHECK(strcmp(idpkit_version(), IDPKIT_VERSION) == 0, "library version %s == header %s",
        idpkit_version(), IDPKIT_VERSION);
  CHECK(strcmp(idpkit_result_name(IDPKIT_RESULT_OK), "OK") == 0 &&
            strcmp(idpkit_result_name(IDPKIT_RESULT_NOT_FOUND), "NOT_FOUND") == 0 &&
            strcmp(idpkit_result_name(IDPKIT_RESULT_PANIC), "PANIC") == 0 &&
            strcmp(idpkit_result_name(9999), "UNKNOWN") == 0,
        "result names");
  CHECK(IDPKIT_RESULT_INVALID_INPUT == 1 && IDPKIT_RESULT_INTERNAL == 12 &&
            IDPKIT_RESULT_CANCELLED == 10,
        "result codes are the core's error kind numbers");

  /* open */
  idpkit_store *store = NULL;
  idpkit_error *err = NULL;
  idpkit_result r = idpkit_store_new(store_dir, &store, &err);
  CHECK(r == IDPKIT_RESULT_OK && store != NULL && err == NULL, "store_new %s", store_dir);
  if (!store) {
    idpkit_error_free(err);
    printf("%d passed, %d failed\n", passed, failed + 1);
    return 1;
  }
  char *root = NULL;
  r = idpkit_store_root(store, &root, NULL);
  CHECK(r == IDPKIT_RESULT_OK && root && strcmp(root, store_dir) == 0, "store_root %s",
        root ? root : "(null)");
  idpkit_string_free(root);

  /* build with progress */
  struct events ev = {0};
  char *opts = build_options(fixture, "c-test:v1", 0);
  char *result = NULL;
  r = idpkit_build(store, opts, NULL, on_event, &ev, NULL, &result, &err);
  CHECK(r == IDPKIT_RESULT_OK && result && strstr(result, "\"digest\":\"sha256:"),
        "build -> %s", result ? result : idpkit_error_message(err));
  CHECK(ev.started == 1 && ev.layer_done == 1 && ev.count >= 3,
        "progress events: %d (build_started %d, layer_done %d)", ev.count, ev.started,
        ev.layer_done);
  CHECK(result && strstr(result, "\"entries\":"), "build result has entries");
  idpkit_string_free(result);
  result = NULL;
  free(opts);

  /* the same build again comes from the layer cache */
  opts = build_options(fixture, "c-test:v1", 0);
  r = idpkit_build(store, opts, NULL, NULL, NULL, NULL, &result, NULL);
  CHECK(r == IDPKIT_RESULT_OK && result && strstr(result, "\"cached\":true"),
        "rebuild is cached: %s", result ? result : "(null)");
  idpkit_string_free(result);
  result = NULL;
  free(opts);

  excludes_tests(tmp);
  guard_tests(tmp);

  /* list, tag, inspect */
  char *images = NULL;
  r = idpkit_images(store, NULL, NULL, NULL, NULL, NULL, &images, &err);
  CHECK(r == IDPKIT_RESULT_OK && images && strstr(images, "c-test:v1"), "images: %s",
        images ? images : "(null)");
  idpkit_string_free(images);

  char *summary = NULL;
  r = idpkit_tag(store, "{\"source\": \"c-test:v1\", \"target\": \"c-test:v2\"}", NULL, NULL,
                 NULL, NULL, &summary, &err);
  CHECK(r == IDPKIT_RESULT_OK && summary && strstr(summary, "c-test:v2"), "tag: %s",
        summary ? summary : "(null)");
  idpkit_string_free(summary);
  summary = NULL;

  images = NULL;
  r = idpkit_images(store, NULL, NULL, NULL, NULL, NULL, &images, &err);
  CHECK(r == IDPKIT_RESULT_OK && images && strstr(images, "c-test:v1") &&
            strstr(images, "c-test:v2"),
        "images after tag list both tags");
  idpkit_string_free(images);

  char *inspect = NULL;
  r = idpkit_inspect(store, "{\"reference\": \"c-test:v2\"}",
                     NULL, NULL, NULL, NULL, &inspect, &err);
  CHECK(r == IDPKIT_RESULT_OK && inspect && strstr(inspect, "GREETING=hello") &&
            strstr(inspect, "/app/run.sh"),
        "inspect has the env and cmd");
  idpkit_string_free(inspect);

  /* export, import */
  r = idpkit_export(store, J("{\"reference\": \"c-test:v2\", \"layout\": \"%s\"}", layout_dir),
                    NULL, NULL, NULL, NULL, &summary, &err);
  CHECK(r == IDPKIT_RESULT_OK && summary, "export to %s", layout_dir);
  idpkit_string_free(summary);
  summary = NULL;
  images = NULL;
  r = idpkit_import(store, J("{\"layout\": \"%s\", \"name\": \"imported:v1\"}", layout_dir),
                    NULL, NULL, NULL, NULL, &images, &err);
  CHECK(r == IDPKIT_RESULT_OK && images && strstr(images, "imported:v1"), "import: %s",
        images ? images : (err ? idpkit_error_message(err) : "(null)"));
  idpkit_string_free(images);
  idpkit_error_free(err);
  err = NULL;

  /* remove, gc */
  char *removed = NULL;
  r = idpkit_remove(store, "{\"reference\": \"c-test:v2\"}", NULL, NULL, NULL, NULL, &removed,
                    &err);
  CHECK(r == IDPKIT_RESULT_OK && removed && strstr(removed, "c-test:v2"), "remove: %s",
        removed ? removed : "(null)");
  idpkit_string_free(removed);
  char *report = NULL;
  r = idpkit_gc(store, NULL, NULL, NULL, NULL, NULL, &report, &err);
  CHECK(r == IDPKIT_RESULT_OK && report && strstr(report, "\"removed_blobs\":"), "gc: %s",
        report ? report : "(null)");
  idpkit_string_free(report);

  /* two threads building into the one store at once */
  struct thread_arg args[2] = {{store, fixture, "c-thread:a", 99},
                               {store, fixture, "c-thread:b", 99}};
  pthread_t threads[2];
  for (int i = 0; i < 2; i++) pthread_create(&threads[i], NULL, build_thread, &args[i]);
  for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
  CHECK(args[0].result == IDPKIT_RESULT_OK && args[1].result == IDPKIT_RESULT_OK,
        "two concurrent builds into one store");

  /* ---- errors: outputs stay untouched, err_out says why ---- */
  char *out = (char *)SENTINEL;

  /* NOT_FOUND */
  r = idpkit_inspect(store, "{\"reference\": \"missing:latest\"}",
                     NULL, NULL, NULL, NULL, &out, &err);
  expect_error("inspect missing:latest", r, IDPKIT_RESULT_NOT_FOUND, err, SENTINEL, out);
  err = NULL;
  r = idpkit_tag(store, "{\"source\": \"missing:latest\", \"target\": \"other:latest\"}",
                 NULL, NULL, NULL, NULL, &out, &err);
  expect_error("tag missing:latest", r, IDPKIT_RESULT_NOT_FOUND, err, SENTINEL, out);
  err = NULL;
  opts = build_options("/nonexistent/idpkit-context", "c-test:none", 0);
  r = idpkit_build(store, opts, NULL, NULL, NULL, NULL, &out, &err);
  expect_error("build a missing context", r, IDPKIT_RESULT_NOT_FOUND, err, SENTINEL, out);
  err = NULL;
  free(opts);
  r = idpkit_import(store, J("{\"layout\": \"%s\", \"tag\": \"no-such-tag\"}", layout_dir),
                    NULL, NULL, NULL, NULL, &out, &err);
  expect_error("import a tag the layout lacks", r, IDPKIT_RESULT_NOT_FOUND, err, SENTINEL, out);
  err = NULL;
  r = idpkit_remove(store, "{\"reference\": \"missing:latest\"}",
                    NULL, NULL, NULL, NULL, &out, &err);
  expect_error("remove missing:latest", r, IDPKIT_RESULT_NOT_FOUND, err, SENTINEL, out);
  err = NULL;

  /* INVALID_INPUT */
  r = idpkit_build(store, "{not json", NULL, NULL, NULL, NULL, &out, &err);
  expect_error("build with malformed JSON", r, IDPKIT_RESULT_INVALID_INPUT, err, SENTINEL, out);
  err = NULL;
  r = idpkit_build(store, "{\"context\": \".\", \"colour\": \"blue\"}", NULL, NULL, NULL, NULL,
                   &out, &err);
  expect_error("build with an unknown field", r, IDPKIT_RESULT_INVALID_INPUT, err, SENTINEL,
               out);
  err = NULL;
  opts = build_options(fixture, "Bad Tag::", 0);
  r = idpkit_build(store, opts, NULL, NULL, NULL, NULL, &out, &err);
  expect_error("build with a malformed tag", r, IDPKIT_RESULT_INVALID_INPUT, err, SENTINEL,
               out);
  err = NULL;
  free(opts);
  r = idpkit_inspect(store, "{\"reference\": \"\xff\xfe:latest\"}",
                     NULL, NULL, NULL, NULL, &out, &err);
  expect_error("inspect a non-UTF-8 reference", r, IDPKIT_RESULT_INVALID_INPUT, err, SENTINEL,
               out);
  err = NULL;
  FILE *f = fopen(a_file, "w");
  if (f) fclose(f);
  idpkit_store *bad = NULL;
  r = idpkit_store_new(a_file, &bad, &err);
  expect_error("store_new on a file", r, IDPKIT_RESULT_INVALID_INPUT, err, NULL,
               (const char *)bad);
  err = NULL;

  /* CANCELLED: before the call, and from the progress callback */
  idpkit_cancel *cancel = idpkit_cancel_new();
  CHECK(cancel && !idpkit_cancel_is_cancelled(cancel), "cancel_new");
  idpkit_cancel_cancel(cancel);
  idpkit_cancel_cancel(cancel); /* idempotent */
  CHECK(idpkit_cancel_is_cancelled(cancel), "cancel_cancel raises the flag");
  opts = build_options(fixture, "c-test:cancelled", 1);
  r = idpkit_build(store, opts, NULL, NULL, NULL, cancel, &out, &err);
  expect_error("build with a cancelled handle", r, IDPKIT_RESULT_CANCELLED, err, SENTINEL, out);
  err = NULL;
  idpkit_cancel_free(cancel);

  cancel = idpkit_cancel_new();
  struct events ev2 = {0};
  ev2.cancel_on_first = cancel;
  r = idpkit_build(store, opts, NULL, on_event, &ev2, cancel, &out, &err);
  expect_error("build cancelled from its callback", r, IDPKIT_RESULT_CANCELLED, err, SENTINEL,
               out);
  err = NULL;
  idpkit_cancel_free(cancel);
  free(opts);

  images = NULL;
  r = idpkit_images(store, NULL, NULL, NULL, NULL, NULL, &images, NULL);
  CHECK(r == IDPKIT_RESULT_OK && images && !strstr(images, "c-test:cancelled"),
        "a cancelled build tagged nothing");
  idpkit_string_free(images);

  /* NULL_ARGUMENT */
  r = idpkit_images(NULL, NULL, NULL, NULL, NULL, NULL, &out, &err);
  expect_error("images on a NULL store", r, IDPKIT_RESULT_NULL_ARGUMENT, err, SENTINEL, out);
  err = NULL;
  r = idpkit_images(store, NULL, NULL, NULL, NULL, NULL, NULL, &err);
  expect_error("images with a NULL output", r, IDPKIT_RESULT_NULL_ARGUMENT, err, SENTINEL, out);
  err = NULL;
  opts = build_options(fixture, "c-test:no-output", 1);
  r = idpkit_build(store, opts, NULL, NULL, NULL, NULL, NULL, &err);
  expect_error("build with a NULL result_json_out", r, IDPKIT_RESULT_NULL_ARGUMENT, err,
               SENTINEL, out);
  err = NULL;
  free(opts);
  /* NULL options are the operation's defaults: a tag of nothing is refused by the core */
  r = idpkit_tag(store, NULL, NULL, NULL, NULL, NULL, &out, &err);
  expect_error("tag with NULL options (the defaults)", r, IDPKIT_RESULT_INVALID_INPUT, err,
               SENTINEL, out);
  err = NULL;
  r = idpkit_call(NULL, store, NULL, NULL, NULL, NULL, NULL, &out, &err);
  expect_error("idpkit_call with a NULL operation", r, IDPKIT_RESULT_NULL_ARGUMENT, err,
               SENTINEL, out);
  err = NULL;
  r = idpkit_store_new(NULL, &bad, &err);
  expect_error("store_new with a NULL path", r, IDPKIT_RESULT_NULL_ARGUMENT, err, NULL,
               (const char *)bad);
  err = NULL;
  r = idpkit_tag(NULL, "{\"source\": \"c-test:v1\", \"target\": \"c-test:v3\"}", NULL, NULL, NULL,
                 NULL, &out, NULL);
  CHECK(r == IDPKIT_RESULT_NULL_ARGUMENT && out == SENTINEL, "a NULL err_out is allowed");
  CHECK(idpkit_error_result(NULL) == IDPKIT_RESULT_NULL_ARGUMENT &&
            idpkit_error_message(NULL) == NULL &&
            strcmp(idpkit_error_code(NULL), "NULL_ARGUMENT") == 0 &&
            !idpkit_cancel_is_cancelled(NULL),
        "accessors accept NULL");
  idpkit_error_free(NULL);
  idpkit_string_free(NULL);
  idpkit_store_free(NULL);
  idpkit_cancel_free(NULL);
  idpkit_cancel_cancel(NULL);

  /* the default store follows $IDPKIT_STORE */
  setenv("IDPKIT_STORE", default_dir, 1);
  idpkit_store *dflt = NULL;
  r = idpkit_store_new_default(&dflt, &err);
  root = NULL;
  if (r == IDPKIT_RESULT_OK) idpkit_store_root(dflt, &root, NULL);
  CHECK(r == IDPKIT_RESULT_OK && root && strcmp(root, default_dir) == 0,
        "store_new_default uses $IDPKIT_STORE: %s", root ? root : "(null)");
  idpkit_string_free(root);
  idpkit_store_free(dflt);
  idpkit_error_free(err);

  registry_tests(store, fixture, tmp);
  remote_tests(store, fixture, tmp);
  source_tests(tmp);
  source_git_argo_tests(tmp);
  source_watch_tests(tmp);
  source_watch_argo_tests(tmp);
  secrets_tests(tmp);
  sandbox_tests(tmp);
  supervise_tests();

  idpkit_store_free(store);

  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);

  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
