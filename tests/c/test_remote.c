/*
 * The C ABI against the rig, beyond push and pull: copy within and across registries,
 * the catalog, delete, login/logout into a temporary Docker config, trust check/add, and
 * the cluster's CA and Gitea credentials from the rig's kube-apiserver, then push, pull,
 * tags, copy and delete on Gitea trusting only that extracted certificate.
 */
#define _GNU_SOURCE
#include "check.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* "https://host:port" -> "host:port" */
static const char *host_of(const char *url) {
  const char *p = url ? strstr(url, "://") : NULL;
  return p ? p + 3 : url;
}

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Frees *out and *err and resets them for the next call. */
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

static void copy_catalog_delete(const idpkit_store *store, const char *fixture, const char *tmp,
                                const char *plain, const char *tls, const char *user,
                                const char *password, const char *ca) {
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r;
  char src[300], within[300], across[300], tls_repo[256], got[128], digest[128];
  long stamp = (long)getpid() * 100000L + (long)(time(NULL) % 100000);
  snprintf(src, sizeof src, "%s/ctest/copy-src-%ld:1", plain, stamp);
  snprintf(within, sizeof within, "%s/ctest/copy-dst-%ld:2", plain, stamp);
  snprintf(tls_repo, sizeof tls_repo, "%s/ctest/copy-tls-%ld", tls, stamp);
  snprintf(across, sizeof across, "%s:3", tls_repo);

  char *opts = build_options(fixture, src, 0);
  r = idpkit_build(store, opts, NULL, NULL, NULL, NULL, &out, &err);
  free(opts);
  json_string(out, "digest", digest, sizeof digest);
  reset(&out, &err);
  r = idpkit_push(store, J("{\"source\": \"%s\"}", src), NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && digest[0], "push %s for the copies: %s", src, msg(out, err));
  reset(&out, &err);

  /* within one registry: blobs are mounted, nothing is uploaded */
  r = idpkit_copy(J("{\"source\": \"%s\", \"destination\": \"%s\"}", src, within), NULL, NULL,
                  NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"blobs_mounted\":2") &&
            strstr(out, "\"bytes_uploaded\":0") &&
            strcmp(json_string(out, "digest", got, sizeof got), digest) == 0,
        "copy within a registry mounts the blobs: %s", msg(out, err));
  reset(&out, &err);

  /* across registries: the same manifest digest lands on the TLS registry */
  idpkit_credentials *creds = basic_credentials(user, password);
  r = idpkit_copy(J("{\"source\": \"%s\", \"destination\": \"%s\", \"ca_files\": [\"%s\"]}", src,
                    across, ca),
                  creds, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"blobs_uploaded\":2") &&
            strcmp(json_string(out, "digest", got, sizeof got), digest) == 0,
        "copy across registries keeps the digest: %s", msg(out, err));
  reset(&out, &err);
  r = idpkit_list_tags(J("{\"repository\": \"%s\", \"ca_files\": [\"%s\"]}", tls_repo, ca), creds,
                       NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(out, "[\"3\"]") == 0, "the copy is tagged: %s",
        msg(out, err));
  reset(&out, &err);

  /* and back to the plain registry: the TLS registry's login is the source credential; the
   * destination credential is never sent to the source (no stored login: AUTH) */
  char back[300];
  snprintf(back, sizeof back, "%s/ctest/copy-back-%ld:4", plain, stamp);
  const char *copy_back = J("{\"source\": \"%s\", \"destination\": \"%s\", \"ca_files\": [\"%s\"], "
                            "\"attempts\": 1}",
                            across, back, ca);
  char docker[512];
  snprintf(docker, sizeof docker, "%s/docker-copy", tmp);
  setenv("DOCKER_CONFIG", docker, 1);
  unsetenv("REGISTRY_AUTH_FILE");
  r = idpkit_copy(copy_back, creds, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_AUTH && out == SENTINEL,
        "copy from the TLS registry with only a destination credential -> %s: %s",
        idpkit_result_name(r), msg(out, err));
  reset(&out, &err);
  idpkit_credentials *source = idpkit_credentials_new();
  r = idpkit_credentials_set_source_basic(source, user, password, &err);
  CHECK(r == IDPKIT_RESULT_OK, "credentials_set_source_basic");
  reset(&out, &err);
  r = idpkit_copy(copy_back, source, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(json_string(out, "digest", got, sizeof got), digest) == 0,
        "copy from the TLS registry with the source credential keeps the digest: %s",
        msg(out, err));
  reset(&out, &err);
  idpkit_credentials_free(source);
  unsetenv("DOCKER_CONFIG");
  idpkit_credentials_free(creds);

  /* a raised cancel stops a copy before anything moves */
  idpkit_cancel *cancel = idpkit_cancel_new();
  idpkit_cancel_cancel(cancel);
  r = idpkit_copy(J("{\"source\": \"%s\", \"destination\": \"%s\"}", src, within), NULL, NULL,
                  NULL, cancel, &out, &err);
  expect_error("copy with a raised cancel", r, IDPKIT_RESULT_CANCELLED, err, SENTINEL, out);
  err = NULL;
  idpkit_cancel_free(cancel);

  /* the catalog lists both repositories */
  char repo_src[200], repo_dst[200];
  snprintf(repo_src, sizeof repo_src, "\"ctest/copy-src-%ld\"", stamp);
  snprintf(repo_dst, sizeof repo_dst, "\"ctest/copy-dst-%ld\"", stamp);
  r = idpkit_catalog(J("{\"host\": \"%s\"}", plain), NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, repo_src) && strstr(out, repo_dst),
        "catalog of %s lists %s and %s", plain, repo_src, repo_dst);
  reset(&out, &err);

  /* delete by tag: the digest comes back (a JSON string), and the tag is gone */
  char quoted[140];
  snprintf(quoted, sizeof quoted, "\"%s\"", digest);
  const char *del = J("{\"reference\": \"%s\"}", within);
  r = idpkit_delete(del, NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(out, quoted) == 0, "delete %s -> %s", within,
        msg(out, err));
  reset(&out, &err);
  r = idpkit_delete(del, NULL, NULL, NULL, NULL, &out, &err);
  expect_error("delete of a deleted tag", r, IDPKIT_RESULT_NOT_FOUND, err, SENTINEL, out);
  err = NULL;
  r = idpkit_delete(J("{\"reference\": \"%s\", \"jobz\": 1}", within), NULL, NULL, NULL, NULL, &out,
                    &err);
  expect_error("delete with an unknown option", r, IDPKIT_RESULT_INVALID_INPUT, err, SENTINEL,
               out);
  err = NULL;
  r = idpkit_catalog(J("{\"host\": \"%s\"}", plain), NULL, NULL, NULL, NULL, NULL, &err);
  expect_error("catalog with a NULL output", r, IDPKIT_RESULT_NULL_ARGUMENT, err, SENTINEL,
               out);
  err = NULL;
}

static void login_logout(const char *tmp, const char *tls, const char *user,
                         const char *password, const char *ca) {
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r;
  char docker[512], config[600], tls_opts[600], wrong[200], repo[256];
  snprintf(docker, sizeof docker, "%s/docker", tmp);
  snprintf(config, sizeof config, "%s/config.json", docker);
  /* members of the options object every call below shares */
  snprintf(tls_opts, sizeof tls_opts, "\"ca_files\": [\"%s\"], \"attempts\": 1", ca);
  snprintf(wrong, sizeof wrong, "wrong-%s-c-login", password);
  snprintf(repo, sizeof repo, "%s/ctest/login", tls);
  /* never the user's own ~/.docker */
  setenv("DOCKER_CONFIG", docker, 1);
  unsetenv("REGISTRY_AUTH_FILE");

  const char *login = J("{\"host\": \"%s\", %s}", tls, tls_opts);
  const char *tags = J("{\"repository\": \"%s\", %s}", repo, tls_opts);
  const char *logout = J("{\"host\": \"%s\"}", tls);
  idpkit_credentials *bad = basic_credentials(user, wrong);
  r = idpkit_login(login, bad, NULL, NULL, NULL, &out, &err);
  idpkit_credentials_free(bad);
  CHECK(r == IDPKIT_RESULT_AUTH && err && strstr(idpkit_error_message(err), tls) &&
            strstr(idpkit_error_message(err), user) &&
            !strstr(idpkit_error_message(err), "c-login") && !file_exists(config),
        "login with a wrong password -> %s, names registry and user, stores nothing: %s",
        idpkit_result_name(r), msg(NULL, err));
  reset(&out, &err);

  idpkit_credentials *good = basic_credentials(user, password);
  r = idpkit_login(login, good, NULL, NULL, NULL, &out, &err);
  idpkit_credentials_free(good);
  char stored[600];
  CHECK(r == IDPKIT_RESULT_OK && strcmp(json_string(out, "stored_in", stored, sizeof stored),
                                        config) == 0 && file_exists(config),
        "login stores the credentials in $DOCKER_CONFIG: %s", msg(out, err));
  reset(&out, &err);

  /* later calls find them without being given any */
  r = idpkit_list_tags(tags, NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK || r == IDPKIT_RESULT_NOT_FOUND,
        "a call without credentials uses the login: %s", idpkit_result_name(r));
  reset(&out, &err);

  idpkit_credentials *empty_user = basic_credentials("", password);
  r = idpkit_login(login, empty_user, NULL, NULL, NULL, &out, &err);
  idpkit_credentials_free(empty_user);
  expect_error("login with an empty username", r, IDPKIT_RESULT_INVALID_INPUT, err, SENTINEL,
               out);
  err = NULL;
  r = idpkit_login(login, NULL, NULL, NULL, NULL, &out, &err);
  expect_error("login without credentials", r, IDPKIT_RESULT_INVALID_INPUT, err, SENTINEL, out);
  err = NULL;

  /* logout's result is whether there were credentials to remove: true, then false */
  r = idpkit_logout(logout, NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(out, "true") == 0, "logout removes the credentials");
  reset(&out, &err);
  r = idpkit_logout(logout, NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(out, "false") == 0, "a second logout finds none");
  reset(&out, &err);
  r = idpkit_list_tags(tags, NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_AUTH, "after logout a call without credentials is AUTH: %s",
        idpkit_result_name(r));
  reset(&out, &err);
  unsetenv("DOCKER_CONFIG");
}

static void trust(const char *tmp, const char *tls, const char *ca, const char *expired,
                  const char *fixture) {
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r;
  char json[700], certs_d[512], want[700];

  /* options: the host and, as members, the trust */
  snprintf(json, sizeof json, "\"ca_files\": [\"%s\"]", ca);
  r = idpkit_trust_check(J("{\"host\": \"%s\", %s}", tls, json), NULL, NULL, NULL, NULL, &out,
                         &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"verdict\":\"trusted\"") &&
            strstr(out, "\"trusted\":true") && strstr(out, "\"chain\":[{"),
        "trust_check %s with the rig's CA: %s", tls, msg(out, err));
  reset(&out, &err);

  const char *alone = "\"certs_d\": [], \"no_platform_roots\": true";
  r = idpkit_trust_check(J("{\"host\": \"%s\", %s}", tls, alone), NULL, NULL, NULL, NULL, &out,
                         &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"verdict\":\"unknown_issuer\"") &&
            strstr(out, "\"trusted\":false") && strstr(out, "idpkit trust"),
        "trust_check without the CA says unknown_issuer and the fix: %s", msg(out, err));
  reset(&out, &err);

  r = idpkit_trust_check(J("{\"host\": \"%s\", %s}", expired, json), NULL, NULL, NULL, NULL, &out,
                         &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"verdict\":\"expired\""),
        "trust_check %s says expired: %s", expired, msg(out, err));
  reset(&out, &err);

  /* add: the CA lands in CERTS_D/HOST/ca.crt and the host is trusted from there */
  snprintf(certs_d, sizeof certs_d, "%s/certs.d", tmp);
  snprintf(want, sizeof want, "%s/%s/ca.crt", certs_d, tls);
  char quoted[720];
  snprintf(quoted, sizeof quoted, "\"%s\"", want); /* the result is a JSON string */
  r = idpkit_trust_add(J("{\"host\": \"%s\", \"ca_file\": \"%s\", \"certs_d\": \"%s\"}", tls, ca,
                         certs_d),
                       NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(out, quoted) == 0 && file_exists(want),
        "trust_add writes %s: %s", want, msg(out, err));
  reset(&out, &err);
  snprintf(json, sizeof json, "\"certs_d\": [\"%s\"], \"no_platform_roots\": true", certs_d);
  r = idpkit_trust_check(J("{\"host\": \"%s\", %s}", tls, json), NULL, NULL, NULL, NULL, &out,
                         &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"trusted\":true"),
        "trust_check trusts the added CA: %s", msg(out, err));
  reset(&out, &err);

  char not_a_cert[600];
  snprintf(not_a_cert, sizeof not_a_cert, "%s/app/run.sh", fixture);
  r = idpkit_trust_add(J("{\"host\": \"%s\", \"ca_file\": \"%s\", \"certs_d\": \"%s\"}", tls,
                         not_a_cert, certs_d),
                       NULL, NULL, NULL, NULL, &out, &err);
  expect_error("trust_add of a file that is no certificate", r, IDPKIT_RESULT_INVALID_INPUT,
               err, SENTINEL, out);
  err = NULL;
  r = idpkit_trust_check(J("{\"host\": \"%s\", \"ca_file\": []}", tls), NULL, NULL, NULL, NULL,
                         &out, &err);
  expect_error("trust_check with an unknown field", r, IDPKIT_RESULT_INVALID_INPUT, err,
               SENTINEL, out);
  err = NULL;
}

static void *cancel_later(void *cancel) {
  struct timespec pause = {0, 300 * 1000 * 1000};
  nanosleep(&pause, NULL);
  idpkit_cancel_cancel(cancel);
  return NULL;
}

/* A host that accepts the connection and never answers the handshake: without the cancel
 * handle trust_check would wait out its 10 s timeout. */
static void trust_check_cancelled(void) {
  int silent = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  CHECK(silent >= 0 && bind(silent, (struct sockaddr *)&addr, len) == 0 &&
            listen(silent, 4) == 0 && getsockname(silent, (struct sockaddr *)&addr, &len) == 0,
        "a silent listener on loopback");
  char host[64];
  snprintf(host, sizeof host, "127.0.0.1:%d", ntohs(addr.sin_port));

  idpkit_cancel *cancel = idpkit_cancel_new();
  pthread_t canceller;
  pthread_create(&canceller, NULL, cancel_later, cancel);
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r = idpkit_trust_check(J("{\"host\": \"%s\"}", host), NULL, NULL, NULL, cancel,
                                       &out, &err);
  clock_gettime(CLOCK_MONOTONIC, &end);
  pthread_join(canceller, NULL);
  double secs = (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
  CHECK(r == IDPKIT_RESULT_CANCELLED && out == SENTINEL && secs < 3.0,
        "a cancelled trust_check of a silent host stops at once (%.2f s, result %d)", secs, r);
  idpkit_error_free(err);
  err = NULL;
  /* Cancelled stays cancelled: the next call with the handle fails before connecting. */
  r = idpkit_trust_extract(NULL, NULL, NULL, NULL, cancel, &out, &err);
  CHECK(r == IDPKIT_RESULT_CANCELLED, "trust_extract with a cancelled handle: %d", r);
  idpkit_error_free(err);
  idpkit_cancel_free(cancel);
  close(silent);
}

/* The whole file at `path` (NUL-terminated, *len its size), or NULL; free() it. */
static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t cap = 0, n = 0, got;
  do {
    if (n + 4096 + 1 > cap) {
      cap = (n + 4096 + 1) * 2;
      char *more = realloc(buf, cap);
      if (!more) break;
      buf = more;
    }
    got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
  } while (got > 0);
  fclose(f);
  if (buf) buf[n] = '\0';
  *len = n;
  return buf;
}

/* Whether the JSON array of strings `list` holds `item`. */
static int has_tag(const char *list, const char *item) {
  char quoted[128];
  snprintf(quoted, sizeof quoted, "\"%s\"", item);
  return list && list != SENTINEL && strstr(list, quoted) != NULL;
}

/*
 * idpbuilder's way to Gitea: the cluster's kube-apiserver holds the one self-signed
 * certificate nginx serves for Gitea (idpbuilder's CA:TRUE certificate as the leaf) and
 * Gitea's credentials. Untrusted before `trust extract`; afterwards, trusting only the
 * extracted file and logged in from the cluster: push, pull, tags, copy and delete.
 */
static void cluster(const idpkit_store *store, const char *fixture, const char *tmp,
                    const char *kubeconfig, const char *gitea, const char *gitea_user,
                    const char *gitea_ca) {
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r;
  char certs_d[512], json[1200], opts[700], docker[512], got[600], digest[128];
  snprintf(certs_d, sizeof certs_d, "%s/cluster-certs.d", tmp);
  snprintf(json, sizeof json, "{\"kubeconfig\": \"%s\", \"host\": \"%s\", \"certs_d\": \"%s\"}",
           kubeconfig, gitea, certs_d);
  snprintf(docker, sizeof docker, "%s/docker-cluster", tmp);
  setenv("DOCKER_CONFIG", docker, 1); /* never the user's own ~/.docker */
  unsetenv("REGISTRY_AUTH_FILE");

  /* an image for Gitea: HOST/<lower-case user>/NAME:v1 */
  char owner[128], repo[400], ref[450], copy_ref[450];
  size_t i;
  for (i = 0; gitea_user[i] && i + 1 < sizeof owner; i++)
    owner[i] = (char)tolower((unsigned char)gitea_user[i]);
  owner[i] = '\0';
  long stamp = (long)getpid() * 100000L + (long)(time(NULL) % 100000);
  snprintf(repo, sizeof repo, "%s/%s/ctest-cluster-%ld", gitea, owner, stamp);
  snprintf(ref, sizeof ref, "%s:v1", repo);
  snprintf(copy_ref, sizeof copy_ref, "%s:v1-copy", repo);
  char *build = build_options(fixture, ref, 0);
  r = idpkit_build(store, build, NULL, NULL, NULL, NULL, &out, &err);
  free(build);
  json_string(out, "digest", digest, sizeof digest);
  CHECK(r == IDPKIT_RESULT_OK && digest[0], "build %s for Gitea: %s", ref, msg(out, err));
  reset(&out, &err);

  /* before the extraction nothing trusts Gitea's self-signed certificate */
  const char *nothing = "\"certs_d\": [], \"no_platform_roots\": true, \"attempts\": 1";
  r = idpkit_push(store, J("{\"source\": \"%s\", %s}", ref, nothing), NULL, NULL, NULL, NULL, &out,
                  &err);
  CHECK(r == IDPKIT_RESULT_UNTRUSTED && err &&
            idpkit_error_result(err) == IDPKIT_RESULT_UNTRUSTED &&
            strstr(idpkit_error_message(err), "self-signed") && out == SENTINEL,
        "push to %s before trust extract -> %s: %s", gitea, idpkit_result_name(r),
        msg(NULL, err));
  reset(&out, &err);
  r = idpkit_trust_check(
      J("{\"host\": \"%s\", \"certs_d\": [], \"no_platform_roots\": true}", gitea), NULL, NULL,
      NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"trusted\":false") &&
            strstr(out, "\"self_signed\":true") && strstr(out, "self-signed") &&
            strstr(out, "idpkit trust extract"),
        "trust_check %s before trust extract: not trusted, self-signed, says the fix: %s",
        gitea, msg(out, err));
  reset(&out, &err);

  /* extract: exactly the certificate nginx serves for Gitea, from the cluster */
  r = idpkit_trust_extract(json, NULL, NULL, NULL, NULL, &out, &err);
  char path[700];
  snprintf(path, sizeof path, "%s/%s/ca.crt", certs_d, gitea);
  CHECK(r == IDPKIT_RESULT_OK &&
            strcmp(json_string(out, "source", got, sizeof got), "default/idpbuilder-cert ca.crt") ==
                0 &&
            strcmp(json_string(out, "path", got, sizeof got), path) == 0 && file_exists(path),
        "trust_extract installs idpbuilder's CA at %s: %s", path, msg(out, err));
  reset(&out, &err);
  size_t have_len = 0, want_len = 0;
  char *have = read_all(path, &have_len);
  char *want = read_all(gitea_ca, &want_len);
  CHECK(have && want && want_len > 0 && have_len == want_len &&
            memcmp(have, want, want_len) == 0,
        "the extracted %s is byte for byte %s (%zu and %zu bytes)", path, gitea_ca, have_len,
        want_len);
  free(have);
  free(want);

  /* trusting only the extracted file: Gitea is trusted, as a pinned self-signed anchor */
  /* the trust every call below shares: members of its options object */
  snprintf(opts, sizeof opts, "\"certs_d\": [\"%s\"], \"no_platform_roots\": true", certs_d);
  r = idpkit_trust_check(J("{\"host\": \"%s\", %s}", gitea, opts), NULL, NULL, NULL, NULL, &out,
                         &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"verdict\":\"trusted\"") &&
            strstr(out, "\"trusted\":true"),
        "trust_check %s with the extracted CA alone: %s", gitea, msg(out, err));
  reset(&out, &err);

  /* the login comes from the cluster */
  r = idpkit_login_from_cluster(J("{\"host\": \"%s\", \"cluster\": %s, %s}", gitea, json, opts), NULL,
                                NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK &&
            strcmp(json_string(out, "username", got, sizeof got), gitea_user) == 0,
        "login_from_cluster %s as %s: %s", gitea, gitea_user, msg(out, err));
  reset(&out, &err);

  /* push, with the extracted trust and the stored cluster login (no credentials passed) */
  r = idpkit_push(store, J("{\"source\": \"%s\", %s}", ref, opts), NULL, NULL, NULL, NULL, &out,
                  &err);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(json_string(out, "digest", got, sizeof got), digest) == 0,
        "push %s -> %s: %s", ref, digest, msg(out, err));
  reset(&out, &err);

  /* pull it back into another store: the same manifest digest */
  char pulled_dir[512];
  snprintf(pulled_dir, sizeof pulled_dir, "%s/cluster-pulled", tmp);
  idpkit_store *other = NULL;
  r = idpkit_store_new(pulled_dir, &other, &err);
  CHECK(r == IDPKIT_RESULT_OK && other, "store %s for the pull", pulled_dir);
  reset(&out, &err);
  if (other) {
    r = idpkit_pull(other, J("{\"reference\": \"%s\", %s}", ref, opts), NULL, NULL, NULL, NULL,
                    &out, &err);
    CHECK(r == IDPKIT_RESULT_OK &&
              strcmp(json_string(out, "digest", got, sizeof got), digest) == 0,
          "pull %s back -> %s: %s", ref, digest, msg(out, err));
    reset(&out, &err);
    idpkit_store_free(other);
  }

  /* tags, a copy under a second tag of the same repository, tags again */
  r = idpkit_list_tags(J("{\"repository\": \"%s\", %s}", repo, opts), NULL, NULL, NULL, NULL,
                       &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && has_tag(out, "v1") && !has_tag(out, "v1-copy"),
        "list_tags %s holds v1: %s", repo, msg(out, err));
  reset(&out, &err);
  r = idpkit_copy(J("{\"source\": \"%s\", \"destination\": \"%s\", %s}", ref, copy_ref, opts),
                  NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(json_string(out, "digest", got, sizeof got), digest) == 0 &&
            strstr(out, "\"bytes_uploaded\":0"),
        "copy %s -> %s keeps the digest, uploads nothing: %s", ref, copy_ref, msg(out, err));
  reset(&out, &err);
  r = idpkit_list_tags(J("{\"repository\": \"%s\", %s}", repo, opts), NULL, NULL, NULL, NULL,
                       &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && has_tag(out, "v1") && has_tag(out, "v1-copy"),
        "list_tags %s holds v1 and v1-copy: %s", repo, msg(out, err));
  reset(&out, &err);

  /* delete the copy's manifest: its digest comes back and the tag is gone */
  char quoted[140];
  snprintf(quoted, sizeof quoted, "\"%s\"", digest); /* the result is a JSON string */
  /* refused without force: v1 shares the manifest and would go too */
  r = idpkit_delete(J("{\"reference\": \"%s\", %s}", copy_ref, opts), NULL, NULL, NULL, NULL, &out,
                    &err);
  CHECK(r == IDPKIT_RESULT_CONFLICT && err && strstr(idpkit_error_message(err), "also tagged v1"),
        "delete %s without force -> %s", copy_ref, msg(out, err));
  reset(&out, &err);
  r = idpkit_delete(J("{\"reference\": \"%s\", \"force\": true, %s}", copy_ref, opts), NULL, NULL,
                    NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(out, quoted) == 0, "delete %s -> %s: %s", copy_ref,
        digest, msg(out, err));
  reset(&out, &err);
  r = idpkit_delete(J("{\"reference\": \"%s\", %s}", copy_ref, opts), NULL, NULL, NULL, NULL, &out,
                    &err);
  expect_error("delete of the deleted copy", r, IDPKIT_RESULT_NOT_FOUND, err, SENTINEL, out);
  err = NULL;
  /* a manifest delete is by digest: Gitea drops the manifest with every tag on it (v1 too) */
  r = idpkit_list_tags(J("{\"repository\": \"%s\", %s}", repo, opts), NULL, NULL, NULL, NULL,
                       &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && !has_tag(out, "v1-copy") && !has_tag(out, "v1"),
        "list_tags %s after the delete holds neither v1-copy nor v1: %s", repo, msg(out, err));
  reset(&out, &err);

  r = idpkit_logout(J("{\"host\": \"%s\"}", gitea), NULL, NULL, NULL, NULL, &out, NULL);
  CHECK(r == IDPKIT_RESULT_OK && strcmp(out, "true") == 0, "logout of the cluster login");
  reset(&out, &err);
  unsetenv("DOCKER_CONFIG");

  snprintf(json, sizeof json, "{\"kubeconfig\": \"%s\", \"context\": \"nope\"}", kubeconfig);
  r = idpkit_trust_extract(json, NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_NOT_FOUND && err && strstr(idpkit_error_message(err), "\"nope\"") &&
            out == SENTINEL,
        "an unknown kubeconfig context is NOT_FOUND, named: %d %s", (int)r, msg(NULL, err));
  reset(&out, &err);
  r = idpkit_trust_extract("{\"kube_config\": \"x\"}", NULL, NULL, NULL, NULL, &out, &err);
  expect_error("trust_extract with an unknown field", r, IDPKIT_RESULT_INVALID_INPUT, err,
               SENTINEL, out);
}

/*
 * A TOKEN credential over TLS: Gitea's registry takes bearer tokens from its /v2/token
 * endpoint (a personal access token is not one), so the test trades the rig's Gitea token for
 * one there (curl reads user:token from a 0600 config file, never from its command line), then
 * pushes and lists with idpkit_credentials_set_token and no stored login. A wrong token is
 * AUTH and never shown.
 */
static void token_push(const idpkit_store *store, const char *fixture, const char *tmp,
                       const char *gitea, const char *gitea_user, const char *gitea_ca,
                       const char *gitea_token) {
  char cfg[512], cmd[1600], answer[4096] = "", token[2048];
  snprintf(cfg, sizeof cfg, "%s/curl-gitea.cfg", tmp);
  FILE *f = fopen(cfg, "w");
  if (f) {
    chmod(cfg, 0600);
    fprintf(f, "user = \"%s:%s\"\n", gitea_user, gitea_token);
    fclose(f);
  }
  snprintf(cmd, sizeof cmd,
           "curl -sS --fail --cacert '%s' -K '%s' "
           "'https://%s/v2/token?service=container_registry&scope=*'",
           gitea_ca, cfg, gitea);
  FILE *p = popen(cmd, "r");
  size_t used = p ? fread(answer, 1, sizeof answer - 1, p) : 0;
  answer[used] = '\0';
  int status = p ? pclose(p) : -1;
  unlink(cfg);
  json_string(answer, "token", token, sizeof token);
  CHECK(status == 0 && token[0], "a registry token from Gitea's /v2/token (%zu bytes)",
        strlen(token));
  if (!token[0]) return;

  char docker[512], owner[128], repo[400], ref[450], digest[128], got[128];
  snprintf(docker, sizeof docker, "%s/docker-token", tmp);
  setenv("DOCKER_CONFIG", docker, 1); /* no stored login: only the token can authorize */
  unsetenv("REGISTRY_AUTH_FILE");
  size_t i;
  for (i = 0; gitea_user[i] && i + 1 < sizeof owner; i++)
    owner[i] = (char)tolower((unsigned char)gitea_user[i]);
  owner[i] = '\0';
  long stamp = (long)getpid() * 100000L + (long)(time(NULL) % 100000);
  snprintf(repo, sizeof repo, "%s/%s/ctest-token-%ld", gitea, owner, stamp);
  snprintf(ref, sizeof ref, "%s:v1", repo);
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  char *build = build_options(fixture, ref, 0);
  idpkit_result r = idpkit_build(store, build, NULL, NULL, NULL, NULL, &out, &err);
  free(build);
  json_string(out, "digest", digest, sizeof digest);
  reset(&out, &err);
  const char *trust = J("\"ca_files\": [\"%s\"], \"attempts\": 1", gitea_ca);

  idpkit_credentials *creds = idpkit_credentials_new();
  r = idpkit_credentials_set_token(creds, token, &err);
  CHECK(r == IDPKIT_RESULT_OK, "credentials_set_token");
  reset(&out, &err);
  r = idpkit_push(store, J("{\"source\": \"%s\", %s}", ref, trust), creds, NULL, NULL, NULL, &out,
                  &err);
  CHECK(r == IDPKIT_RESULT_OK && digest[0] &&
            strcmp(json_string(out, "digest", got, sizeof got), digest) == 0,
        "push %s over TLS with a token -> %s: %s", ref, digest, msg(out, err));
  reset(&out, &err);
  r = idpkit_list_tags(J("{\"repository\": \"%s\", %s}", repo, trust), creds, NULL, NULL, NULL,
                       &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && has_tag(out, "v1"), "list_tags %s with the token: %s", repo,
        msg(out, err));
  reset(&out, &err);

  char wrong[2100];
  snprintf(wrong, sizeof wrong, "%.20s-c-token-wrong", token);
  r = idpkit_credentials_set_token(creds, wrong, NULL);
  r = idpkit_push(store, J("{\"source\": \"%s\", %s}", ref, trust), creds, NULL, NULL, NULL, &out,
                  &err);
  CHECK(r == IDPKIT_RESULT_AUTH && err && !strstr(idpkit_error_message(err), "c-token-wrong") &&
            out == SENTINEL,
        "push with a wrong token -> %s, the token never shown: %s", idpkit_result_name(r),
        msg(NULL, err));
  reset(&out, &err);
  idpkit_credentials_free(creds);
  unsetenv("DOCKER_CONFIG");
}

/* Skips the JSON value at p (the library wrote it: no validation) and returns what follows. */
static const char *skip_json(const char *p) {
  int depth = 0;
  do {
    if (*p == '"') {
      for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && p[1]) p++;
      if (*p) p++;
    } else if (*p == '{' || *p == '[') {
      depth++;
      p++;
    } else if (*p == '}' || *p == ']') {
      depth--;
      p++;
    } else if (depth == 0) { /* a scalar at the top: up to the next delimiter */
      while (*p && *p != ',' && *p != '}' && *p != ']') p++;
    } else {
      p++;
    }
  } while (*p && depth > 0);
  return p;
}

/* The raw text of the top-level member "key" of a JSON object, or NULL. Only the top level
 * counts: a manifest holds a "config" descriptor of its own. */
static const char *json_member(const char *json, const char *key, size_t *len) {
  const char *p = (json && json != SENTINEL) ? strchr(json, '{') : NULL;
  if (!p) return NULL;
  p++;
  size_t klen = strlen(key);
  for (;;) {
    while (*p == ',' || isspace((unsigned char)*p)) p++;
    if (*p != '"') return NULL;
    const char *name = p + 1;
    p = skip_json(p);
    int match = (size_t)(p - name - 1) == klen && strncmp(name, key, klen) == 0;
    while (*p == ':' || isspace((unsigned char)*p)) p++;
    const char *value = p;
    p = skip_json(p);
    if (match) {
      *len = (size_t)(p - value);
      return value;
    }
  }
}

/* The two members are present in both documents and byte for byte the same (the library
 * writes both from the same typed structures). */
static int same_member(const char *a, const char *b, const char *key) {
  size_t alen = 0, blen = 0;
  const char *av = json_member(a, key, &alen), *bv = json_member(b, key, &blen);
  return av && bv && alen > 2 && alen == blen && memcmp(av, bv, alen) == 0;
}

static int member_is(const char *json, const char *key, const char *want) {
  size_t len = 0;
  const char *v = json_member(json, key, &len);
  return v && len == strlen(want) && strncmp(v, want, len) == 0;
}

/* inspect_remote reads a pushed image's manifest and config straight from the registry: no
 * store is involved (the call takes none), and what it reads is what the local store's
 * inspect shows. Without credentials the TLS registry refuses: AUTH, no secret shown. */
static void inspect_remote(const idpkit_store *store, const char *fixture, const char *tmp,
                           const char *tls, const char *user, const char *password,
                           const char *ca) {
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r;
  char ref[300], digest[128], got[300];
  long stamp = (long)getpid() * 100000L + (long)(time(NULL) % 100000);
  snprintf(ref, sizeof ref, "%s/ctest/inspect-remote-%ld:1", tls, stamp);
  const char *trust = J("\"ca_files\": [\"%s\"], \"attempts\": 1", ca);

  char *build = build_options(fixture, ref, 0);
  r = idpkit_build(store, build, NULL, NULL, NULL, NULL, &out, &err);
  free(build);
  json_string(out, "digest", digest, sizeof digest);
  reset(&out, &err);
  idpkit_credentials *creds = basic_credentials(user, password);
  r = idpkit_push(store, J("{\"source\": \"%s\", %s}", ref, trust), creds, NULL, NULL, NULL, &out,
                  &err);
  CHECK(r == IDPKIT_RESULT_OK && digest[0] &&
            strcmp(json_string(out, "digest", got, sizeof got), digest) == 0,
        "push %s for inspect_remote -> %s: %s", ref, digest, msg(out, err));
  reset(&out, &err);
  char *local = NULL;
  r = idpkit_inspect(store, J("{\"reference\": \"%s\"}", ref), NULL, NULL, NULL, NULL, &local,
                     &err);
  CHECK(r == IDPKIT_RESULT_OK && local, "inspect %s in the store: %s", ref, msg(local, err));
  reset(&out, &err);

  const char *remote_opts = J("{\"reference\": \"%s\", %s}", ref, trust);
  r = idpkit_inspect_remote(remote_opts, creds, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK &&
            strcmp(json_string(out, "reference", got, sizeof got), ref) == 0 &&
            strcmp(json_string(out, "digest", got, sizeof got), digest) == 0,
        "inspect_remote %s without a store -> the pushed digest %s: %s", ref, digest,
        msg(out, err));
  CHECK(r == IDPKIT_RESULT_OK && same_member(out, local, "manifest") &&
            same_member(out, local, "config"),
        "inspect_remote's manifest and config are the store's inspect's");
  CHECK(r == IDPKIT_RESULT_OK && member_is(out, "index_digest", "null") &&
            member_is(out, "index", "null") && member_is(out, "platforms", "[]") &&
            strcmp(json_string(out, "media_type", got, sizeof got),
                   "application/vnd.oci.image.manifest.v1+json") == 0,
        "an image manifest: no index_digest, no platforms, its media type: %s", msg(out, err));
  {
    /* the typed documents keep the image spec's own names (the header's ImageManifest) */
    size_t mlen = 0, clen = 0;
    const char *manifest = r == IDPKIT_RESULT_OK ? json_member(out, "manifest", &mlen) : NULL;
    const char *config = r == IDPKIT_RESULT_OK ? json_member(out, "config", &clen) : NULL;
    const char *version = "\"schemaVersion\":2", *layers = "\"layers\":[{\"mediaType\":",
               *rootfs = "\"rootfs\":{\"type\":\"layers\"";
    CHECK(manifest && memmem(manifest, mlen, version, strlen(version)) &&
              memmem(manifest, mlen, layers, strlen(layers)) && config &&
              memmem(config, clen, rootfs, strlen(rootfs)),
          "inspect_remote's manifest and config carry the spec's field names: %s", msg(out, err));
  }
  reset(&out, &err);
  idpkit_string_free(local);

  /* no stored login either: the credentials handle is the only way in */
  char docker[512];
  snprintf(docker, sizeof docker, "%s/docker-inspect-remote", tmp);
  setenv("DOCKER_CONFIG", docker, 1);
  unsetenv("REGISTRY_AUTH_FILE");
  r = idpkit_inspect_remote(remote_opts, NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_AUTH && err && idpkit_error_result(err) == IDPKIT_RESULT_AUTH &&
            strstr(idpkit_error_message(err), tls) &&
            !strstr(idpkit_error_message(err), password) && out == SENTINEL,
        "inspect_remote without credentials -> %s, names the registry, no password: %s",
        idpkit_result_name(r), msg(NULL, err));
  reset(&out, &err);
  char wrong[200];
  snprintf(wrong, sizeof wrong, "wrong-%s-c-inspect", password);
  idpkit_credentials *bad = basic_credentials(user, wrong);
  r = idpkit_inspect_remote(remote_opts, bad, NULL, NULL, NULL, &out, &err);
  idpkit_credentials_free(bad);
  CHECK(r == IDPKIT_RESULT_AUTH && err && !strstr(idpkit_error_message(err), password) &&
            !strstr(idpkit_error_message(err), "c-inspect") && out == SENTINEL,
        "inspect_remote with a wrong password -> %s, the password never shown: %s",
        idpkit_result_name(r), msg(NULL, err));
  reset(&out, &err);
  unsetenv("DOCKER_CONFIG");
  idpkit_credentials_free(creds);
}

void remote_tests(const idpkit_store *store, const char *fixture, const char *tmp) {
  const char *plain = rig_env("IDPKIT_RIG_REGISTRY_PLAIN", "registry-plain");
  const char *tls = rig_env("IDPKIT_RIG_REGISTRY_TLS", "registry-tls");
  const char *user = rig_env("IDPKIT_RIG_REGISTRY_USER", "registry-tls");
  const char *password = rig_env("IDPKIT_RIG_REGISTRY_PASSWORD", "registry-tls");
  const char *ca = rig_env("IDPKIT_RIG_CA", "registry-tls");
  const char *expired = rig_env("IDPKIT_RIG_TLS_EXPIRED_URL", "nginx");
  const char *kubeconfig = rig_env("IDPKIT_RIG_KUBECONFIG", "kube-apiserver");
  const char *gitea = rig_env("IDPKIT_RIG_GITEA_REGISTRY", "gitea");
  const char *gitea_user = rig_env("IDPKIT_RIG_GITEA_USER", "gitea");
  const char *gitea_ca = rig_env("IDPKIT_RIG_GITEA_CA", "gitea");
  const char *gitea_token = rig_env("IDPKIT_RIG_GITEA_TOKEN", "gitea");
  if (!plain || !tls || !user || !password || !ca) return;
  copy_catalog_delete(store, fixture, tmp, plain, tls, user, password, ca);
  inspect_remote(store, fixture, tmp, tls, user, password, ca);
  login_logout(tmp, tls, user, password, ca);
  if (expired) trust(tmp, tls, ca, host_of(expired), fixture);
  trust_check_cancelled();
  if (kubeconfig && gitea && gitea_user && gitea_ca)
    cluster(store, fixture, tmp, kubeconfig, gitea, gitea_user, gitea_ca);
  if (gitea && gitea_user && gitea_ca && gitea_token)
    token_push(store, fixture, tmp, gitea, gitea_user, gitea_ca, gitea_token);
}
