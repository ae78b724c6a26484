package idpkit_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"idpkit.dev/idpkit"
)

// guardRepo is a clone made by the real git with main (checked out) and feature, its config
// isolated from the machine's through the environment the guard reads too.
func guardRepo(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	global := filepath.Join(tmp, "gitconfig")
	if err := os.WriteFile(global, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GIT_CONFIG_GLOBAL", global)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_AUTHOR_NAME", "t")
	t.Setenv("GIT_AUTHOR_EMAIL", "t@idpkit.invalid")
	t.Setenv("GIT_COMMITTER_NAME", "t")
	t.Setenv("GIT_COMMITTER_EMAIL", "t@idpkit.invalid")
	work := filepath.Join(tmp, "work")
	run := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run(tmp, "init", "-q", "-b", "main", "work")
	if err := os.WriteFile(filepath.Join(work, "a"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(work, "add", "a")
	run(work, "commit", "-qm", "one")
	run(work, "branch", "feature")
	run(work, "remote", "add", "origin", filepath.Join(tmp, "origin.git"))
	return work
}

func TestGitGuardCheckSeesEverySpelling(t *testing.T) {
	repo := guardRepo(t)
	ctx := context.Background()
	cases := []struct {
		args     []string
		decision string
		rule     string
	}{
		{[]string{"push", "-f", "origin", "main"}, "block", "force-push"},
		{[]string{"push", "origin", "-uf", "main"}, "block", "force-push"},
		{[]string{"push", "origin", "+HEAD:main"}, "block", "force-push"},
		{[]string{"push", "--force-w", "origin", "main"}, "block", "force-with-lease"},
		{[]string{"push", "-d", "origin", "main"}, "block", "delete"},
		{[]string{"-c", "alias.p=push --mirror", "p", "origin"}, "block", "mirror"},
		{[]string{"push", "origin", "main"}, "warn", "direct-push"},
		{[]string{"branch", "-D", "main"}, "warn", "branch-rewrite"},
	}
	for _, c := range cases {
		v, err := idpkit.GitGuardCheck(ctx, idpkit.GitGuardCheckOptions{Args: c.args, Dir: repo})
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if string(v.Decision) != c.decision {
			t.Errorf("%v: decision %q, want %q (%+v)", c.args, v.Decision, c.decision, v.Findings)
			continue
		}
		want := map[string]int64{"allow": 0, "block": 1, "warn": 2}[c.decision]
		if int64(v.ExitCode) != want {
			t.Errorf("%v: exit code %d, want %d", c.args, v.ExitCode, want)
		}
		found := false
		for _, f := range v.Findings {
			found = found || string(f.Rule) == c.rule
		}
		if !found {
			t.Errorf("%v: no %s finding in %+v", c.args, c.rule, v.Findings)
		}
	}
	v, err := idpkit.GitGuardCheck(ctx, idpkit.GitGuardCheckOptions{Args: []string{"push", "-f", "origin", "feature"}, Dir: repo})
	if err != nil || string(v.Decision) != "allow" || len(v.Findings) != 0 {
		t.Fatalf("a forced push of feature: %+v, %v", v, err)
	}
}

func TestGitGuardHookBlocksADeleteAndRejectsGarbage(t *testing.T) {
	repo := guardRepo(t)
	ctx := context.Background()
	head, err := exec.Command("git", "-C", repo, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	updates := "(delete) " + strings.Repeat("0", 40) + " refs/heads/main " + strings.TrimSpace(string(head)) + "\n"
	v, err := idpkit.GitGuardHook(ctx, idpkit.GitGuardHookOptions{Updates: updates, Dir: repo})
	if err != nil {
		t.Fatal(err)
	}
	if string(v.Decision) != "block" || len(v.Findings) != 1 || string(v.Findings[0].Rule) != "delete" {
		t.Fatalf("delete of main: %+v", v)
	}
	_, err = idpkit.GitGuardHook(ctx, idpkit.GitGuardHookOptions{Updates: "garbage\n", Dir: repo})
	if !errors.Is(err, idpkit.ErrInvalidInput) || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("garbage: %v", err)
	}
}
