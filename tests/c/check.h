/* What the C test files share: the CHECK counter macro and helpers defined in test_idpkit.c. */
#ifndef IDPKIT_TEST_CHECK_H
#define IDPKIT_TEST_CHECK_H

#include "idpkit.h"

#include <stddef.h>
#include <stdio.h>

extern int passed, failed;

#define CHECK(cond, ...)                                                                 \
  do {                                                                                   \
    if (cond) {                                                                          \
      passed++;                                                                          \
      printf("ok   ");                                                                   \
    } else {                                                                             \
      failed++;                                                                          \
      printf("FAIL %s:%d ", __FILE__, __LINE__);                                         \
    }                                                                                    \
    printf(__VA_ARGS__);                                                                 \
    printf("\n");                                                                        \
  } while (0)

/* An output pointer's value before a call: a failed call must leave it alone. */
extern const char SENTINEL[];

/* Checks that a call failed with `want`, left its output alone, and filled err_out with a
 * matching error (kind, code string, non-empty message); frees the error. */
void expect_error(const char *what, idpkit_result got, idpkit_result want, idpkit_error *err,
                  const char *out_sentinel, const char *out);

/* printf into one of 16 rotating static buffers: the options JSON of one call, no free()
 * (main thread only). */
const char *J(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A credentials handle holding a username and password (free it with
 * idpkit_credentials_free). */
idpkit_credentials *basic_credentials(const char *username, const char *password);

/* Build options (JSON, free() it) for the fixture context under one tag. */
char *build_options(const char *context, const char *tag, int no_cache);

/* Copies the string value of "key" in a flat JSON object (no escapes expected) into buf. */
const char *json_string(const char *json, const char *key, char *buf, size_t len);

/* A peer the test needs: the variable 20-c.sh exports from the rig (tests/rig/lib.sh). A
 * missing one is a failure naming the peer, never a skip. */
const char *rig_env(const char *var, const char *peer);

/* test_remote.c: copy, catalog, delete, login/logout and trust against the rig. */
void remote_tests(const idpkit_store *store, const char *fixture, const char *tmp);

/* test_source.c: GitOps sources (fetch an artifact, list, gc) against the rig's nginx. */
void source_tests(const char *tmp);

/* test_source.c: git over HTTPS and an Argo CD Application against the rig. */
void source_git_argo_tests(const char *tmp);

/* test_guard.c: the git push guard on a repository made by git. */
void guard_tests(const char *tmp);
/* test_source.c: server-side applies the JSON `body` at `api_path` of the rig's kube-apiserver
 * (curl; the token never in its arguments); returns the HTTP status (200 or 201: applied). */
int kube_apply(const char *tmp, const char *api_path, const char *body);
/* test_source.c: GETs `api_path` of the rig's kube-apiserver into buf; returns the status. */
int kube_get(const char *tmp, const char *api_path, char *buf, size_t len);

/* test_secrets.c: secrets_decrypt, secrets_parse, secrets_push against the rig's sops, age
 * and kube-apiserver. */
void secrets_tests(const char *tmp);

/* test_sandbox.c: sandbox runs, plan, Compose and Job against the rig. */
void sandbox_tests(const char *tmp);

/* test_supervise.c: sandbox_up/status/env/down with real postgres and redis, and run of a
 * Procfile (background, and foreground until cancelled), in a 0755 temporary directory of
 * its own (postgres, run as its own user by root, must reach its data). */
void supervise_tests(void);

/* test_watch.c: source_watch_flux against the rig's kube-apiserver and nginx. */
void source_watch_tests(const char *tmp);
/* test_watch.c: source_watch_argo, an Application synced to a new commit. */
void source_watch_argo_tests(const char *tmp);

#endif
