/*
 * The git push guard through the C ABI, on a repository made by the real git: a forced push
 * of main is blocked (exit code 1, rule force-push), an alias that forces is seen through, a
 * direct push warns, a feature branch passes, the pre-push hook's input decides a delete, and
 * malformed hook input is INVALID_INPUT naming the line.
 */
#define _GNU_SOURCE
#include "check.h"

#include <stdlib.h>
#include <string.h>

static int sh(const char *fmt, const char *a, const char *b) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, fmt, a, b);
  return system(cmd);
}

/* Runs git_guard_check on `args_json` (a JSON array) in `repo`; returns the verdict JSON
 * (free() it) or NULL after a failed CHECK. */
static char *check(const char *repo, const char *args_json) {
  char *out = NULL;
  idpkit_error *err = NULL;
  idpkit_result r = idpkit_git_guard_check(J("{\"args\": %s, \"dir\": \"%s\"}", args_json, repo),
                                           NULL, NULL, NULL, NULL, &out, &err);
  if (r != IDPKIT_RESULT_OK) {
    CHECK(0, "git_guard_check %s: %s", args_json, err ? idpkit_error_message(err) : "?");
    idpkit_error_free(err);
    return NULL;
  }
  char *copy = strdup(out);
  idpkit_string_free(out);
  return copy;
}

static void expect(const char *repo, const char *args_json, const char *decision, int exit_code,
                   const char *rule) {
  char *v = check(repo, args_json);
  if (!v) return;
  char want_decision[64], want_exit[32], want_rule[64];
  snprintf(want_decision, sizeof want_decision, "\"decision\":\"%s\"", decision);
  snprintf(want_exit, sizeof want_exit, "\"exit_code\":%d", exit_code);
  snprintf(want_rule, sizeof want_rule, "\"rule\":\"%s\"", rule);
  CHECK(strstr(v, want_decision) && strstr(v, want_exit) && (!*rule || strstr(v, want_rule)),
        "git_guard_check %s -> %s %s: %s", args_json, decision, rule, v);
  free(v);
}

void guard_tests(const char *tmp) {
  char repo[1024], global[1100];
  snprintf(repo, sizeof repo, "%s/guard-repo", tmp);
  snprintf(global, sizeof global, "%s/guard-gitconfig", tmp);
  FILE *f = fopen(global, "w");
  if (f) fclose(f);
  /* the guard reads the process environment, as git does */
  setenv("GIT_CONFIG_GLOBAL", global, 1);
  setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
  int rc = sh("git init -q -b main '%s' && cd '%s' && echo 1 > a && git add a && "
              "git -c user.name=t -c user.email=t@idpkit.invalid commit -qm one && "
              "git branch feature && git remote add origin ../origin.git",
              repo, repo);
  CHECK(rc == 0, "a repository made by git for the guard (%d)", rc);

  expect(repo, "[\"push\", \"-f\", \"origin\", \"main\"]", "block", 1, "force-push");
  expect(repo, "[\"push\", \"origin\", \"-uf\", \"main\"]", "block", 1, "force-push");
  expect(repo, "[\"-c\", \"alias.p=push --force\", \"p\", \"origin\", \"main\"]", "block", 1,
         "force-push");
  expect(repo, "[\"push\", \"--mirror\", \"origin\"]", "block", 1, "mirror");
  expect(repo, "[\"push\", \"origin\", \"main\"]", "warn", 2, "direct-push");
  expect(repo, "[\"push\", \"-f\", \"origin\", \"feature\"]", "allow", 0, "");

  /* the hook: a zero new id for main is a delete */
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r = idpkit_git_guard_hook(
      J("{\"updates\": \"(delete) 0000000000000000000000000000000000000000 refs/heads/main "
        "1111111111111111111111111111111111111111\\n\", \"dir\": \"%s\"}",
        repo),
      NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"decision\":\"block\"") &&
            strstr(out, "\"rule\":\"delete\""),
        "git_guard_hook: a delete of main is blocked: %s",
        r == IDPKIT_RESULT_OK ? out : idpkit_error_message(err));
  if (r == IDPKIT_RESULT_OK) idpkit_string_free(out);
  idpkit_error_free(err);

  out = (char *)SENTINEL;
  err = NULL;
  r = idpkit_git_guard_hook(J("{\"updates\": \"garbage\\n\", \"dir\": \"%s\"}", repo), NULL, NULL,
                            NULL, NULL, &out, &err);
  if (err) CHECK(strstr(idpkit_error_message(err), "line 1") != NULL, "the error names the line");
  expect_error("git_guard_hook with garbage", r, IDPKIT_RESULT_INVALID_INPUT, err, SENTINEL, out);
  unsetenv("GIT_CONFIG_GLOBAL");
  unsetenv("GIT_CONFIG_NOSYSTEM");
}
