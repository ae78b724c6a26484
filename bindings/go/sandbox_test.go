package idpkit_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"idpkit.dev/idpkit"
)

var fullCommitID = regexp.MustCompile(`^[0-9a-f]{40}$`)

// serviceNames are the names of a plan's services, in the plan's order.
func serviceNames(services []idpkit.ServicePlan) []string {
	names := []string{}
	for _, s := range services {
		names = append(names, s.Name)
	}
	return names
}

// writeFiles writes name -> content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// visibleEntries are the names in dir that do not start with a dot (none when dir is missing).
func visibleEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// A run is a fresh clone of the rig's fixture over HTTPS (basic auth, the rig CA): its
// checkout holds the repository's files at the fixture's HEAD, sandbox_list shows it, and
// sandbox_remove deletes its directory and takes it off the list.
func TestSandboxCloneListRemove(t *testing.T) {
	t.Parallel()
	r := newGitRig(t)
	ctx := t.Context()
	root := filepath.Join(t.TempDir(), "runs")
	run, err := idpkit.SandboxClone(ctx, idpkit.SandboxCloneOptions{
		URL: r.url, Root: root, CAFiles: []string{r.ca}, NoPlatformRoots: true, CertsD: []string{},
	}, r.basic(r.password))
	if err != nil {
		t.Fatalf("SandboxClone %s: %v", r.url, err)
	}
	if !fullCommitID.MatchString(run.Commit) || run.Commit != r.commit(t, "HEAD") {
		t.Errorf("commit %q, want the fixture's HEAD %s", run.Commit, r.commit(t, "HEAD"))
	}
	if run.URL != r.url || run.ID == "" || filepath.Dir(run.Dir) != root || run.Checkout != filepath.Join(run.Dir, "src") {
		t.Errorf("run %+v: want url %s, a directory under %s and its src checkout", run, r.url, root)
	}
	for _, name := range []string{"README.md", "counter.txt", "log/001.txt"} {
		if st, err := os.Stat(filepath.Join(run.Checkout, name)); err != nil || !st.Mode().IsRegular() {
			t.Errorf("the checkout %s lacks the fixture's %s: %v", run.Checkout, name, err)
		}
	}
	if fileHolding(t, root, r.password) != "" {
		t.Errorf("the password is in a file of the run: %s", fileHolding(t, root, r.password))
	}

	listed, err := idpkit.SandboxList(ctx, idpkit.SandboxRunsOptions{Root: root})
	if err != nil || len(listed.Runs) != 1 || listed.Runs[0].ID != run.ID || listed.Runs[0].Commit != run.Commit {
		t.Fatalf("SandboxList: %+v, %v; want the one run %s", listed, err, run.ID)
	}

	removed, err := idpkit.SandboxRemove(ctx, idpkit.SandboxRemoveOptions{ID: run.ID, Root: root})
	if err != nil || removed.ID != run.ID {
		t.Fatalf("SandboxRemove %s: %+v, %v", run.ID, removed, err)
	}
	if _, err := os.Stat(run.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the run's directory %s is still there after remove (%v)", run.Dir, err)
	}
	listed, err = idpkit.SandboxList(ctx, idpkit.SandboxRunsOptions{Root: root})
	if err != nil || len(listed.Runs) != 0 {
		t.Errorf("SandboxList after remove: %+v, %v; want no run", listed, err)
	}
	if _, err := idpkit.SandboxRemove(ctx, idpkit.SandboxRemoveOptions{ID: run.ID, Root: root}); !errors.Is(err, idpkit.ErrNotFound) {
		t.Errorf("removing %s twice: %v, want ErrNotFound", run.ID, err)
	}
}

// A wrong password is ErrAuth without the password in the message, and leaves no run.
func TestSandboxCloneWrongPasswordLeavesNothing(t *testing.T) {
	t.Parallel()
	r := newGitRig(t)
	ctx := t.Context()
	root := filepath.Join(t.TempDir(), "runs")
	const wrong = "pw-wrong-go-5e11"
	_, err := idpkit.SandboxClone(ctx, idpkit.SandboxCloneOptions{
		URL: r.url, Root: root, CAFiles: []string{r.ca}, NoPlatformRoots: true, CertsD: []string{},
	}, r.basic(wrong))
	var e *idpkit.Error
	if !errors.As(err, &e) || e.Kind != idpkit.KindAuth || !errors.Is(err, idpkit.ErrAuth) || strings.Contains(err.Error(), wrong) {
		t.Fatalf("SandboxClone with a wrong password: %v; want ErrAuth without the password", err)
	}
	listed, err := idpkit.SandboxList(ctx, idpkit.SandboxRunsOptions{Root: root})
	if err != nil || len(listed.Runs) != 0 {
		t.Errorf("SandboxList after the failed clone: %+v, %v; want no run", listed, err)
	}
	if left := visibleEntries(t, root); len(left) != 0 {
		t.Errorf("the failed clone left %v under %s", left, root)
	}
}

// A Rails project (Gemfile with rails and pg, a Bundler-written Gemfile.lock, .ruby-version
// 3.3.1) plans the Ruby 3.3 image holding 3.3.6 with postgres and nothing else.
func TestSandboxPlanRailsProject(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Gemfile":       railsGemfile,
		"Gemfile.lock":  railsGemfileLock,
		".ruby-version": "3.3.1\n",
	})
	p, err := idpkit.SandboxPlan(t.Context(), idpkit.SandboxPlanOptions{Dir: dir})
	if err != nil {
		t.Fatalf("SandboxPlan %s: %v", dir, err)
	}
	if p.Runtime == nil || *p.Runtime != "ruby" {
		t.Errorf("runtime %v, want ruby", p.Runtime)
	}
	if p.Image != "claude-sandbox:ruby-3.3" || p.Version != "3.3.6" {
		t.Errorf("image %q version %q, want claude-sandbox:ruby-3.3 and 3.3.6", p.Image, p.Version)
	}
	if got := serviceNames(p.Services); !reflect.DeepEqual(got, []string{"postgres"}) {
		t.Errorf("services %v, want [postgres]", got)
	}
	if !reflect.DeepEqual(p.Profiles, []string{"claude", "with-postgres"}) {
		t.Errorf("profiles %v, want [claude with-postgres]", p.Profiles)
	}
	if p.Fallback {
		t.Errorf("the plan fell back: %s", p.FallbackReason)
	}
}

// A directory with no project falls back to every service and says why.
func TestSandboxPlanEmptyDirFallsBack(t *testing.T) {
	t.Parallel()
	p, err := idpkit.SandboxPlan(t.Context(), idpkit.SandboxPlanOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("SandboxPlan of an empty directory: %v", err)
	}
	if !p.Fallback || strings.TrimSpace(p.FallbackReason) == "" {
		t.Errorf("fallback %v reason %q, want a fallback with its reason", p.Fallback, p.FallbackReason)
	}
	if got := serviceNames(p.Services); !reflect.DeepEqual(got, []string{"postgres", "mysql", "redis"}) {
		t.Errorf("services %v, want [postgres mysql redis]", got)
	}
}

// The Compose file of an empty directory is written where asked, holds every service, and
// the real docker-compose accepts it under the returned COMPOSE_PROFILES.
func TestSandboxComposeIsValidCompose(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	project := filepath.Join(tmp, "project")
	if err := os.Mkdir(project, 0o755); err != nil {
		t.Fatal(err)
	}
	output := filepath.Join(tmp, "out", "compose.yaml")
	if err := os.Mkdir(filepath.Dir(output), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := idpkit.SandboxCompose(t.Context(), idpkit.SandboxComposeOptions{Dir: project, Output: output})
	if err != nil {
		t.Fatalf("SandboxCompose %s: %v", project, err)
	}
	written, err := os.ReadFile(output)
	if err != nil || string(written) != c.Compose || c.Compose == "" {
		t.Fatalf("the output file %s (%v) does not hold the returned compose text", output, err)
	}
	if c.File != output {
		t.Errorf("file %q, want %q", c.File, output)
	}
	if c.ComposeProfiles != "claude,with-postgres,with-mysql,with-redis" {
		t.Errorf("compose_profiles %q", c.ComposeProfiles)
	}
	cmd := exec.Command("docker-compose", "-f", output, "config", "-q")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "COMPOSE_PROFILES="+c.ComposeProfiles)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker-compose -f %s config -q: %v\n%s\n--- the file:\n%s", output, err, out, c.Compose)
	}
}

// A Job for a git checkout (its origin and HEAD) is admitted by the rig's kube-apiserver in a
// dry run: services as native sidecars, no retries, nothing stored.
func TestSandboxJobDryRunOnTheRig(t *testing.T) {
	t.Parallel()
	kubeconfig := rigEnv("IDPKIT_RIG_KUBECONFIG")
	if kubeconfig == "" {
		t.Fatalf("peer kube-apiserver: IDPKIT_RIG_KUBECONFIG is missing: start the rig with tests/rig/up")
	}
	requirePeer(t, "kube-apiserver", "IDPKIT_RIG_KUBE_URL")
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "shop")
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@idpkit.invalid"}, args...)...)
		cmd.Dir = tmp
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main", repo)
	writeFiles(t, repo, map[string]string{"README.md": "shop\n"})
	git("-C", repo, "add", "README.md")
	git("-C", repo, "commit", "-qm", "one")
	git("-C", repo, "remote", "add", "origin", "https://example.com/org/shop.git")

	ctx := t.Context()
	job, err := idpkit.SandboxJob(ctx, idpkit.SandboxJobOptions{
		Dir: repo, Apply: true, DryRun: true, Cluster: idpkit.KubeOptions{Kubeconfig: kubeconfig},
	})
	if err != nil {
		t.Fatalf("SandboxJob --apply --dry-run of %s: %v", repo, err)
	}
	if !job.Applied || !job.DryRun || job.Uid != "" {
		t.Errorf("applied %v dry_run %v uid %q: want an admitted, unstored Job", job.Applied, job.DryRun, job.Uid)
	}
	if !strings.HasPrefix(job.Name, "sandbox-") {
		t.Errorf("name %q, want the sandbox- prefix", job.Name)
	}
	for _, want := range []string{"restartPolicy: Always", "backoffLimit: 0", "https://example.com/org/shop.git"} {
		if !strings.Contains(job.Manifest, want) {
			t.Errorf("the manifest lacks %q:\n%s", want, job.Manifest)
		}
	}

	_, err = idpkit.SandboxJob(ctx, idpkit.SandboxJobOptions{Dir: repo, Wait: true})
	if !errors.Is(err, idpkit.ErrInvalidInput) || !strings.Contains(err.Error(), "apply") {
		t.Errorf("wait without apply: %v; want ErrInvalidInput naming apply", err)
	}
}

// Options are parsed strictly: an unknown sandbox_plan field is ErrInvalidInput naming it.
func TestSandboxPlanUnknownOption(t *testing.T) {
	t.Parallel()
	_, err := idpkit.ResolveOptions(t.Context(), idpkit.ResolveOptionsOptions{
		Operation: "sandbox_plan", Options: map[string]any{"dir": t.TempDir(), "configg": "x.toml"},
	})
	if !errors.Is(err, idpkit.ErrInvalidInput) || !strings.Contains(err.Error(), "configg") {
		t.Fatalf("an unknown sandbox_plan option: %v; want ErrInvalidInput naming configg", err)
	}
}

const railsGemfile = `source "https://rubygems.org"

gem "rails", "~> 7.1.3"
gem "pg", "~> 1.5"
`

const railsGemfileLock = `GEM
  remote: https://rubygems.org/
  specs:
    pg (1.5.6)
    rails (7.1.3)

PLATFORMS
  x86_64-linux

DEPENDENCIES
  pg (~> 1.5)
  rails (~> 7.1.3)

BUNDLED WITH
   2.5.6
`
