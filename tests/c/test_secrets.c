/*
 * Secrets through the C ABI: a dotenv file encrypted by the rig's real sops for an identity
 * from the real age-keygen decrypts to its values, a changed MAC is IDPKIT_RESULT_INTEGRITY
 * with no value in the message, dotenv text parses by dotenv's rules ($(rm -rf ~) stays
 * text), and idpkit_secrets_push creates a Secret on the rig's kube-apiserver, read back with
 * curl (the test's own client). Without the rig these checks fail, naming the peer.
 */
#define _GNU_SOURCE
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VALUE "c-hunter2-71f0"
#define VALUE_B64 "Yy1odW50ZXIyLTcxZjA="
#define PLAIN_ONLY_B64 "Yy1wbGFpbi1vbmx5LTNkOWE="

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

/* The whole of a small file (static buffer; main thread only). */
static const char *read_file(const char *path) {
  static char buf[16384];
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (f) {
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
  }
  return buf;
}

static const char *msg(idpkit_error *err) {
  return err ? idpkit_error_message(err) : "(no error)";
}

void secrets_tests(const char *tmp) {
  const char *sops = rig_env("IDPKIT_RIG_SOPS", "sops");
  const char *kubeconfig = rig_env("IDPKIT_RIG_KUBECONFIG", "kube-apiserver");
  if (!sops || !kubeconfig) return;
  char dir[600], keys[700], plain[700], enc[700], tampered[700], cmd[3000];
  snprintf(dir, sizeof dir, "%s/secrets", tmp);
  snprintf(keys, sizeof keys, "%s/keys.txt", dir);
  snprintf(plain, sizeof plain, "%s/.env.claude-sandbox", dir);
  snprintf(enc, sizeof enc, "%s/.env.sops", dir);
  snprintf(tampered, sizeof tampered, "%s/tampered.env", dir);
  snprintf(cmd, sizeof cmd, "mkdir -p '%s' && age-keygen -o '%s' 2>/dev/null", dir, keys);
  CHECK(system(cmd) == 0, "secrets: age-keygen (the rig's setup installs it)");
  const char *line = strstr(read_file(keys), "# public key: ");
  char recipient[128] = "";
  if (line) sscanf(line + strlen("# public key: "), "%127s", recipient);
  CHECK(recipient[0] != '\0', "secrets: the identity's recipient %s", recipient);

  /* sops encrypts a plain file for the recipient; the plain file is removed at once. */
  char src[700];
  snprintf(src, sizeof src, "%s/plain-sops.env", dir);
  write_file(src, "DB_PASSWORD=" VALUE "\nCMD=$(rm -rf ~)\n");
  snprintf(cmd, sizeof cmd,
           "env -u SOPS_AGE_KEY -u SOPS_AGE_KEY_FILE '%s' encrypt --age '%s' --input-type dotenv "
           "--output-type dotenv '%s' > '%s'",
           sops, recipient, src, enc);
  CHECK(system(cmd) == 0, "secrets: sops encrypt");
  unlink(src);

  /* decrypt */
  char *out = NULL;
  idpkit_error *err = NULL;
  idpkit_result r = idpkit_secrets_decrypt(
      J("{\"path\": \"%s\", \"age_key_file\": \"%s\"}", enc, keys), NULL, NULL, NULL, NULL, &out,
      &err);
  CHECK(r == IDPKIT_RESULT_OK && out && strstr(out, "\"DB_PASSWORD\":\"" VALUE "\"") &&
            strstr(out, "\"CMD\":\"$(rm -rf ~)\"") && strstr(out, "\"encrypted\":true"),
        "secrets_decrypt gives the values: %s", r == IDPKIT_RESULT_OK ? "ok" : msg(err));
  idpkit_string_free(out);
  idpkit_error_free(err);
  err = NULL;

  /* a changed MAC: INTEGRITY, no value in the message, nothing written to out */
  char text[16384];
  snprintf(text, sizeof text, "%s", read_file(enc));
  char *mac = strstr(text, "sops_mac=ENC[AES256_GCM,data:");
  if (mac) {
    char *c = mac + strlen("sops_mac=ENC[AES256_GCM,data:");
    *c = *c == 'A' ? 'B' : 'A';
  }
  write_file(tampered, text);
  out = (char *)SENTINEL;
  r = idpkit_secrets_decrypt(J("{\"path\": \"%s\", \"age_key_file\": \"%s\"}", tampered, keys),
                             NULL, NULL, NULL, NULL, &out, &err);
  CHECK(mac && err && !strstr(idpkit_error_message(err), VALUE),
        "secrets_decrypt of a tampered file names no value: %s", msg(err));
  expect_error("secrets_decrypt of a tampered file", r, IDPKIT_RESULT_INTEGRITY, err, SENTINEL,
               out);
  err = NULL;

  /* parse: dotenv's rules, nothing run */
  out = NULL;
  r = idpkit_secrets_parse("{\"text\": \"B=2\\nCMD=$(rm -rf ~)\\nA=\\\"${B} x\\\"\\n\"}", NULL,
                           NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && out &&
            strcmp(out, "{\"values\":{\"B\":\"2\",\"CMD\":\"$(rm -rf ~)\",\"A\":\"2 x\"}}") == 0,
        "secrets_parse keeps $(rm -rf ~) as text: %s", out ? out : msg(err));
  idpkit_string_free(out);
  idpkit_error_free(err);
  err = NULL;
  out = (char *)SENTINEL;
  r = idpkit_secrets_parse("{\"text\": \"A=1\\nB=\\\"c-open-5e2d\\n\", \"origin\": \".env.local\"}",
                           NULL, NULL, NULL, NULL, &out, &err);
  CHECK(err && strncmp(idpkit_error_message(err), ".env.local line 2:", 18) == 0 &&
            !strstr(idpkit_error_message(err), "c-open-5e2d"),
        "secrets_parse names the line, not its text: %s", msg(err));
  expect_error("secrets_parse of an unclosed quote", r, IDPKIT_RESULT_INVALID_INPUT, err,
               SENTINEL, out);
  err = NULL;

  /* push: a plain tier and the SOPS one (later wins) become one Secret */
  const char *ns = "idpkit-c-secrets-test";
  char name[64];
  /* pid and time: a run never meets an earlier run's Secret (pids are reused) */
  snprintf(name, sizeof name, "c-push-%d-%ld", (int)getpid(), (long)time(NULL));
  int code = kube_apply(tmp, J("/api/v1/namespaces/%s", ns),
                        J("{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": "
                          "{\"name\": \"%s\"}}",
                          ns));
  CHECK(code == 200 || code == 201, "apply Namespace %s: HTTP %d", ns, code);
  write_file(plain, "DB_PASSWORD=c-plain-shadowed-0b1c\nPLAIN_ONLY=c-plain-only-3d9a\n");
  out = NULL;
  r = idpkit_secrets_push(J("{\"namespace\": \"%s\", \"name\": \"%s\", \"files\": [\"%s\", "
                            "\"%s\"], \"age_key_file\": \"%s\", \"cluster\": {\"kubeconfig\": "
                            "\"%s\"}}",
                            ns, name, plain, enc, keys, kubeconfig),
                          NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && out && strstr(out, "\"created\":true") &&
            strstr(out, "\"keys\":[\"CMD\",\"DB_PASSWORD\",\"PLAIN_ONLY\"]") &&
            !strstr(out, VALUE),
        "secrets_push creates %s/%s: %s", ns, name, out ? out : msg(err));
  idpkit_string_free(out);
  idpkit_error_free(err);
  err = NULL;
  static char secret[65536];
  code = kube_get(tmp, J("/api/v1/namespaces/%s/secrets/%s?pretty=true", ns, name), secret,
                  sizeof secret);
  CHECK(code == 200 && strstr(secret, "\"DB_PASSWORD\": \"" VALUE_B64 "\"") &&
            strstr(secret, "\"PLAIN_ONLY\": \"" PLAIN_ONLY_B64 "\"") &&
            strstr(secret, "\"app.kubernetes.io/managed-by\": \"idpkit\""),
        "the API server holds the Secret with the later tier's value: HTTP %d", code);

  /* a Secret name the API cannot hold: INVALID_INPUT before any request */
  out = (char *)SENTINEL;
  r = idpkit_secrets_push(J("{\"namespace\": \"%s\", \"name\": \"Not_A_Name\", \"files\": "
                            "[\"%s\"]}",
                            ns, enc),
                          NULL, NULL, NULL, NULL, &out, &err);
  expect_error("secrets_push to a bad name", r, IDPKIT_RESULT_INVALID_INPUT, err, SENTINEL, out);
  err = NULL;
}
