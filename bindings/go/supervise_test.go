package idpkit_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"idpkit.dev/idpkit"
)

// A Rails project using postgres and redis: its plan's services are postgres and redis.
const servicesGemfile = `source "https://rubygems.org"

gem "rails"
gem "pg"
gem "redis"
`

// openTempDir is a fresh directory of mode 0755, removed at the end of the test: as root,
// postgres runs as the postgres user, which must be able to enter every directory on the
// way to its data (t.TempDir's parent is 0700).
func openTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "idpkit-go-supervise-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// eventLog keeps a call's events, and the ones that arrive after the call returned.
type eventLog struct {
	mu       sync.Mutex
	events   []idpkit.Event
	returned bool
	late     []idpkit.Event
}

func (l *eventLog) on() idpkit.OnEvent {
	return func(e idpkit.Event) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.returned {
			l.late = append(l.late, e)
			return
		}
		l.events = append(l.events, e)
	}
}

// done marks the call as returned: any event from now on is late.
func (l *eventLog) done() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.returned = true
}

func (l *eventLog) all() []idpkit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]idpkit.Event(nil), l.events...)
}

func (l *eventLog) lateEvents() []idpkit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]idpkit.Event(nil), l.late...)
}

// reached says whether a process_state event took process name to state.
func reached(events []idpkit.Event, name string, state idpkit.ProcessState) bool {
	for _, e := range events {
		if e.Type == idpkit.EventProcessState && e.Name == name && e.State == state {
			return true
		}
	}
	return false
}

// holding is the first event whose JSON holds secret ("" when none does).
func holding(events []idpkit.Event, secret string) string {
	for _, e := range events {
		if strings.Contains(string(e.Raw), secret) {
			return string(e.Raw)
		}
	}
	return ""
}

func processNames(st idpkit.SupervisorStatus) []string {
	var names []string
	for _, p := range st.Processes {
		names = append(names, p.Name)
	}
	return names
}

// procGone says whether pid has ended: no /proc entry, or a zombie nobody reaped yet.
func procGone(pid uint32) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(stat)
	after := s[strings.LastIndexByte(s, ')')+1:]
	return strings.HasPrefix(strings.TrimSpace(after), "Z")
}

func listening(port string) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func waitFor(t *testing.T, what string, timeout time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort is a loopback port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// downAtEnd stops whatever still runs in dir when the test ends, passed or failed.
func downAtEnd(t *testing.T, dir string) {
	t.Helper()
	t.Cleanup(func() {
		_, _ = idpkit.SandboxDown(context.Background(), idpkit.SandboxDownOptions{Dir: dir})
	})
}

// sandbox_up brings up real postgres and redis for a Rails project; sandbox_status and
// sandbox_env say the same as its result; a second up is ErrConflict; sandbox_down stops both,
// in events too, and nothing is left listening or running. No event or error holds a password.
func TestSandboxUpRunsRealPostgresAndRedisUntilDown(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	app := openTempDir(t)
	writeFiles(t, app, map[string]string{"Gemfile": servicesGemfile})
	downAtEnd(t, app)

	var upEvents eventLog
	up, err := idpkit.SandboxUp(ctx, idpkit.SandboxUpOptions{Dir: app}, upEvents.on())
	upEvents.done()
	if err != nil {
		t.Fatalf("SandboxUp %s: %v", app, err)
	}
	env := up.Env
	password, redisURL := env["PGPASSWORD"], env["REDIS_URL"]
	if len(password) < 16 {
		t.Fatalf("PGPASSWORD has %d characters: want a generated password", len(password))
	}
	redis := parseURL(t, redisURL)
	redisPassword, _ := redis.User.Password()
	if redis.Scheme != "redis" || len(redisPassword) < 16 || redis.Hostname() != "127.0.0.1" {
		// Not printed: it holds the password.
		t.Fatalf("REDIS_URL is not redis://default:PASSWORD@127.0.0.1:PORT")
	}
	secrets := []string{password, redisPassword}

	// The result: both healthy with pids, the connection variables, the 0600 env file.
	if got := processNames(up.Status); !reflect.DeepEqual(got, []string{"postgres", "redis"}) {
		t.Fatalf("processes %v, want [postgres redis]", got)
	}
	for _, p := range up.Status.Processes {
		if p.State != idpkit.ProcessStateHealthy || !p.Ready || p.Pid == 0 || procGone(p.Pid) {
			t.Errorf("%s: state %s ready %v pid %d; want a running, healthy process", p.Name, p.State, p.Ready, p.Pid)
		}
	}
	if up.Status.State != idpkit.SupervisorStateRunning || up.Status.Pid != uint32(os.Getpid()) {
		t.Errorf("supervisor state %s pid %d; want running in this process (%d)", up.Status.State, up.Status.Pid, os.Getpid())
	}
	pgPort := env["PGPORT"]
	wantDB := fmt.Sprintf("postgres://sandbox:%s@127.0.0.1:%s/sandbox_development", password, pgPort)
	if env["DATABASE_URL"] != wantDB {
		t.Errorf("DATABASE_URL is not postgres://sandbox:PASSWORD@127.0.0.1:%s/sandbox_development", pgPort)
	}
	for k, want := range map[string]string{"PGHOST": "127.0.0.1", "PGUSER": "sandbox", "PGDATABASE": "sandbox_development"} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	redisPort := redis.Port()
	if _, err := strconv.Atoi(pgPort); err != nil || redisPort == "" || redisPort == pgPort {
		t.Fatalf("ports: postgres %q redis %q", pgPort, redisPort)
	}
	if st, err := os.Stat(up.EnvFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("env file %s: %v, mode %v; want 0600", up.EnvFile, err, st)
	}

	// Real servers: psql and redis-cli get answers with the returned URLs.
	psql := exec.Command("psql", env["DATABASE_URL"], "-tAc", "select 1")
	psql.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=5")
	if out, err := psql.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Errorf("psql select 1: %v, %q", err, out)
	}
	if out, err := exec.Command("redis-cli", "-u", redisURL, "--no-auth-warning", "ping").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "PONG" {
		t.Errorf("redis-cli ping: %v, %q", err, out)
	}

	// Events: each service went healthy, all during the call; none after it, none with a password.
	// (The supervisor sends a change before its status shows it, so even the last service's
	// healthy event arrives before the call returns.)
	time.Sleep(300 * time.Millisecond)
	events := upEvents.all()
	for _, name := range []string{"postgres", "redis"} {
		if !reached(events, name, idpkit.ProcessStateHealthy) {
			t.Errorf("no process_state event took %s to healthy: %d events", name, len(events))
		}
	}
	if late := upEvents.lateEvents(); len(late) != 0 {
		t.Errorf("%d events after SandboxUp returned, the first: %s", len(late), late[0].Raw)
	}
	for _, s := range secrets {
		if e := holding(events, s); e != "" {
			t.Errorf("an event holds a password: %s", strings.ReplaceAll(e, s, "<password>"))
		}
	}

	// sandbox_status and sandbox_env: what the up returned.
	st, err := idpkit.SandboxStatus(ctx, idpkit.SandboxServicesOptions{Dir: app})
	if err != nil {
		t.Fatalf("SandboxStatus: %v", err)
	}
	if !reflect.DeepEqual(*st, up.Status) {
		t.Errorf("SandboxStatus %+v\nwant the up's %+v", *st, up.Status)
	}
	got, err := idpkit.SandboxEnv(ctx, idpkit.SandboxServicesOptions{Dir: app})
	if err != nil {
		t.Errorf("SandboxEnv: %v", err)
	} else if !reflect.DeepEqual(got.Env, env) || got.EnvFile != up.EnvFile {
		// Not printed: the variables hold the passwords.
		t.Errorf("SandboxEnv differs from the up's env (file %s, want %s)", got.EnvFile, up.EnvFile)
	}

	// A second up while the first runs: ErrConflict, nothing secret in the message.
	_, err = idpkit.SandboxUp(ctx, idpkit.SandboxUpOptions{Dir: app})
	if !errors.Is(err, idpkit.ErrConflict) {
		t.Errorf("a second SandboxUp of %s: %v; want ErrConflict", app, err)
	}
	for _, s := range secrets {
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("the conflict's message holds a password")
		}
	}

	// sandbox_down: stopped, with events, and the servers are gone.
	var downEvents eventLog
	down, err := idpkit.SandboxDown(ctx, idpkit.SandboxDownOptions{Dir: app}, downEvents.on())
	downEvents.done()
	if err != nil {
		t.Fatalf("SandboxDown: %v", err)
	}
	if down.State != idpkit.SupervisorStateStopped || down.Reason != "stopped on request" {
		t.Errorf("after down: state %s reason %q; want stopped on request", down.State, down.Reason)
	}
	for _, p := range down.Processes {
		if p.State != idpkit.ProcessStateStopped || p.Pid != 0 {
			t.Errorf("%s after down: state %s pid %d; want stopped, no pid", p.Name, p.State, p.Pid)
		}
	}
	for _, name := range []string{"postgres", "redis"} {
		if !reached(downEvents.all(), name, idpkit.ProcessStateStopped) {
			t.Errorf("SandboxDown sent no process_state stopped for %s", name)
		}
	}
	for _, s := range secrets {
		if e := holding(downEvents.all(), s); e != "" {
			t.Errorf("a down event holds a password")
		}
	}
	for _, p := range up.Status.Processes {
		if !procGone(p.Pid) {
			t.Errorf("%s (pid %d) still runs after down", p.Name, p.Pid)
		}
	}
	for name, port := range map[string]string{"postgres": pgPort, "redis": redisPort} {
		if listening(port) {
			t.Errorf("%s's port %s still accepts connections after down", name, port)
		}
	}
	if st, err := idpkit.SandboxStatus(ctx, idpkit.SandboxServicesOptions{Dir: app}); err != nil || st.State != idpkit.SupervisorStateStopped {
		t.Errorf("SandboxStatus after down: %+v, %v; want stopped", st, err)
	}
}

func parseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	parsed, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("not a URL: %v", err)
	}
	return parsed
}

// procfile writes a Procfile (an HTTP server on a free port and a sleeper) into a fresh
// directory; returns it, its state directory and the server's port.
func procfile(t *testing.T) (file, stateDir, port string) {
	t.Helper()
	dir := openTempDir(t)
	port = freePort(t)
	file = filepath.Join(dir, "Procfile")
	writeFiles(t, dir, map[string]string{
		"Procfile": "web: exec python3 -m http.server " + port + " --bind 127.0.0.1\nworker: exec sleep 600\n",
	})
	return file, filepath.Join(dir, "state"), port
}

// run with background returns once both processes run, leaving them supervised; sandbox_status
// shows them, and sandbox_down on the state directory stops them.
func TestRunBackgroundThenSandboxDown(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	file, stateDir, port := procfile(t)
	downAtEnd(t, stateDir)
	var events eventLog
	st, err := idpkit.Run(ctx, idpkit.RunOptions{File: file, StateDir: stateDir, Background: true, TimeoutSeconds: idpkit.Ptr[uint64](20)}, events.on())
	events.done()
	if err != nil {
		t.Fatalf("Run %s in the background: %v", file, err)
	}
	if st.State != idpkit.SupervisorStateRunning || len(st.Processes) != 2 {
		t.Fatalf("Run: state %s, processes %v; want running web and worker", st.State, processNames(*st))
	}
	for _, p := range st.Processes {
		if p.State != idpkit.ProcessStateHealthy || p.Pid == 0 || procGone(p.Pid) {
			t.Errorf("%s: state %s pid %d; want a healthy, running process", p.Name, p.State, p.Pid)
		}
	}
	waitFor(t, "the web process listening on "+port, 10*time.Second, func() bool { return listening(port) })
	for _, p := range st.Processes {
		if !reached(events.all(), p.Name, idpkit.ProcessStateHealthy) {
			t.Errorf("no process_state healthy event for %s during Run", p.Name)
		}
	}
	now, err := idpkit.SandboxStatus(ctx, idpkit.SandboxServicesOptions{Dir: stateDir})
	if err != nil || now.State != idpkit.SupervisorStateRunning || !reflect.DeepEqual(processNames(*now), processNames(*st)) {
		t.Errorf("SandboxStatus of %s: %+v, %v", stateDir, now, err)
	}

	down, err := idpkit.SandboxDown(ctx, idpkit.SandboxDownOptions{Dir: stateDir})
	if err != nil || down.State != idpkit.SupervisorStateStopped {
		t.Fatalf("SandboxDown %s: %+v, %v", stateDir, down, err)
	}
	for _, p := range st.Processes {
		if !procGone(p.Pid) {
			t.Errorf("%s (pid %d) still runs after down", p.Name, p.Pid)
		}
	}
	if listening(port) {
		t.Errorf("port %s still accepts connections after down", port)
	}
	if late := events.lateEvents(); len(late) != 0 {
		t.Errorf("%d events after Run returned, the first: %s", len(late), late[0].Raw)
	}
}

// A foreground run stops when its context is cancelled: an ordered shutdown, then the final
// status (stopped, reason cancelled) and no error.
func TestRunForegroundStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	file, stateDir, port := procfile(t)
	downAtEnd(t, stateDir)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var events eventLog
	type outcome struct {
		st  *idpkit.SupervisorStatus
		err error
	}
	result := make(chan outcome, 1)
	go func() {
		st, err := idpkit.Run(ctx, idpkit.RunOptions{File: file, StateDir: stateDir}, events.on())
		result <- outcome{st, err}
	}()
	waitFor(t, "both processes healthy", 15*time.Second, func() bool {
		all := events.all()
		return reached(all, "web", idpkit.ProcessStateHealthy) && reached(all, "worker", idpkit.ProcessStateHealthy)
	})
	waitFor(t, "the web process listening on "+port, 10*time.Second, func() bool { return listening(port) })
	running, err := idpkit.SandboxStatus(t.Context(), idpkit.SandboxServicesOptions{Dir: stateDir})
	if err != nil {
		t.Fatalf("SandboxStatus during the run: %v", err)
	}
	cancel()
	var got outcome
	select {
	case got = <-result:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20s of its cancellation")
	}
	events.done()
	if got.err != nil {
		t.Fatalf("a cancelled foreground Run: %v; want its final status", got.err)
	}
	if got.st.State != idpkit.SupervisorStateStopped || got.st.Reason != "cancelled" {
		t.Errorf("state %s reason %q; want stopped, cancelled", got.st.State, got.st.Reason)
	}
	for _, p := range got.st.Processes {
		if p.State != idpkit.ProcessStateStopped || p.Pid != 0 {
			t.Errorf("%s: state %s pid %d; want stopped", p.Name, p.State, p.Pid)
		}
		if !reached(events.all(), p.Name, idpkit.ProcessStateStopped) {
			t.Errorf("no process_state stopped event for %s", p.Name)
		}
	}
	for _, p := range running.Processes {
		if !procGone(p.Pid) {
			t.Errorf("%s (pid %d) still runs after the cancelled run returned", p.Name, p.Pid)
		}
	}
	if listening(port) {
		t.Errorf("port %s still accepts connections after the run", port)
	}
}

// The errors: status and env of a directory where nothing ran are ErrNotFound, an unknown
// sandbox_up option is ErrInvalidInput naming it, a run of no file is ErrInvalidInput.
func TestSandboxServicesErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	empty := t.TempDir()
	if _, err := idpkit.SandboxStatus(ctx, idpkit.SandboxServicesOptions{Dir: empty}); !errors.Is(err, idpkit.ErrNotFound) {
		t.Errorf("SandboxStatus of an empty directory: %v; want ErrNotFound", err)
	}
	if _, err := idpkit.SandboxEnv(ctx, idpkit.SandboxServicesOptions{Dir: empty}); !errors.Is(err, idpkit.ErrNotFound) {
		t.Errorf("SandboxEnv of an empty directory: %v; want ErrNotFound", err)
	}
	if _, err := idpkit.SandboxDown(ctx, idpkit.SandboxDownOptions{Dir: empty}); !errors.Is(err, idpkit.ErrNotFound) {
		t.Errorf("SandboxDown of an empty directory: %v; want ErrNotFound", err)
	}
	_, err := idpkit.ResolveOptions(ctx, idpkit.ResolveOptionsOptions{
		Operation: "sandbox_up", Options: map[string]any{"dir": empty, "servicez": []string{"redis"}},
	})
	if !errors.Is(err, idpkit.ErrInvalidInput) || !strings.Contains(err.Error(), "servicez") {
		t.Errorf("an unknown sandbox_up option: %v; want ErrInvalidInput naming servicez", err)
	}
	if _, err := idpkit.Run(ctx, idpkit.RunOptions{}); !errors.Is(err, idpkit.ErrInvalidInput) {
		t.Errorf("Run without a file: %v; want ErrInvalidInput", err)
	}
}
