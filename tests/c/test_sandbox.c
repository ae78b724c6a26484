/*
 * Sandboxes through the C ABI: a run is a fresh clone of the rig's git fixture over HTTPS
 * (basic auth, the rig CA), listed, then removed with its directory; a wrong password is
 * IDPKIT_RESULT_AUTH and leaves no run; a Rails project plans the Ruby 3.3 image with
 * postgres; an empty directory falls back to every service, and its Compose file passes the
 * real `docker-compose config`; a Job for a git checkout is admitted by the rig's
 * kube-apiserver in a dry run; wait without apply and an unknown option are INVALID_INPUT.
 * Without the rig these checks fail, naming the peer.
 */
#define _GNU_SOURCE
#include "check.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void reset(char **out, idpkit_error **err) {
  if (*out != SENTINEL) idpkit_string_free(*out);
  idpkit_error_free(*err);
  *out = (char *)SENTINEL;
  *err = NULL;
}

static const char *msg(const char *out, idpkit_error *err) {
  if (out && out != SENTINEL) return out;
  return err ? idpkit_error_message(err) : "(nothing)";
}

static int is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

/* The whole of a small file (static buffer; main thread only). */
static const char *read_file(const char *path) {
  static char buf[65536];
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (f) {
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
  }
  return buf;
}

/* How many times needle occurs in s. */
static int count(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = s ? strstr(s, needle) : NULL; p; p = strstr(p + 1, needle)) n++;
  return n;
}

/* The entries of dir not starting with a dot (0 when it does not exist). */
static int visible_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

/* The JSON string value of "key" (its first occurrence), unescaped (\n, \t, \", \\, \/ and
 * \u00XX), into a malloc'd string (free() it); NULL when absent. */
static char *json_text(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char *p = json ? strstr(json, pat) : NULL;
  if (!p) return NULL;
  p += strlen(pat);
  char *out = malloc(strlen(p) + 1), *o = out;
  if (!out) abort();
  while (*p && *p != '"') {
    if (*p != '\\') {
      *o++ = *p++;
      continue;
    }
    p++;
    switch (*p) {
      case 'n': *o++ = '\n'; break;
      case 't': *o++ = '\t'; break;
      case 'r': *o++ = '\r'; break;
      case 'u': {
        unsigned v = 0;
        if (sscanf(p + 1, "%4x", &v) == 1) *o++ = (char)v;
        p += 4;
        break;
      }
      default: *o++ = *p; break;
    }
    if (*p) p++;
  }
  *o = '\0';
  return out;
}

static const char *const GEMFILE = "source \"https://rubygems.org\"\n"
                                   "\n"
                                   "gem \"rails\", \"~> 7.1.3\"\n"
                                   "gem \"pg\", \"~> 1.5\"\n";

static const char *const GEMFILE_LOCK = "GEM\n"
                                        "  remote: https://rubygems.org/\n"
                                        "  specs:\n"
                                        "    pg (1.5.6)\n"
                                        "    rails (7.1.3)\n"
                                        "\n"
                                        "PLATFORMS\n"
                                        "  x86_64-linux\n"
                                        "\n"
                                        "DEPENDENCIES\n"
                                        "  pg (~> 1.5)\n"
                                        "  rails (~> 7.1.3)\n"
                                        "\n"
                                        "BUNDLED WITH\n"
                                        "   2.5.6\n";

static void sandbox_clone_tests(const char *tmp) {
  const char *url = rig_env("IDPKIT_RIG_GIT_FIXTURE_HTTPS", "nginx");
  const char *git_dir = rig_env("IDPKIT_RIG_GIT_FIXTURE_DIR", "nginx");
  const char *user = rig_env("IDPKIT_RIG_GIT_USER", "nginx");
  const char *password = rig_env("IDPKIT_RIG_GIT_PASSWORD", "nginx");
  const char *ca = rig_env("IDPKIT_RIG_CA", "nginx");
  if (!url || !git_dir || !user || !password || !ca) return;
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r;
  char root[600], trust[700], opts[2048], id[200], dir[800], checkout[800], commit[64], head[64];
  char path[900], want[900];
  snprintf(root, sizeof root, "%s/sandbox-runs", tmp);
  snprintf(trust, sizeof trust,
           "\"ca_files\": [\"%s\"], \"no_platform_roots\": true, \"certs_d\": []", ca);

  /* the fixture's HEAD, from git itself */
  head[0] = '\0';
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "git --git-dir '%s' rev-parse 'HEAD^{commit}'", git_dir);
  FILE *p = popen(cmd, "r");
  if (p) {
    if (fscanf(p, "%63s", head) != 1) head[0] = '\0';
    pclose(p);
  }

  /* clone: a new run under root whose checkout holds the fixture at its HEAD */
  snprintf(opts, sizeof opts, "{\"url\": \"%s\", \"root\": \"%s\", %s}", url, root, trust);
  idpkit_credentials *creds = basic_credentials(user, password);
  r = idpkit_sandbox_clone(opts, creds, NULL, NULL, NULL, &out, &err);
  idpkit_credentials_free(creds);
  json_string(out, "id", id, sizeof id);
  json_string(out, "dir", dir, sizeof dir);
  json_string(out, "checkout", checkout, sizeof checkout);
  json_string(out, "commit", commit, sizeof commit);
  snprintf(want, sizeof want, "%s/%s", root, id);
  CHECK(r == IDPKIT_RESULT_OK && id[0] && strcmp(dir, want) == 0,
        "sandbox_clone of %s: a run under %s: %s", url, root, msg(out, err));
  int hex = strlen(commit) == 40 && strspn(commit, "0123456789abcdef") == 40;
  CHECK(hex && strcmp(commit, head) == 0, "the run's commit %s is the fixture's HEAD %s", commit,
        head);
  snprintf(path, sizeof path, "%s/README.md", checkout);
  snprintf(want, sizeof want, "%s/log/001.txt", checkout);
  CHECK(is_file(path) && is_file(want), "the checkout %s holds README.md and log/001.txt",
        checkout);
  reset(&out, &err);

  /* list: the run by its id */
  r = idpkit_sandbox_list(J("{\"root\": \"%s\"}", root), NULL, NULL, NULL, NULL, &out, &err);
  char listed_id[200];
  json_string(out, "id", listed_id, sizeof listed_id);
  CHECK(r == IDPKIT_RESULT_OK && id[0] && strcmp(listed_id, id) == 0 &&
            count(out, "\"commit\":") == 1,
        "sandbox_list shows the one run %s: %s", id, msg(out, err));
  reset(&out, &err);

  /* remove: the run is gone from the list and from the disk */
  r = idpkit_sandbox_remove(J("{\"id\": \"%s\", \"root\": \"%s\"}", id, root), NULL, NULL, NULL,
                            NULL, &out, &err);
  char removed_id[200];
  json_string(out, "id", removed_id, sizeof removed_id);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(removed_id, id) == 0 && !exists(dir),
        "sandbox_remove %s returns it and deletes %s: %s", id, dir, msg(out, err));
  reset(&out, &err);
  r = idpkit_sandbox_list(J("{\"root\": \"%s\"}", root), NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(out, "{\"runs\":[]}") == 0,
        "sandbox_list after remove has no run: %s", msg(out, err));
  reset(&out, &err);

  /* a wrong password: AUTH, the password nowhere in the message, no run left */
  const char *wrong = "pw-wrong-c-sandbox-2b9d";
  char wrong_root[600];
  snprintf(wrong_root, sizeof wrong_root, "%s/sandbox-runs-wrong", tmp);
  creds = basic_credentials(user, wrong);
  r = idpkit_sandbox_clone(J("{\"url\": \"%s\", \"root\": \"%s\", %s}", url, wrong_root, trust),
                           creds, NULL, NULL, NULL, &out, &err);
  idpkit_credentials_free(creds);
  CHECK(err && !strstr(idpkit_error_message(err), wrong),
        "sandbox_clone with a wrong password names no password: %s", msg(NULL, err));
  expect_error("sandbox_clone with a wrong password", r, IDPKIT_RESULT_AUTH, err, SENTINEL, out);
  err = NULL;
  r = idpkit_sandbox_list(J("{\"root\": \"%s\"}", wrong_root), NULL, NULL, NULL, NULL, &out,
                          &err);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(out, "{\"runs\":[]}") == 0 &&
            visible_entries(wrong_root) == 0,
        "the failed clone left no run under %s: %s", wrong_root, msg(out, err));
  reset(&out, &err);
}

static void sandbox_plan_tests(const char *tmp) {
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r;
  char rails[600], empty[600], path[700];

  /* a Rails project: Ruby 3.3's image holding 3.3.6, postgres and nothing else */
  snprintf(rails, sizeof rails, "%s/sandbox-rails", tmp);
  mkdir(rails, 0755);
  snprintf(path, sizeof path, "%s/Gemfile", rails);
  write_file(path, GEMFILE);
  snprintf(path, sizeof path, "%s/Gemfile.lock", rails);
  write_file(path, GEMFILE_LOCK);
  snprintf(path, sizeof path, "%s/.ruby-version", rails);
  write_file(path, "3.3.1\n");
  r = idpkit_sandbox_plan(J("{\"dir\": \"%s\"}", rails), NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"runtime\":\"ruby\"") &&
            strstr(out, "\"image\":\"claude-sandbox:ruby-3.3\"") &&
            strstr(out, "\"version\":\"3.3.6\""),
        "sandbox_plan of a Rails project: ruby, claude-sandbox:ruby-3.3, 3.3.6: %s",
        msg(out, err));
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"profiles\":[\"claude\",\"with-postgres\"]") &&
            count(out, "\"health_retries\":") == 1 && strstr(out, "\"name\":\"postgres\"") &&
            strstr(out, "\"fallback\":false"),
        "the Rails project's only service is postgres, without fallback: %s", msg(out, err));
  reset(&out, &err);

  /* an empty directory: every service, and why */
  snprintf(empty, sizeof empty, "%s/sandbox-empty", tmp);
  mkdir(empty, 0755);
  r = idpkit_sandbox_plan(J("{\"dir\": \"%s\"}", empty), NULL, NULL, NULL, NULL, &out, &err);
  const char *pg = out != SENTINEL ? strstr(out, "\"name\":\"postgres\"") : NULL;
  const char *my = out != SENTINEL ? strstr(out, "\"name\":\"mysql\"") : NULL;
  const char *rd = out != SENTINEL ? strstr(out, "\"name\":\"redis\"") : NULL;
  char reason[400] = "";
  if (r == IDPKIT_RESULT_OK) json_string(out, "fallback_reason", reason, sizeof reason);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"fallback\":true") && reason[0],
        "sandbox_plan of an empty directory falls back, saying why: %s", reason);
  CHECK(pg && my && rd && pg < my && my < rd && count(out, "\"health_retries\":") == 3,
        "the fallback's services are postgres, mysql, redis: %s", msg(out, err));
  reset(&out, &err);

  /* compose of the empty directory: written where asked, valid for docker-compose */
  char output[700], cmd[2400];
  snprintf(output, sizeof output, "%s/sandbox-compose.yaml", tmp);
  r = idpkit_sandbox_compose(J("{\"dir\": \"%s\", \"output\": \"%s\"}", empty, output), NULL,
                             NULL, NULL, NULL, &out, &err);
  char profiles[200] = "";
  char *text = r == IDPKIT_RESULT_OK ? json_text(out, "compose") : NULL;
  if (r == IDPKIT_RESULT_OK) json_string(out, "compose_profiles", profiles, sizeof profiles);
  CHECK(text && *text && strcmp(read_file(output), text) == 0,
        "sandbox_compose writes the returned compose text to %s: %s", output,
        r != IDPKIT_RESULT_OK ? msg(out, err) : text && strcmp(read_file(output), text) == 0
                                                     ? "the same text"
                                                     : "a different text");
  CHECK(strcmp(profiles, "claude,with-postgres,with-mysql,with-redis") == 0,
        "compose_profiles: %s", profiles);
  free(text);
  reset(&out, &err);
  snprintf(cmd, sizeof cmd, "cd '%s' && COMPOSE_PROFILES='%s' docker-compose -f '%s' config -q",
           tmp, profiles, output);
  int rc = system(cmd);
  CHECK(rc == 0, "docker-compose -f %s config -q with COMPOSE_PROFILES=%s: exit %d", output,
        profiles, rc);

  /* options are strict: an unknown field is named */
  r = idpkit_sandbox_plan(J("{\"dir\": \"%s\", \"configg\": \"x.toml\"}", empty), NULL, NULL,
                          NULL, NULL, &out, &err);
  CHECK(err && strstr(idpkit_error_message(err), "configg"),
        "sandbox_plan names the unknown option configg: %s", msg(NULL, err));
  expect_error("sandbox_plan with an unknown option", r, IDPKIT_RESULT_INVALID_INPUT, err,
               SENTINEL, out);
  err = NULL;
}

static void sandbox_job_tests(const char *tmp) {
  const char *kubeconfig = rig_env("IDPKIT_RIG_KUBECONFIG", "kube-apiserver");
  if (!kubeconfig) return;
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r;
  char repo[600], cmd[3000];
  snprintf(repo, sizeof repo, "%s/sandbox-job/shop", tmp);
  snprintf(cmd, sizeof cmd,
           "export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1; g='git -c user.name=t -c "
           "user.email=t@idpkit.invalid'; mkdir -p '%s' && cd '%s' && $g init -q -b main && "
           "echo shop > README.md && $g add README.md && $g commit -qm one && "
           "$g remote add origin https://example.com/org/shop.git",
           repo, repo);
  CHECK(system(cmd) == 0, "a git checkout with an origin for the Job at %s", repo);

  r = idpkit_sandbox_job(J("{\"dir\": \"%s\", \"apply\": true, \"dry_run\": true, "
                           "\"cluster\": {\"kubeconfig\": \"%s\"}}",
                           repo, kubeconfig),
                         NULL, NULL, NULL, NULL, &out, &err);
  char name[100] = "";
  if (r == IDPKIT_RESULT_OK) json_string(out, "name", name, sizeof name);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"applied\":true") &&
            strstr(out, "\"dry_run\":true") && strstr(out, "\"uid\":null") &&
            strncmp(name, "sandbox-", 8) == 0,
        "sandbox_job --apply --dry-run on the rig: %s admitted, not stored: %s", name,
        msg(out, err));
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "restartPolicy: Always") &&
            strstr(out, "backoffLimit: 0") && strstr(out, "https://example.com/org/shop.git"),
        "the Job has native sidecars, no retries, and clones the origin: %s", msg(out, err));
  reset(&out, &err);

  r = idpkit_sandbox_job(J("{\"dir\": \"%s\", \"wait\": true}", repo), NULL, NULL, NULL, NULL,
                         &out, &err);
  CHECK(err && strstr(idpkit_error_message(err), "apply"),
        "sandbox_job wait without apply names apply: %s", msg(NULL, err));
  expect_error("sandbox_job wait without apply", r, IDPKIT_RESULT_INVALID_INPUT, err, SENTINEL,
               out);
}

void sandbox_tests(const char *tmp) {
  sandbox_clone_tests(tmp);
  sandbox_plan_tests(tmp);
  sandbox_job_tests(tmp);
}
