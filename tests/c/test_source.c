/*
 * GitOps sources through the C ABI against the rig's nginx (its /artifacts/ directory,
 * trusted through the rig CA alone): the fixture's tarball is fetched into a temporary cache
 * and then hit, a wrong digest is INTEGRITY with nothing cached, a tarball this test serves
 * with a `../evil` entry is UNSAFE_ARCHIVE with nothing written outside the cache, the cache
 * lists and collects its entry, and bad options are INVALID_INPUT naming the field.
 */
#define _GNU_SOURCE
#include "check.h"

#include <dirent.h>
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
