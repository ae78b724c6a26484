/*
 * Watching a Flux source through the C ABI: a GitRepository this test creates in the rig's
 * kube-apiserver (with curl, its token given on curl's stdin), its status set as
 * source-controller sets it: the fixture's tarball, then one this test serves from the rig's
 * nginx. idpkit_source_watch_flux reports each revision as a source_fetched event; the
 * callback changes the status after the first and cancels after the second; the call then
 * returns IDPKIT_RESULT_OK with its summary. A watchdog thread bounds the wait.
 */
#define _GNU_SOURCE
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct watch_state {
  idpkit_cancel *cancel;
  const char *kube_url, *token, *ca, *name;
  /* what the callback PATCHes after the first revision: by default the Flux object's status
   * (merge patch); the argo test applies its Application instead */
  const char *patch_path, *patch_type;
  char status_b[2048];
  int revisions;
  int patched; /* the status change to B succeeded */
  char revision[2][128];
  char path[2][800];
  atomic_int done;
};

/* PATCHes `path` of the rig's kube-apiserver with `body` (the token on curl's stdin, never in
 * its arguments); returns whether the API server answered 2xx. */
static int kube_patch(const char *kube_url, const char *token, const char *ca, const char *path,
                      const char *content_type, const char *body) {
  char body_file[] = "/tmp/idpkit-c-watch-XXXXXX";
  int fd = mkstemp(body_file);
  if (fd < 0) return 0;
  FILE *b = fdopen(fd, "w");
  fputs(body, b);
  fclose(b);
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "curl -fsS -m 30 -o /dev/null -K - --cacert '%s' -X PATCH -H 'Content-Type: %s' "
           "--data-binary @'%s' '%s%s'",
           ca, content_type, body_file, kube_url, path);
  FILE *p = popen(cmd, "w");
  int ok = 0;
  if (p) {
    fprintf(p, "header = \"Authorization: Bearer %s\"\n", token);
    ok = pclose(p) == 0;
  }
  unlink(body_file);
  return ok;
}

static const char *FLUX = "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/";

static void ready_status(char *out, size_t len, const char *url, const char *revision,
                         const char *digest) {
  snprintf(out, len,
           "{\"status\": {\"artifact\": {\"url\": \"%s\", \"revision\": \"%s\", \"digest\": \"%s\"}, "
           "\"conditions\": [{\"type\": \"Ready\", \"status\": \"True\", \"reason\": \"Succeeded\", "
           "\"message\": \"stored\", \"lastTransitionTime\": \"2026-12-03T00:00:00Z\"}]}}",
           url, revision, digest);
}

/* The event callback: runs on a thread of the library while the watch waits for it. */
static void on_event(void *user_data, const char *event_json) {
  struct watch_state *s = user_data;
  if (!strstr(event_json, "\"type\":\"source_fetched\"")) return;
  if (s->revisions < 2) {
    json_string(event_json, "revision", s->revision[s->revisions], sizeof s->revision[0]);
    json_string(event_json, "path", s->path[s->revisions], sizeof s->path[0]);
  }
  s->revisions++;
  if (s->revisions == 1) {
    char path[512];
    if (s->patch_path)
      snprintf(path, sizeof path, "%s", s->patch_path);
    else
      snprintf(path, sizeof path, "%s%s/status", FLUX, s->name);
    s->patched = kube_patch(s->kube_url, s->token, s->ca, path,
                            s->patch_type ? s->patch_type : "application/merge-patch+json",
                            s->status_b);
  } else {
    idpkit_cancel_cancel(s->cancel);
  }
}

/* Cancels the watch if it has not ended within 60 s. */
static void *watchdog(void *arg) {
  struct watch_state *s = arg;
  for (int i = 0; i < 600 && !atomic_load(&s->done); i++) usleep(100 * 1000);
  idpkit_cancel_cancel(s->cancel);
  return NULL;
}

void source_watch_tests(const char *tmp) {
  const char *kube_url = rig_env("IDPKIT_RIG_KUBE_URL", "kube-apiserver");
  const char *token = rig_env("IDPKIT_RIG_KUBE_TOKEN", "kube-apiserver");
  const char *kubeconfig = rig_env("IDPKIT_RIG_KUBECONFIG", "kube-apiserver");
  const char *artifact = rig_env("IDPKIT_RIG_ARTIFACT_URL", "nginx");
  const char *sha = rig_env("IDPKIT_RIG_ARTIFACT_SHA256", "nginx");
  const char *ca = rig_env("IDPKIT_RIG_CA", "nginx");
  const char *rig_dir = rig_env("IDPKIT_RIG_DIR", "nginx");
  if (!kube_url || !token || !kubeconfig || !artifact || !sha || !ca || !rig_dir) return;

  struct watch_state s;
  memset(&s, 0, sizeof s);
  char name[128];
  snprintf(name, sizeof name, "c-watch-%d-%ld", (int)getpid(), (long)time(NULL));
  s.kube_url = kube_url, s.token = token, s.ca = ca, s.name = name;

  /* revision B: a tarball of b.txt served by the rig's nginx */
  char base[600], url_b[800], digest_b[100], cmd[3000], served[800];
  snprintf(base, sizeof base, "%s", artifact);
  *strrchr(base, '/') = '\0';
  snprintf(served, sizeof served, "%s/artifacts/%s.tar.gz", rig_dir, name);
  snprintf(cmd, sizeof cmd,
           "set -e; d=$(mktemp -d '%s/b-XXXXXX'); printf 'revision b' > \"$d/b.txt\"; "
           "tar -czf '%s/artifacts/.%s.tmp' -C \"$d\" b.txt; mv '%s/artifacts/.%s.tmp' '%s'; "
           "sha256sum '%s' | cut -c1-64",
           tmp, rig_dir, name, rig_dir, name, served, served);
  FILE *p = popen(cmd, "r");
  char hex[65] = "";
  if (p) {
    if (fscanf(p, "%64s", hex) != 1) hex[0] = '\0';
    pclose(p);
  }
  CHECK(strlen(hex) == 64, "a tarball for revision B is served at %s", served);
  snprintf(url_b, sizeof url_b, "%s/%s.tar.gz", base, name);
  snprintf(digest_b, sizeof digest_b, "sha256:%s", hex);
  char rev_a[64], rev_b[64];
  snprintf(rev_a, sizeof rev_a, "main@sha1:%s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  snprintf(rev_b, sizeof rev_b, "main@sha1:%s", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  ready_status(s.status_b, sizeof s.status_b, url_b, rev_b, digest_b);

  /* GitRepository flux-system/<name>, Ready with the fixture's tarball (revision A) */
  char path[512], body[2048], digest_a[100];
  snprintf(path, sizeof path, "%s%s?fieldManager=idpkit-c-test&force=true", FLUX, name);
  snprintf(body, sizeof body,
           "{\"apiVersion\": \"source.toolkit.fluxcd.io/v1\", \"kind\": \"GitRepository\", "
           "\"metadata\": {\"name\": \"%s\", \"namespace\": \"flux-system\"}, "
           "\"spec\": {\"url\": \"https://example.invalid/x.git\"}}",
           name);
  int created = kube_patch(kube_url, token, ca, path, "application/apply-patch+yaml", body);
  snprintf(digest_a, sizeof digest_a, "sha256:%s", sha);
  ready_status(body, sizeof body, artifact, rev_a, digest_a);
  snprintf(path, sizeof path, "%s%s/status", FLUX, name);
  created = created && kube_patch(kube_url, token, ca, path, "application/merge-patch+json", body);
  CHECK(created, "GitRepository flux-system/%s created, Ready with revision A", name);

  char cache[600];
  snprintf(cache, sizeof cache, "%s/watch-cache", tmp);
  s.cancel = idpkit_cancel_new();
  pthread_t dog;
  pthread_create(&dog, NULL, watchdog, &s);
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r = idpkit_source_watch_flux(
      J("{\"kind\": \"GitRepository\", \"namespace\": \"flux-system\", \"name\": \"%s\", "
        "\"cluster\": {\"kubeconfig\": \"%s\"}, \"cache\": \"%s\", \"ca_files\": [\"%s\"], "
        "\"no_platform_roots\": true, \"certs_d\": []}",
        name, kubeconfig, cache, ca),
      NULL, on_event, &s, s.cancel, &out, &err);
  atomic_store(&s.done, 1);
  pthread_join(dog, NULL);
  CHECK(r == IDPKIT_RESULT_OK, "a watch cancelled after two revisions returns OK: %s",
        r == IDPKIT_RESULT_OK ? out : idpkit_error_message(err));
  CHECK(s.revisions == 2 && s.patched, "two source_fetched events (%d), the status changed between",
        s.revisions);
  char want_a[800];
  snprintf(want_a, sizeof want_a, "%s/flux-artifact/flux-system/%s/main-sha-aaaaaaa", cache, name);
  CHECK(strcmp(s.revision[0], rev_a) == 0 && strcmp(s.path[0], want_a) == 0,
        "the first event is revision A at %s: %s %s", want_a, s.revision[0], s.path[0]);
  char b_txt[900];
  snprintf(b_txt, sizeof b_txt, "%s/b.txt", s.path[1]);
  struct stat st;
  CHECK(strcmp(s.revision[1], rev_b) == 0 && stat(b_txt, &st) == 0 && st.st_size == 10,
        "the second event is revision B, its b.txt in the cache: %s", s.revision[1]);
  char last[128];
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"fetched\":2") && strstr(out, "\"failed\":0") &&
            strcmp(json_string(strstr(out, "\"last\""), "revision", last, sizeof last), rev_b) == 0,
        "the summary: 2 fetched, 0 failed, the last is B: %s", r == IDPKIT_RESULT_OK ? out : "");
  if (r == IDPKIT_RESULT_OK) idpkit_string_free(out);
  idpkit_error_free(err);
  idpkit_cancel_free(s.cancel);
  unlink(served);
}

/* The fixture's commit `rev` (40 hex), or "" when git cannot say. */
static void fixture_rev(const char *git_dir, const char *rev, char out[41]) {
  char cmd[800];
  snprintf(cmd, sizeof cmd, "git --git-dir '%s' rev-parse '%s^{commit}'", git_dir, rev);
  out[0] = '\0';
  FILE *p = popen(cmd, "r");
  if (p) {
    if (fscanf(p, "%40s", out) != 1) out[0] = '\0';
    pclose(p);
  }
}

/* An Argo CD Application: idpkit_source_watch_argo reports its git source at the synced
 * revision (develop), the callback applies the Application synced to main, and the second
 * report cancels the watch. */
void source_watch_argo_tests(const char *tmp) {
  const char *kube_url = rig_env("IDPKIT_RIG_KUBE_URL", "kube-apiserver");
  const char *token = rig_env("IDPKIT_RIG_KUBE_TOKEN", "kube-apiserver");
  const char *kubeconfig = rig_env("IDPKIT_RIG_KUBECONFIG", "kube-apiserver");
  const char *git_url = rig_env("IDPKIT_RIG_GIT_FIXTURE_HTTPS", "nginx");
  const char *git_dir = rig_env("IDPKIT_RIG_GIT_FIXTURE_DIR", "nginx");
  const char *user = rig_env("IDPKIT_RIG_GIT_USER", "nginx");
  const char *password = rig_env("IDPKIT_RIG_GIT_PASSWORD", "nginx");
  const char *ca = rig_env("IDPKIT_RIG_CA", "nginx");
  if (!kube_url || !token || !kubeconfig || !git_url || !git_dir || !user || !password || !ca) return;

  struct watch_state s;
  memset(&s, 0, sizeof s);
  char ns[64], app[96], develop[41], main_[41];
  snprintf(ns, sizeof ns, "argocd-cw-%d", (int)getpid());
  snprintf(app, sizeof app, "c-watch-argo-%d-%ld", (int)getpid(), (long)time(NULL));
  fixture_rev(git_dir, "develop", develop);
  fixture_rev(git_dir, "main", main_);
  CHECK(strlen(develop) == 40 && strlen(main_) == 40, "the fixture's develop and main commits");

  char path[512], body[2048], app_path[512];
  snprintf(path, sizeof path, "/api/v1/namespaces/%s?fieldManager=idpkit-c-test&force=true", ns);
  snprintf(body, sizeof body,
           "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"%s\"}}", ns);
  int ok = kube_patch(kube_url, token, ca, path, "application/apply-patch+yaml", body);
  snprintf(path, sizeof path,
           "/api/v1/namespaces/%s/secrets/fixture?fieldManager=idpkit-c-test&force=true", ns);
  snprintf(body, sizeof body,
           "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"fixture\", "
           "\"namespace\": \"%s\", \"labels\": {\"argocd.argoproj.io/secret-type\": \"repository\"}}, "
           "\"stringData\": {\"url\": \"%s\", \"username\": \"%s\", \"password\": \"%s\"}}",
           ns, git_url, user, password);
  ok = ok && kube_patch(kube_url, token, ca, path, "application/apply-patch+yaml", body);
  snprintf(app_path, sizeof app_path,
           "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/%s"
           "?fieldManager=idpkit-c-test&force=true",
           app);
  const char *application =
      "{\"apiVersion\": \"argoproj.io/v1alpha1\", \"kind\": \"Application\", "
      "\"metadata\": {\"name\": \"%s\", \"namespace\": \"argocd\"}, "
      "\"spec\": {\"project\": \"default\", \"source\": {\"repoURL\": \"%s\", "
      "\"targetRevision\": \"main\"}, \"destination\": {\"server\": "
      "\"https://kubernetes.default.svc\", \"namespace\": \"x\"}}, "
      "\"status\": {\"sync\": {\"revision\": \"%s\"}}}";
  snprintf(body, sizeof body, application, app, git_url, develop);
  ok = ok && kube_patch(kube_url, token, ca, app_path, "application/apply-patch+yaml", body);
  CHECK(ok, "namespace %s, its repository Secret and Application argocd/%s applied", ns, app);
  snprintf(s.status_b, sizeof s.status_b, application, app, git_url, main_);
  s.kube_url = kube_url, s.token = token, s.ca = ca, s.name = app;
  s.patch_path = app_path, s.patch_type = "application/apply-patch+yaml";

  char cache[600];
  snprintf(cache, sizeof cache, "%s/watch-argo-cache", tmp);
  s.cancel = idpkit_cancel_new();
  pthread_t dog;
  pthread_create(&dog, NULL, watchdog, &s);
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r = idpkit_source_watch_argo(
      J("{\"namespace\": \"argocd\", \"name\": \"%s\", \"argocd_namespace\": \"%s\", "
        "\"cluster\": {\"kubeconfig\": \"%s\"}, \"cache\": \"%s\", \"ca_files\": [\"%s\"], "
        "\"no_platform_roots\": true, \"certs_d\": []}",
        app, ns, kubeconfig, cache, ca),
      NULL, on_event, &s, s.cancel, &out, &err);
  atomic_store(&s.done, 1);
  pthread_join(dog, NULL);
  CHECK(r == IDPKIT_RESULT_OK, "an Argo CD watch cancelled after two revisions returns OK: %s",
        r == IDPKIT_RESULT_OK ? out : idpkit_error_message(err));
  size_t n0 = strlen(s.revision[0]), n1 = strlen(s.revision[1]);
  CHECK(s.revisions == 2 && s.patched && n0 > 40 && n1 > 40 &&
            strcmp(s.revision[0] + n0 - 40, develop) == 0 &&
            strcmp(s.revision[1] + n1 - 40, main_) == 0 && strcmp(s.path[0], s.path[1]) != 0,
        "develop's entry, then main's once the Application is synced to it: %s, %s",
        s.revision[0], s.revision[1]);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"fetched\":2") && !strstr(out, password),
        "the summary: 2 fetched, no password: %s", r == IDPKIT_RESULT_OK ? out : "");
  if (r == IDPKIT_RESULT_OK) idpkit_string_free(out);
  idpkit_error_free(err);
  idpkit_cancel_free(s.cancel);
}
