/*
 * Local services and the supervisor through the C ABI, with real servers: sandbox_up of a
 * Rails project (Gemfile with rails, pg and redis) runs Debian's postgres and redis-server,
 * both healthy with pids, their connection variables in the result and in a 0600 env file,
 * and psql and redis-cli get answers with them; the callback sees each service's
 * process_state events during the call and none after it, and no event or message holds a
 * password; sandbox_status and sandbox_env say what the up returned; a second up is
 * CONFLICT; sandbox_down stops both (events included), their pids end and their ports refuse
 * connections. idpkit_run of a Procfile in the background returns once it runs and
 * sandbox_down on its state directory stops it; a foreground run stops on idpkit_cancel_cancel
 * with an ordered shutdown and returns its final status (stopped, reason "cancelled").
 * Status of a directory where nothing ran is NOT_FOUND, an unknown option INVALID_INPUT
 * naming it. Everything started is stopped even when a check fails.
 */
#define _GNU_SOURCE
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const SERVICES_GEMFILE = "source \"https://rubygems.org\"\n"
                                            "\n"
                                            "gem \"rails\"\n"
                                            "gem \"pg\"\n"
                                            "gem \"redis\"\n";

/* What a callback received: every event's JSON (one a line), under a lock, and how many came
 * after the call returned. */
struct event_log {
  pthread_mutex_t lock;
  char *text;
  size_t len;
  int count;
  int returned;
  int late;
};

static void log_init(struct event_log *l) {
  memset(l, 0, sizeof *l);
  pthread_mutex_init(&l->lock, NULL);
}

static void log_free(struct event_log *l) {
  free(l->text);
  pthread_mutex_destroy(&l->lock);
}

static void on_event(void *user_data, const char *event_json) {
  struct event_log *l = user_data;
  pthread_mutex_lock(&l->lock);
  if (l->returned) l->late++;
  size_t n = strlen(event_json);
  char *grown = realloc(l->text, l->len + n + 2);
  if (!grown) abort();
  l->text = grown;
  memcpy(l->text + l->len, event_json, n);
  l->len += n;
  l->text[l->len++] = '\n';
  l->text[l->len] = '\0';
  l->count++;
  pthread_mutex_unlock(&l->lock);
}

static void log_returned(struct event_log *l) {
  pthread_mutex_lock(&l->lock);
  l->returned = 1;
  pthread_mutex_unlock(&l->lock);
}

/* Whether a process_state event took `name` to `state`. */
static int log_reached(struct event_log *l, const char *name, const char *state) {
  char want[200];
  snprintf(want, sizeof want, "\"type\":\"process_state\",\"name\":\"%s\",\"state\":\"%s\"", name,
           state);
  pthread_mutex_lock(&l->lock);
  int found = l->text && strstr(l->text, want) != NULL;
  pthread_mutex_unlock(&l->lock);
  return found;
}

static int log_holds(struct event_log *l, const char *secret) {
  pthread_mutex_lock(&l->lock);
  int found = secret[0] && l->text && strstr(l->text, secret) != NULL;
  pthread_mutex_unlock(&l->lock);
  return found;
}

static int log_late(struct event_log *l) {
  pthread_mutex_lock(&l->lock);
  int n = l->late;
  pthread_mutex_unlock(&l->lock);
  return n;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

static void reset(char **out, idpkit_error **err) {
  if (*out != SENTINEL) idpkit_string_free(*out);
  idpkit_error_free(*err);
  *out = (char *)SENTINEL;
  *err = NULL;
}

/* The error's message or "(nothing)": never the result, which holds passwords. */
static const char *why(idpkit_error *err) {
  return err ? idpkit_error_message(err) : "(nothing)";
}

/* The state and pid of process `name` in a status JSON (serde's field order: name, state,
 * pid); pid 0 when it has none. Returns the state ("" when the process is not there). */
static const char *process(const char *json, const char *name, char *state, size_t len,
                           long *pid) {
  char pat[200];
  snprintf(pat, sizeof pat, "{\"name\":\"%s\",\"state\":\"", name);
  state[0] = '\0';
  *pid = 0;
  const char *p = json && json != SENTINEL ? strstr(json, pat) : NULL;
  if (!p) return state;
  p += strlen(pat);
  const char *end = strchr(p, '"');
  size_t n = end ? (size_t)(end - p) : 0;
  if (n >= len) return state;
  memcpy(state, p, n);
  state[n] = '\0';
  const char *q = end ? strstr(end, "\"pid\":") : NULL;
  if (q) *pid = strtol(q + strlen("\"pid\":"), NULL, 10);
  return state;
}

/* Whether pid ended: no /proc entry, or a zombie. */
static int gone(long pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *paren = strrchr(buf, ')');
  return paren && paren[1] == ' ' && paren[2] == 'Z';
}

/* Whether something accepts TCP connections on 127.0.0.1:port. */
static int listening(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

/* A loopback port nothing listens on now. */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* The first line a shell command printed (static buffer), with its exit status. */
static const char *shell_line(const char *cmd, int *status) {
  static char line[256];
  line[0] = '\0';
  *status = -1;
  FILE *p = popen(cmd, "r");
  if (!p) return line;
  if (!fgets(line, sizeof line, p)) line[0] = '\0';
  char rest[256];
  while (fgets(rest, sizeof rest, p)) {
  }
  *status = pclose(p);
  line[strcspn(line, "\r\n")] = '\0';
  return line;
}

/* Stops whatever still runs in dir; the result is not checked (cleanup). */
static void down_quietly(const char *dir) {
  char *out = NULL;
  idpkit_error *err = NULL;
  idpkit_sandbox_down(J("{\"dir\": \"%s\"}", dir), NULL, NULL, NULL, NULL, &out, &err);
  idpkit_string_free(out);
  idpkit_error_free(err);
}

static void services_tests(const char *tmp) {
  char app[600], path[700];
  snprintf(app, sizeof app, "%s/app", tmp);
  mkdir(app, 0755);
  snprintf(path, sizeof path, "%s/Gemfile", app);
  write_file(path, SERVICES_GEMFILE);
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r;

  /* up: postgres and redis, both healthy with pids */
  struct event_log ev;
  log_init(&ev);
  char *up = NULL;
  r = idpkit_sandbox_up(J("{\"dir\": \"%s\"}", app), NULL, on_event, &ev, NULL, &up, &err);
  log_returned(&ev);
  CHECK(r == IDPKIT_RESULT_OK && up, "sandbox_up of a Rails project with pg and redis: %s",
        r == IDPKIT_RESULT_OK ? "up" : why(err));
  if (r != IDPKIT_RESULT_OK || !up) {
    idpkit_error_free(err);
    log_free(&ev);
    down_quietly(app);
    return;
  }
  char password[100], redis_url[300], database_url[400], pg_port[16], env_file[700], v[200];
  json_string(up, "PGPASSWORD", password, sizeof password);
  json_string(up, "REDIS_URL", redis_url, sizeof redis_url);
  json_string(up, "DATABASE_URL", database_url, sizeof database_url);
  json_string(up, "PGPORT", pg_port, sizeof pg_port);
  json_string(up, "env_file", env_file, sizeof env_file);
  int pgport = atoi(pg_port);
  const char *colon = strrchr(redis_url, ':');
  int redisport = colon ? atoi(colon + 1) : 0;
  char redis_password[100] = "";
  if (strncmp(redis_url, "redis://default:", 16) == 0) {
    const char *at = strchr(redis_url + 16, '@');
    size_t n = at ? (size_t)(at - (redis_url + 16)) : 0;
    if (n < sizeof redis_password) {
      memcpy(redis_password, redis_url + 16, n);
      redis_password[n] = '\0';
    }
  }
  char want[500];
  snprintf(want, sizeof want, "postgres://sandbox:%s@127.0.0.1:%d/sandbox_development", password,
           pgport);
  CHECK(strlen(password) >= 16 && pgport > 0 && strcmp(database_url, want) == 0,
        "DATABASE_URL is postgres://sandbox:PASSWORD@127.0.0.1:%d/sandbox_development", pgport);
  CHECK(strlen(redis_password) >= 16 && redisport > 0 && redisport != pgport &&
            strstr(redis_url, "@127.0.0.1:"),
        "REDIS_URL is redis://default:PASSWORD@127.0.0.1:%d/…", redisport);
  CHECK(strcmp(json_string(up, "PGHOST", v, sizeof v), "127.0.0.1") == 0 &&
            strcmp(json_string(up, "PGUSER", v, sizeof v), "sandbox") == 0 &&
            strcmp(json_string(up, "PGDATABASE", v, sizeof v), "sandbox_development") == 0,
        "PGHOST, PGUSER and PGDATABASE are 127.0.0.1, sandbox, sandbox_development");
  char pg_state[32], redis_state[32];
  long pg_pid, redis_pid;
  process(up, "postgres", pg_state, sizeof pg_state, &pg_pid);
  process(up, "redis", redis_state, sizeof redis_state, &redis_pid);
  const char *pg_at = strstr(up, "{\"name\":\"postgres\"");
  const char *redis_at = strstr(up, "{\"name\":\"redis\"");
  CHECK(strcmp(pg_state, "healthy") == 0 && strcmp(redis_state, "healthy") == 0 && pg_pid > 0 &&
            redis_pid > 0 && !gone(pg_pid) && !gone(redis_pid) && pg_at && redis_at &&
            pg_at < redis_at,
        "postgres (pid %ld) and redis (pid %ld) run and are healthy: %s, %s", pg_pid, redis_pid,
        pg_state, redis_state);
  CHECK(strstr(up, J("\"pid\":%d,\"state\":\"running\"", (int)getpid())) != NULL,
        "the supervisor runs in this process (pid %d)", (int)getpid());
  struct stat st;
  CHECK(stat(env_file, &st) == 0 && (st.st_mode & 0777) == 0600, "the env file %s has mode 0600",
        env_file);

  /* real servers: psql and redis-cli, the password only in their environment */
  int status;
  const char *got = shell_line(
      J("set -a && . '%s' && PGCONNECT_TIMEOUT=5 psql -tAc 'select 1' 2>&1", env_file), &status);
  CHECK(status == 0 && strcmp(got, "1") == 0, "psql with the env file's PG* variables: select 1 -> %s",
        got);
  got = shell_line(J("set -a && . '%s' && p=${REDIS_URL#redis://default:} && "
                     "REDISCLI_AUTH=${p%%%%@*} redis-cli -h 127.0.0.1 -p %d ping 2>&1",
                     env_file, redisport),
                   &status);
  CHECK(status == 0 && strcmp(got, "PONG") == 0, "redis-cli ping on port %d -> %s", redisport, got);

  /* events: each service went healthy during the call (the supervisor sends a change before
   * its status shows it, so even the last one's arrives before up returns), none came after
   * it, none holds a password */
  sleep_ms(300);
  CHECK(log_reached(&ev, "postgres", "running") && log_reached(&ev, "redis", "running"),
        "process_state running events for postgres and redis (%d events)", ev.count);
  CHECK(log_reached(&ev, "postgres", "healthy") && log_reached(&ev, "redis", "healthy"),
        "process_state healthy events for postgres and redis during sandbox_up");
  CHECK(log_late(&ev) == 0, "no event after sandbox_up returned (%d came)", log_late(&ev));
  CHECK(!log_holds(&ev, password) && !log_holds(&ev, redis_password),
        "no event holds a password");
  log_free(&ev);

  /* status and env: what the up returned */
  r = idpkit_sandbox_status(J("{\"dir\": \"%s\"}", app), NULL, NULL, NULL, NULL, &out, &err);
  const char *up_status = strstr(up, "\"status\":");
  const char *up_env = strstr(up, ",\"env\":{");
  int same = 0;
  if (r == IDPKIT_RESULT_OK && up_status && up_env) {
    up_status += strlen("\"status\":");
    same = strlen(out) == (size_t)(up_env - up_status) &&
           strncmp(out, up_status, (size_t)(up_env - up_status)) == 0;
  }
  CHECK(same, "sandbox_status is the up's status: %s", r == IDPKIT_RESULT_OK ? out : why(err));
  reset(&out, &err);
  r = idpkit_sandbox_env(J("{\"dir\": \"%s\"}", app), NULL, NULL, NULL, NULL, &out, &err);
  const char *env_part = r == IDPKIT_RESULT_OK ? strstr(out, "\"env\":{") : NULL;
  CHECK(env_part && up_env && strcmp(env_part, up_env + 1) == 0,
        "sandbox_env is the up's env and env_file: %s",
        r != IDPKIT_RESULT_OK ? why(err) : env_part && up_env && strcmp(env_part, up_env + 1) == 0
                                                ? "the same"
                                                : "they differ");
  reset(&out, &err);

  /* a second up while it runs: CONFLICT */
  r = idpkit_sandbox_up(J("{\"dir\": \"%s\"}", app), NULL, NULL, NULL, NULL, &out, &err);
  CHECK(!err || (!strstr(idpkit_error_message(err), password) &&
                 !strstr(idpkit_error_message(err), redis_password)),
        "the conflict's message holds no password");
  expect_error("a second sandbox_up while up", r, IDPKIT_RESULT_CONFLICT, err, SENTINEL, out);
  err = NULL;

  /* down: stopped, with events; the pids end and the ports refuse connections */
  struct event_log dev;
  log_init(&dev);
  r = idpkit_sandbox_down(J("{\"dir\": \"%s\"}", app), NULL, on_event, &dev, NULL, &out, &err);
  log_returned(&dev);
  char s1[32], s2[32];
  long p1, p2;
  if (r == IDPKIT_RESULT_OK) {
    process(out, "postgres", s1, sizeof s1, &p1);
    process(out, "redis", s2, sizeof s2, &p2);
  }
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"state\":\"stopped\",\"started\"") &&
            strstr(out, "\"reason\":\"stopped on request\"") && strcmp(s1, "stopped") == 0 &&
            strcmp(s2, "stopped") == 0 && p1 == 0 && p2 == 0,
        "sandbox_down: stopped on request, postgres and redis stopped: %s",
        r == IDPKIT_RESULT_OK ? out : why(err));
  reset(&out, &err);
  CHECK(log_reached(&dev, "postgres", "stopped") && log_reached(&dev, "redis", "stopped"),
        "sandbox_down sent process_state stopped for postgres and redis (%d events)", dev.count);
  CHECK(!log_holds(&dev, password) && !log_holds(&dev, redis_password),
        "no down event holds a password");
  log_free(&dev);
  CHECK(gone(pg_pid) && gone(redis_pid), "postgres (pid %ld) and redis (pid %ld) ended", pg_pid,
        redis_pid);
  CHECK(!listening(pgport) && !listening(redisport), "ports %d and %d refuse connections", pgport,
        redisport);
  idpkit_string_free(up);
  down_quietly(app);
}

/* A Procfile in its own directory: an HTTP server on `port` and a sleeper. */
static void write_procfile(const char *dir, int port) {
  char path[700];
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/Procfile", dir);
  write_file(path, J("web: exec python3 -m http.server %d --bind 127.0.0.1\n"
                     "worker: exec sleep 600\n",
                     port));
}

struct foreground {
  const char *options;
  idpkit_cancel *cancel;
  struct event_log *events;
  idpkit_result result;
  char *out;
  idpkit_error *err;
};

static void *run_foreground(void *arg) {
  struct foreground *f = arg;
  f->result = idpkit_run(f->options, NULL, on_event, f->events, f->cancel, &f->out, &f->err);
  return NULL;
}

static void run_tests(const char *tmp) {
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r;
  char dir[600], state[700];
  char web_state[32], worker_state[32];
  long web_pid, worker_pid;

  /* background: returns once both run; sandbox_down on the state directory stops them */
  int port = free_port();
  snprintf(dir, sizeof dir, "%s/procfile-bg", tmp);
  snprintf(state, sizeof state, "%s/state", dir);
  write_procfile(dir, port);
  r = idpkit_run(J("{\"file\": \"%s/Procfile\", \"state_dir\": \"%s\", \"background\": true, "
                   "\"timeout_seconds\": 20}",
                   dir, state),
                 NULL, NULL, NULL, NULL, &out, &err);
  if (r == IDPKIT_RESULT_OK) {
    process(out, "web", web_state, sizeof web_state, &web_pid);
    process(out, "worker", worker_state, sizeof worker_state, &worker_pid);
  }
  CHECK(r == IDPKIT_RESULT_OK && strcmp(web_state, "healthy") == 0 &&
            strcmp(worker_state, "healthy") == 0 && web_pid > 0 && worker_pid > 0,
        "run in the background: web and worker run: %s", r == IDPKIT_RESULT_OK ? out : why(err));
  reset(&out, &err);
  int up = 0;
  for (int i = 0; i < 500 && !(up = listening(port)); i++) sleep_ms(20);
  CHECK(up, "the web process listens on %d", port);
  r = idpkit_sandbox_status(J("{\"dir\": \"%s\"}", state), NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"state\":\"running\""),
        "sandbox_status of the run's state directory: running: %s",
        r == IDPKIT_RESULT_OK ? out : why(err));
  reset(&out, &err);
  r = idpkit_sandbox_down(J("{\"dir\": \"%s\"}", state), NULL, NULL, NULL, NULL, &out, &err);
  CHECK(r == IDPKIT_RESULT_OK && strstr(out, "\"state\":\"stopped\",\"started\""),
        "sandbox_down of the run's state directory: stopped: %s",
        r == IDPKIT_RESULT_OK ? out : why(err));
  reset(&out, &err);
  CHECK(gone(web_pid) && gone(worker_pid) && !listening(port),
        "after down, web (pid %ld) and worker (pid %ld) ended and port %d refuses", web_pid,
        worker_pid, port);
  down_quietly(state);

  /* foreground: idpkit_cancel_cancel stops it in order; it returns the final status */
  port = free_port();
  snprintf(dir, sizeof dir, "%s/procfile-fg", tmp);
  snprintf(state, sizeof state, "%s/state", dir);
  write_procfile(dir, port);
  struct event_log ev;
  log_init(&ev);
  char options[2048];
  snprintf(options, sizeof options, "{\"file\": \"%s/Procfile\", \"state_dir\": \"%s\"}", dir,
           state);
  struct foreground f = {options, idpkit_cancel_new(), &ev, IDPKIT_RESULT_OK, NULL, NULL};
  pthread_t thread;
  pthread_create(&thread, NULL, run_foreground, &f);
  int both = 0;
  for (int i = 0; i < 750 && !both; i++) {
    both = log_reached(&ev, "web", "healthy") && log_reached(&ev, "worker", "healthy") &&
           listening(port);
    if (!both) sleep_ms(20);
  }
  CHECK(both, "a foreground run: web and worker healthy, web listening on %d", port);
  r = idpkit_sandbox_status(J("{\"dir\": \"%s\"}", state), NULL, NULL, NULL, NULL, &out, &err);
  web_pid = worker_pid = 0;
  if (r == IDPKIT_RESULT_OK) {
    process(out, "web", web_state, sizeof web_state, &web_pid);
    process(out, "worker", worker_state, sizeof worker_state, &worker_pid);
  }
  reset(&out, &err);
  idpkit_cancel_cancel(f.cancel);
  pthread_join(thread, NULL);
  log_returned(&ev);
  char s1[32], s2[32];
  long p1 = -1, p2 = -1;
  if (f.result == IDPKIT_RESULT_OK) {
    process(f.out, "web", s1, sizeof s1, &p1);
    process(f.out, "worker", s2, sizeof s2, &p2);
  }
  CHECK(f.result == IDPKIT_RESULT_OK && strstr(f.out, "\"state\":\"stopped\",\"started\"") &&
            strstr(f.out, "\"reason\":\"cancelled\"") && strcmp(s1, "stopped") == 0 &&
            strcmp(s2, "stopped") == 0 && p1 == 0 && p2 == 0,
        "the cancelled foreground run returns OK with its final status (stopped, cancelled): %s",
        f.result == IDPKIT_RESULT_OK ? f.out : why(f.err));
  CHECK(log_reached(&ev, "web", "stopped") && log_reached(&ev, "worker", "stopped"),
        "process_state stopped events for web and worker");
  CHECK(web_pid > 0 && worker_pid > 0 && gone(web_pid) && gone(worker_pid) && !listening(port),
        "web (pid %ld) and worker (pid %ld) ended and port %d refuses", web_pid, worker_pid, port);
  idpkit_string_free(f.out);
  idpkit_error_free(f.err);
  idpkit_cancel_free(f.cancel);
  log_free(&ev);
  down_quietly(state);
}

static void error_tests(const char *tmp) {
  char *out = (char *)SENTINEL;
  idpkit_error *err = NULL;
  idpkit_result r;
  char empty[600];
  snprintf(empty, sizeof empty, "%s/empty", tmp);
  mkdir(empty, 0755);
  r = idpkit_sandbox_status(J("{\"dir\": \"%s\"}", empty), NULL, NULL, NULL, NULL, &out, &err);
  expect_error("sandbox_status of a directory where nothing ran", r, IDPKIT_RESULT_NOT_FOUND, err,
               SENTINEL, out);
  err = NULL;
  r = idpkit_sandbox_env(J("{\"dir\": \"%s\"}", empty), NULL, NULL, NULL, NULL, &out, &err);
  expect_error("sandbox_env of a directory where nothing ran", r, IDPKIT_RESULT_NOT_FOUND, err,
               SENTINEL, out);
  err = NULL;
  r = idpkit_sandbox_up(J("{\"dir\": \"%s\", \"servicez\": [\"redis\"]}", empty), NULL, NULL,
                        NULL, NULL, &out, &err);
  CHECK(err && strstr(idpkit_error_message(err), "servicez"),
        "sandbox_up names the unknown option servicez: %s", why(err));
  expect_error("sandbox_up with an unknown option", r, IDPKIT_RESULT_INVALID_INPUT, err, SENTINEL,
               out);
  err = NULL;
  r = idpkit_run(J("{\"file\": \"%s/Procfile\", \"backgroundd\": true}", empty), NULL, NULL, NULL,
                 NULL, &out, &err);
  CHECK(err && strstr(idpkit_error_message(err), "backgroundd"),
        "run names the unknown option backgroundd: %s", why(err));
  expect_error("run with an unknown option", r, IDPKIT_RESULT_INVALID_INPUT, err, SENTINEL, out);
  err = NULL;
}

void supervise_tests(void) {
  /* As root, postgres runs as the postgres user, which must enter every directory on the way
   * to its data: a directory of its own, mode 0755 (mkdtemp makes 0700, like main's). */
  char tmp[400];
  const char *base = getenv("TMPDIR");
  snprintf(tmp, sizeof tmp, "%s/idpkit-c-supervise.XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(tmp) || chmod(tmp, 0755) != 0) {
    CHECK(0, "a 0755 temporary directory for the supervise tests: %s", strerror(errno));
    return;
  }
  services_tests(tmp);
  run_tests(tmp);
  error_tests(tmp);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
}
