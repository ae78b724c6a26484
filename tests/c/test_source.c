/*
 * GitOps sources through the C ABI against the rig's nginx (its /artifacts/ directory,
 * trusted through the rig CA alone): the fixture's tarball is fetched into a temporary cache
 * and then hit, a wrong digest is INTEGRITY with nothing cached, a tarball this test serves
 * with a `../evil` entry is UNSAFE_ARCHIVE with nothing written outside the cache, the cache
 * lists and collects its entry, and bad options are INVALID_INPUT naming the field.
 *
 * Git and Argo CD (source_git_argo_tests): the rig's fixture repository over HTTPS with basic
 * credentials is fetched and then hit, a wrong password is AUTH without the password in the
 * message, and an Argo CD Application this test applies to the rig's kube-apiserver (a git
 * source and a Helm one, a `repository` Secret in a namespace of its own standing for Argo CD's)
 * gives its git source's directory and says why the Helm source was skipped.
 */
#define _GNU_SOURCE
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* How many entries named `name` are under `dir`, at any depth (symlinks not followed). */
static int count_named(const char *dir, const char *name) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (strcmp(e->d_name, name) == 0) n++;
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) n += count_named(sub, name);
  }
  closedir(d);
  return n;
}

/* How many entries `dir` holds (not counting . and ..). */
static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  closedir(d);
  return n;
}

/* The unsigned number member `key` of a flat JSON object, or -1 when absent. */
static long long json_u64(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = json ? strstr(json, pat) : NULL;
  return p && p[strlen(pat)] >= '0' && p[strlen(pat)] <= '9' ? strtoll(p + strlen(pat), NULL, 10)
                                                               : -1;
}

/* ---- a hostile tarball, made byte by byte: one ustar entry `../evil`, gzipped ---- */

static uint32_t crc32_of(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

/* A tar of one regular file `name` holding "x", then the two zero blocks that end a tar. */
static size_t tar_one(unsigned char tar[2048], const char *name) {
  memset(tar, 0, 2048);
  unsigned char *h = tar;
  memcpy(h, name, strlen(name));
  memcpy(h + 100, "0000644", 7);
  memcpy(h + 108, "0000000", 7);
  memcpy(h + 116, "0000000", 7);
  memcpy(h + 124, "00000000001", 11);
  memcpy(h + 136, "00000000000", 11);
  h[156] = '0';
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; i++) sum += h[i];
  snprintf((char *)h + 148, 8, "%06o", sum);
  tar[512] = 'x';
  return 2048;
}

/* `data` as a gzip member of one stored (uncompressed) deflate block; returns its length. */
static size_t gzip_stored(const unsigned char *data, size_t n, unsigned char *out) {
  static const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
  size_t o = 0;
  memcpy(out, header, sizeof header);
  o += sizeof header;
  out[o++] = 1; /* BFINAL, stored */
  out[o++] = n & 0xff;
  out[o++] = (n >> 8) & 0xff;
  out[o++] = ~n & 0xff;
  out[o++] = (~n >> 8) & 0xff;
  memcpy(out + o, data, n);
  o += n;
  uint32_t crc = crc32_of(data, n);
  for (int i = 0; i < 4; i++) out[o++] = (crc >> (8 * i)) & 0xff;
  for (int i = 0; i < 4; i++) out[o++] = ((uint32_t)n >> (8 * i)) & 0xff;
  return o;
}

/* Serves `bytes` as `name` in the rig's artifacts directory (a dot-temp name renamed into
 * place, so nginx never serves half a file); fills its URL and "sha256:<hex>" digest. */
static int serve(const char *rig_dir, const char *base, const char *name,
                 const unsigned char *bytes, size_t n, char *url, size_t url_len, char *digest,
                 size_t digest_len) {
  char tmp[1024], final[1024], cmd[1200];
  snprintf(tmp, sizeof tmp, "%s/artifacts/.%s.tmp", rig_dir, name);
  snprintf(final, sizeof final, "%s/artifacts/%s", rig_dir, name);
  FILE *f = fopen(tmp, "wb");
  if (!f) return 0;
  int ok = fwrite(bytes, 1, n, f) == n;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, final) != 0) return 0;
  snprintf(url, url_len, "%s/%s", base, name);
  snprintf(cmd, sizeof cmd, "sha256sum '%s'", final);
  FILE *p = popen(cmd, "r");
  char hex[65] = "";
  if (p) {
    if (fscanf(p, "%64s", hex) != 1) hex[0] = '\0';
    pclose(p);
  }
  snprintf(digest, digest_len, "sha256:%s", hex);
  return strlen(hex) == 64;
}

/* ---- the tests ---- */

void source_tests(const char *tmp) {
  const char *artifact = rig_env("IDPKIT_RIG_ARTIFACT_URL", "nginx");
  const char *sha = rig_env("IDPKIT_RIG_ARTIFACT_SHA256", "nginx");
  const char *ca = rig_env("IDPKIT_RIG_CA", "nginx");
  const char *rig_dir = rig_env("IDPKIT_RIG_DIR", "nginx");
  if (!artifact || !sha || !ca || !rig_dir) return;
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r;
  char cache[600], want[800], got[800], digest[100];
  snprintf(cache, sizeof cache, "%s/source-cache", tmp);
  snprintf(digest, sizeof digest, "sha256:%s", sha);
  /* the rig's CA and nothing else: no platform roots, no certs.d (copied: J's buffers rotate) */
  char trust[700], fetch[2048];
  snprintf(trust, sizeof trust, "\"ca_files\": [\"%s\"], \"no_platform_roots\": true, \"certs_d\": []",
           ca);

  /* fetched into <cache>/artifact/sha256-<hex>, the tree's files there; then a hit */
  snprintf(fetch, sizeof fetch, "{\"url\": \"%s\", \"digest\": \"%s\", \"cache\": \"%s\", %s}",
           artifact, digest, cache, trust);
  r = idpkit_source_fetch_artifact(fetch, NULL, NULL, NULL, NULL, &out, &err);
  snprintf(want, sizeof want, "%s/artifact/sha256-%s", cache, sha);
  json_string(out, "path", got, sizeof got);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(got, want) == 0 && strstr(out, "\"hit\":false"),
        "source_fetch_artifact of the fixture's tarball: a new entry at %s: %s", want,
        msg(out, err));
  char readme[900];
  snprintf(readme, sizeof readme, "%s/README.md", want);
  CHECK(is_file(readme), "the entry holds the tree's README.md");
  CHECK(r == IDPKIT_RESULT_OK &&
            strcmp(json_string(out, "digest", got, sizeof got), digest) == 0 &&
            strcmp(json_string(out, "url", got, sizeof got), artifact) == 0 &&
            strcmp(json_string(out, "source", got, sizeof got), "artifact") == 0,
        "the result names the digest, the URL and the source kind");
  reset(&out, &err);
  r = idpkit_source_fetch_artifact(fetch, NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"hit\":true") &&
            strcmp(json_string(out, "path", got, sizeof got), want) == 0,
        "the second fetch is a hit on the same directory: %s", msg(out, err));
  reset(&out, &err);
  /* the same through idpkit_call */
  r = idpkit_call("source_fetch_artifact", NULL, fetch, NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"hit\":true"),
        "idpkit_call source_fetch_artifact: %s", msg(out, err));
  reset(&out, &err);

  /* listed with its URL, then collected by a size budget of one byte */
  r = idpkit_source_list(J("{\"cache\": \"%s\"}", cache), NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && out[0] == '[' &&
            strcmp(json_string(out, "url", got, sizeof got), artifact) == 0 &&
            strcmp(json_string(out, "path", got, sizeof got), want) == 0 &&
            !strstr(strstr(out, "\"url\"") + 1, "\"url\""),
        "source_list shows the one entry with its URL: %s", msg(out, err));
  reset(&out, &err);
  r = idpkit_source_gc(J("{\"cache\": \"%s\", \"max_bytes\": 1, \"dry_run\": true}", cache), NULL,
                       NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"removed\":[{") && is_dir(want),
        "source_gc dry_run names the entry and removes nothing: %s", msg(out, err));
  reset(&out, &err);
  r = idpkit_source_gc(J("{\"cache\": \"%s\", \"max_bytes\": 1}", cache), NULL, NULL, NULL, NULL,
                       &out, &err);
  const char *removed = r == IDPKIT_RESULT_OK ? strstr(out, "\"removed\":[{") : NULL;
  CHECK(removed && strcmp(json_string(removed, "url", got, sizeof got), artifact) == 0 &&
            json_u64(out, "kept") == 0 && json_u64(out, "freed_bytes") > 0 && !is_dir(want),
        "source_gc max_bytes=1 removes the entry: %s", msg(out, err));
  reset(&out, &err);
  r = idpkit_source_list(J("{\"cache\": \"%s\"}", cache), NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(out, "[]") == 0, "source_list after the gc: %s",
        msg(out, err));
  reset(&out, &err);
  r = idpkit_source_gc(J("{\"cache\": \"%s\"}", cache), NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_INVALID_INPUT && err && strstr(idpkit_error_message(err), "rule"),
        "source_gc without a rule -> %s: %s", idpkit_result_name(r), msg(NULL, err));
  expect_error("source_gc without a rule", r, IDPKIT_RESULT_INVALID_INPUT, err, SENTINEL, out);
  err = NULL;

  /* a wrong digest: INTEGRITY naming the file, nothing cached */
  char wrong_cache[600];
  snprintf(wrong_cache, sizeof wrong_cache, "%s/source-cache-wrong", tmp);
  r = idpkit_source_fetch_artifact(
      J("{\"url\": \"%s\", \"digest\": \"sha256:%064d\", \"cache\": \"%s\", %s}", artifact, 0,
        wrong_cache, trust),
      NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_INTEGRITY && err && strstr(idpkit_error_message(err), "fixture.tar.gz"),
        "a wrong digest -> %s naming the file: %s", idpkit_result_name(r), msg(NULL, err));
  expect_error("source_fetch_artifact with a wrong digest", r, IDPKIT_RESULT_INTEGRITY, err,
               SENTINEL, out);
  err = NULL;
  r = idpkit_source_list(J("{\"cache\": \"%s\"}", wrong_cache), NULL, NULL, NULL, NULL, &out,
                         &err);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(out, "[]") == 0,
        "source_list after the wrong digest is empty: %s", msg(out, err));
  reset(&out, &err);

  /* a tarball with a `../evil` entry: UNSAFE_ARCHIVE, nothing outside the cache */
  char base[600], name[128], url[800], evil_digest[100], root[600], evil_cache[700];
  snprintf(base, sizeof base, "%s", artifact);
  char *slash = strrchr(base, '/');
  if (slash) *slash = '\0';
  snprintf(name, sizeof name, "c-%ld-%ld-traversal.tar.gz", (long)getpid(), (long)time(NULL));
  unsigned char tar[2048], gz[2048 + 64];
  size_t gz_len = gzip_stored(tar, tar_one(tar, "../evil"), gz);
  int served = serve(rig_dir, base, name, gz, gz_len, url, sizeof url, evil_digest,
                     sizeof evil_digest);
  CHECK(served, "serve %s from the rig's artifacts directory", name);
  snprintf(root, sizeof root, "%s/hostile", tmp);
  mkdir(root, 0700);
  snprintf(evil_cache, sizeof evil_cache, "%s/cache", root);
  r = idpkit_source_fetch_artifact(
      J("{\"url\": \"%s\", \"digest\": \"%s\", \"cache\": \"%s\", %s}", url, evil_digest,
        evil_cache, trust),
      NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_UNSAFE_ARCHIVE && err && strstr(idpkit_error_message(err), name),
        "a `../evil` entry -> %s naming the tarball: %s", idpkit_result_name(r), msg(NULL, err));
  expect_error("source_fetch_artifact of a tarball with ../evil", r,
               IDPKIT_RESULT_UNSAFE_ARCHIVE, err, SENTINEL, out);
  err = NULL;
  CHECK(count_named(root, "evil") == 0 && count_entries(root) == 1,
        "nothing named evil anywhere, nothing beside the cache (%d entries in %s)",
        count_entries(root), root);
  r = idpkit_source_list(J("{\"cache\": \"%s\"}", evil_cache), NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(out, "[]") == 0,
        "source_list after the hostile tarball is empty: %s", msg(out, err));
  reset(&out, &err);
  char served_path[800];
  snprintf(served_path, sizeof served_path, "%s/artifacts/%s", rig_dir, name);
  unlink(served_path);

  /* options are checked before anything happens: an unknown field is named */
  r = idpkit_source_fetch_artifact(
      J("{\"url\": \"%s\", \"digest\": \"%s\", \"cache\": \"%s\", \"max_download_bytes\": 1}",
        artifact, digest, cache),
      NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_INVALID_INPUT && err &&
            strstr(idpkit_error_message(err), "max_download_bytes") &&
            strstr(idpkit_error_message(err), "max_download_size"),
        "an unknown fetch option is named, with the allowed ones: %s", msg(NULL, err));
  expect_error("source_fetch_artifact with an unknown option", r, IDPKIT_RESULT_INVALID_INPUT,
               err, SENTINEL, out);
  err = NULL;
  r = idpkit_source_gc(J("{\"cache\": \"%s\", \"max_size\": 1}", cache), NULL, NULL, NULL, NULL,
                       &out, &err);
  CHECK(r == IDPKIT_RESULT_INVALID_INPUT && err && strstr(idpkit_error_message(err), "max_size"),
        "an unknown gc option is named: %s", msg(NULL, err));
  reset(&out, &err);
  r = idpkit_source_list("{\"cache_dir\": \"/nowhere\"}", NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_INVALID_INPUT && err && strstr(idpkit_error_message(err), "cache_dir"),
        "an unknown list option is named: %s", msg(NULL, err));
  reset(&out, &err);
  r = idpkit_source_fetch_artifact(
      J("{\"url\": \"%s\", \"digest\": \"md5:abc\", \"cache\": \"%s\"}", artifact, cache), NULL,
      NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_INVALID_INPUT && err && strstr(idpkit_error_message(err), "digest"),
        "a digest of an unknown algorithm names the field: %s", msg(NULL, err));
  reset(&out, &err);

  /* a raised cancel stops the fetch before it starts: nothing cached */
  char cancel_cache[600];
  snprintf(cancel_cache, sizeof cancel_cache, "%s/source-cache-cancelled", tmp);
  idpkit_cancel *cancel = idpkit_cancel_new();
  idpkit_cancel_cancel(cancel);
  r = idpkit_source_fetch_artifact(
      J("{\"url\": \"%s\", \"digest\": \"%s\", \"cache\": \"%s\", %s}", artifact, digest,
        cancel_cache, trust),
      NULL, NULL, NULL, cancel, &out, &err);
  expect_error("source_fetch_artifact with a raised cancel", r, IDPKIT_RESULT_CANCELLED, err,
               SENTINEL, out);
  err = NULL;
  idpkit_cancel_free(cancel);
  r = idpkit_source_list(J("{\"cache\": \"%s\"}", cancel_cache), NULL, NULL, NULL, NULL, &out,
                         &err);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(out, "[]") == 0, "nothing cached by the cancelled fetch: %s",
        msg(out, err));
  reset(&out, &err);
}

/* ---- git and Argo CD sources (the rig's git over HTTPS, its kube-apiserver) ---- */

/* Whether any regular file under `dir` (at any depth, symlinks not followed) holds `needle`:
 * what someone reading the cache from the disk would find. */
static int any_file_contains(const char *dir, const char *needle) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int found = 0;
  size_t n = strlen(needle);
  struct dirent *e;
  while (!found && (e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(sub, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      found = any_file_contains(sub, needle);
    } else if (S_ISREG(st.st_mode) && st.st_size > 0) {
      FILE *f = fopen(sub, "rb");
      char *buf = f ? malloc((size_t)st.st_size) : NULL;
      size_t got = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
      for (size_t i = 0; !found && n > 0 && i + n <= got; i++) found = memcmp(buf + i, needle, n) == 0;
      free(buf);
      if (f) fclose(f);
    }
  }
  closedir(d);
  return found;
}

/* The commit `rev` names in the rig's fixture repository (git rev-parse). */
static const char *fixture_commit(const char *git_dir, const char *rev, char out[41]) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "git --git-dir '%s' rev-parse '%s^{commit}'", git_dir, rev);
  out[0] = '\0';
  FILE *p = popen(cmd, "r");
  if (p) {
    if (fscanf(p, "%40s", out) != 1) out[0] = '\0';
    pclose(p);
  }
  return out;
}

/* One curl request to the rig's kube-apiserver, as tests/rig/up makes them. The bearer token
 * reaches curl in a config file (mode 0600, removed afterwards), never in its arguments.
 * `body` (or NULL) is sent as `content_type`; the answer goes to the file `answer` (or
 * nowhere). Returns the HTTP status, 0 when curl could not run. */
static int kube_curl(const char *tmp, const char *method, const char *api_path,
                     const char *content_type, const char *body, const char *answer) {
  const char *url = getenv("IDPKIT_RIG_KUBE_URL"), *token = getenv("IDPKIT_RIG_KUBE_TOKEN");
  const char *ca = getenv("IDPKIT_RIG_CA");
  if (!url || !token || !ca) return 0;
  char cfg[700], data[700], send[800] = "", cmd[3600];
  snprintf(cfg, sizeof cfg, "%s/kube-curl.curlrc", tmp);
  snprintf(data, sizeof data, "%s/kube-curl.json", tmp);
  int fd = open(cfg, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) return 0;
  fprintf(f, "header = \"Authorization: Bearer %s\"\n", token);
  fclose(f);
  if (body) {
    f = fopen(data, "w");
    if (!f) return 0;
    fputs(body, f);
    fclose(f);
    snprintf(send, sizeof send, "-H 'Content-Type: %s' --data-binary @'%s'", content_type, data);
  }
  snprintf(cmd, sizeof cmd,
           "curl -sS -m 30 -o '%s' -w '%%{http_code}' --cacert '%s' -K '%s' -X %s %s '%s%s'",
           answer ? answer : "/dev/null", ca, cfg, method, send, url, api_path);
  int code = 0;
  FILE *p = popen(cmd, "r");
  if (p) {
    if (fscanf(p, "%d", &code) != 1) code = 0;
    pclose(p);
  }
  unlink(cfg);
  if (body) unlink(data);
  return code;
}

int kube_apply(const char *tmp, const char *api_path, const char *body) {
  char path[1200];
  snprintf(path, sizeof path, "%s?fieldManager=idpkit-test&force=true", api_path);
  return kube_curl(tmp, "PATCH", path, "application/apply-patch+yaml", body, NULL);
}

int kube_get(const char *tmp, const char *api_path, char *buf, size_t len) {
  char answer[700];
  snprintf(answer, sizeof answer, "%s/kube-get.json", tmp);
  int code = kube_curl(tmp, "GET", api_path, NULL, NULL, answer);
  buf[0] = '\0';
  FILE *f = fopen(answer, "r");
  if (f) {
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
  }
  unlink(answer);
  return code;
}

struct warnings {
  int naming_chart; /* warnings that name the Helm source's repository */
};

static void on_warning(void *user_data, const char *event_json) {
  struct warnings *w = user_data;
  if (strstr(event_json, "\"type\":\"warning\"") && strstr(event_json, "charts.example.invalid"))
    w->naming_chart++;
}

void source_git_argo_tests(const char *tmp) {
  const char *git_url = rig_env("IDPKIT_RIG_GIT_FIXTURE_HTTPS", "nginx");
  const char *git_dir = rig_env("IDPKIT_RIG_GIT_FIXTURE_DIR", "nginx");
  const char *user = rig_env("IDPKIT_RIG_GIT_USER", "nginx");
  const char *password = rig_env("IDPKIT_RIG_GIT_PASSWORD", "nginx");
  const char *ca = rig_env("IDPKIT_RIG_CA", "nginx");
  const char *kubeconfig = rig_env("IDPKIT_RIG_KUBECONFIG", "kube-apiserver");
  const char *kube_url = rig_env("IDPKIT_RIG_KUBE_URL", "kube-apiserver");
  const char *kube_token = rig_env("IDPKIT_RIG_KUBE_TOKEN", "kube-apiserver");
  if (!git_url || !git_dir || !user || !password || !ca || !kubeconfig || !kube_url || !kube_token)
    return;
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r;
  char cache[600], prefix[700], path[800], got[800], file[900], develop[41], main_commit[41];
  char trust[700], opts[2048];
  snprintf(trust, sizeof trust, "\"ca_files\": [\"%s\"], \"no_platform_roots\": true, \"certs_d\": []",
           ca);
  fixture_commit(git_dir, "develop", develop);
  fixture_commit(git_dir, "main", main_commit);
  CHECK(strlen(develop) == 40 && strlen(main_commit) == 40,
        "git rev-parse develop and main in %s", git_dir);

  /* git over HTTPS with basic credentials: <cache>/git/<hash> holding develop's tree, then a hit */
  snprintf(cache, sizeof cache, "%s/git-cache", tmp);
  snprintf(opts, sizeof opts, "{\"url\": \"%s\", \"revision\": \"develop\", \"cache\": \"%s\", %s}",
           git_url, cache, trust);
  idpkit_credentials *creds = basic_credentials(user, password);
  r = idpkit_source_fetch_git(opts, creds, NULL, NULL, NULL, &out, &err);
  snprintf(prefix, sizeof prefix, "%s/git/", cache);
  json_string(out, "path", path, sizeof path);
  CHECK(r == IDPKIT_RESULT_OK && strncmp(path, prefix, strlen(prefix)) == 0 &&
            strstr(out, "\"hit\":false"),
        "source_fetch_git of develop with a username and password: a new entry under %s: %s",
        prefix, msg(out, err));
  snprintf(file, sizeof file, "%s/DEVELOP.md", path);
  CHECK(is_dir(path) && is_file(file), "the entry %s holds develop's DEVELOP.md", path);
  char want_rev[100];
  snprintf(want_rev, sizeof want_rev, "refs/heads/develop@sha1:%s", develop);
  CHECK(r == IDPKIT_RESULT_OK &&
            strcmp(json_string(out, "revision", got, sizeof got), want_rev) == 0 &&
            strcmp(json_string(out, "url", got, sizeof got), git_url) == 0 &&
            strcmp(json_string(out, "source", got, sizeof got), "git") == 0,
        "the result names the resolved revision %s and the URL: %s", want_rev, msg(out, err));
  reset(&out, &err);
  r = idpkit_source_fetch_git(opts, creds, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"hit\":true") &&
            strcmp(json_string(out, "path", got, sizeof got), path) == 0,
        "the second source_fetch_git is a hit on the same directory: %s", msg(out, err));
  reset(&out, &err);
  r = idpkit_call("source_fetch_git", NULL, opts, creds, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"hit\":true"),
        "idpkit_call source_fetch_git: %s", msg(out, err));
  reset(&out, &err);
  idpkit_credentials_free(creds);
  CHECK(!any_file_contains(cache, password), "the password is in no file of the cache");

  /* a wrong password: AUTH naming the URL, the password nowhere in the message */
  const char *wrong = "pw-wrong-c-4711";
  char wrong_cache[600];
  snprintf(wrong_cache, sizeof wrong_cache, "%s/git-cache-wrong", tmp);
  creds = basic_credentials(user, wrong);
  r = idpkit_source_fetch_git(
      J("{\"url\": \"%s\", \"revision\": \"develop\", \"cache\": \"%s\", %s}", git_url,
        wrong_cache, trust),
      creds, NULL, NULL, NULL, &out, &err);
  idpkit_credentials_free(creds);
  CHECK(r == IDPKIT_RESULT_AUTH && err && strstr(idpkit_error_message(err), git_url) &&
            !strstr(idpkit_error_message(err), wrong),
        "a wrong password -> %s naming the URL, not the password: %s", idpkit_result_name(r),
        msg(NULL, err));
  expect_error("source_fetch_git with a wrong password", r, IDPKIT_RESULT_AUTH, err, SENTINEL,
               out);
  err = NULL;

  /* An Argo CD Application with a git source and a Helm source, and a `repository` Secret in a
   * namespace of this test standing for Argo CD's own */
  char ns[64], app[64], body[4096], api[300];
  snprintf(ns, sizeof ns, "argocd-c-%ld", (long)getpid());
  snprintf(app, sizeof app, "c-argo-%ld", (long)getpid());
  snprintf(api, sizeof api, "/api/v1/namespaces/%s", ns);
  snprintf(body, sizeof body,
           "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"%s\"}}", ns);
  int code = kube_apply(tmp, api, body);
  CHECK(code == 200 || code == 201, "apply Namespace %s: HTTP %d", ns, code);
  snprintf(api, sizeof api, "/api/v1/namespaces/%s/secrets/fixture", ns);
  snprintf(body, sizeof body,
           "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"fixture\", "
           "\"namespace\": \"%s\", \"labels\": {\"argocd.argoproj.io/secret-type\": "
           "\"repository\"}}, \"stringData\": {\"url\": \"%s\", \"username\": \"%s\", "
           "\"password\": \"%s\"}}",
           ns, git_url, user, password);
  code = kube_apply(tmp, api, body);
  memset(body, 0, sizeof body);
  CHECK(code == 200 || code == 201, "apply Secret %s/fixture: HTTP %d", ns, code);
  snprintf(api, sizeof api, "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/%s", app);
  snprintf(body, sizeof body,
           "{\"apiVersion\": \"argoproj.io/v1alpha1\", \"kind\": \"Application\", "
           "\"metadata\": {\"name\": \"%s\", \"namespace\": \"argocd\"}, "
           "\"spec\": {\"project\": \"default\", \"sources\": ["
           "{\"repoURL\": \"%s\", \"path\": \"log\", \"targetRevision\": \"main\"}, "
           "{\"repoURL\": \"https://charts.example.invalid\", \"chart\": \"nginx\", "
           "\"targetRevision\": \"1.0.0\"}], "
           "\"destination\": {\"server\": \"https://kubernetes.default.svc\", \"namespace\": "
           "\"x\"}}}",
           app, git_url);
  code = kube_apply(tmp, api, body);
  CHECK(code == 200 || code == 201, "apply Application argocd/%s: HTTP %d", app, code);

  char argo_cache[600];
  snprintf(argo_cache, sizeof argo_cache, "%s/argo-cache", tmp);
  snprintf(opts, sizeof opts,
           "{\"namespace\": \"argocd\", \"name\": \"%s\", \"cluster\": {\"kubeconfig\": \"%s\"}, "
           "\"argocd_namespace\": \"%s\", \"cache\": \"%s\", %s}",
           app, kubeconfig, ns, argo_cache, trust);
  struct warnings warned = {0};
  r = idpkit_source_fetch_argo(opts, NULL, on_warning, &warned, NULL, &out, &err);
  char want[800], secret_name[200];
  snprintf(want, sizeof want, "Application argocd/%s", app);
  CHECK(r == IDPKIT_RESULT_OK &&
            strcmp(json_string(out, "application", got, sizeof got), want) == 0,
        "source_fetch_argo of %s: %s", want, msg(out, err));
  /* the first source: the synced-or-target commit, its `path` inside the entry, the Secret */
  snprintf(prefix, sizeof prefix, "%s/argocd-repo/argocd/%s/", argo_cache, app);
  json_string(out, "dir", path, sizeof path);
  size_t len = strlen(path);
  snprintf(file, sizeof file, "%s/001.txt", path);
  CHECK(r == IDPKIT_RESULT_OK && strncmp(path, prefix, strlen(prefix)) == 0 && len > 4 &&
            strcmp(path + len - 4, "/log") == 0 && is_file(file),
        "the git source's directory is <entry>/log under %s, holding 001.txt: %s", prefix, path);
  snprintf(secret_name, sizeof secret_name, "Secret %s/fixture (repository)", ns);
  CHECK(r == IDPKIT_RESULT_OK &&
            strcmp(json_string(out, "commit", got, sizeof got), main_commit) == 0 &&
            strcmp(json_string(out, "credentials", got, sizeof got), secret_name) == 0 &&
            strstr(out, "\"hit\":false"),
        "fetched main's commit %s with the credentials of %s: %s", main_commit, secret_name,
        msg(out, err));
  /* the second: a Helm repository, skipped and said so */
  const char *second = r == IDPKIT_RESULT_OK ? strstr(out, "\"index\":1") : NULL;
  CHECK(second && strstr(second, "\"fetched\":null") &&
            strstr(json_string(second, "skipped", got, sizeof got), "Helm") &&
            warned.naming_chart > 0,
        "the Helm source is skipped (fetched null, the reason given, a warning event): %s",
        msg(out, err));
  reset(&out, &err);
  r = idpkit_source_fetch_argo(opts, NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"hit\":true") &&
            strcmp(json_string(out, "dir", got, sizeof got), path) == 0,
        "the second source_fetch_argo is a hit on the same directory: %s", msg(out, err));
  reset(&out, &err);
  CHECK(!any_file_contains(argo_cache, password),
        "the Secret's password is in no file of the cache");

  /* an Application that is not there: NOT_FOUND naming it */
  r = idpkit_source_fetch_argo(
      J("{\"namespace\": \"argocd\", \"name\": \"c-no-such-app\", \"cluster\": {\"kubeconfig\": "
        "\"%s\"}, \"argocd_namespace\": \"%s\", \"cache\": \"%s\", %s}",
        kubeconfig, ns, argo_cache, trust),
      NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_NOT_FOUND && err && strstr(idpkit_error_message(err), "c-no-such-app"),
        "a missing Application -> %s naming it: %s", idpkit_result_name(r), msg(NULL, err));
  expect_error("source_fetch_argo of a missing Application", r, IDPKIT_RESULT_NOT_FOUND, err,
               SENTINEL, out);
  err = NULL;
}
