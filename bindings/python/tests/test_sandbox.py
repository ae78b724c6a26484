"""Sandboxes from Python: a run is a fresh clone of the rig's git fixture over HTTPS (listed,
then removed with its directory; a wrong password is an AuthError leaving nothing), a Rails
project plans the Ruby image with postgres, an empty directory falls back to every service,
its Compose file passes the real ``docker-compose config``, and a Job for a git checkout is
admitted by the rig's kube-apiserver in a dry run. Without the rig these tests fail, naming
the peer."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

import idpkit
from idpkit import _idpkit

from .rig import assert_no_secret, need, need_file, need_listening

GEMFILE = """\
source "https://rubygems.org"

gem "rails", "~> 7.1.3"
gem "pg", "~> 1.5"
"""

GEMFILE_LOCK = """\
GEM
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
"""


def git_fixture() -> tuple[str, str, str, Path]:
    """The rig's git fixture over HTTPS: URL, user, password, CA."""
    peer = "nginx (git over HTTPS)"
    url = need(peer, "IDPKIT_RIG_GIT_FIXTURE_HTTPS")
    user = need(peer, "IDPKIT_RIG_GIT_USER")
    password = need(peer, "IDPKIT_RIG_GIT_PASSWORD")
    ca = need_file(peer, "IDPKIT_RIG_CA")
    need_listening(peer, url)
    return url, user, password, ca


def fixture_head() -> str:
    git_dir = need("nginx (git over HTTPS)", "IDPKIT_RIG_GIT_FIXTURE_DIR")
    out = subprocess.run(
        ["git", "--git-dir", git_dir, "rev-parse", "HEAD^{commit}"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def visible(root: Path) -> list[str]:
    """The names under ``root`` not starting with a dot (none when it does not exist)."""
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("."))


def test_clone_list_remove_over_https(tmp_path: Path) -> None:
    url, user, password, ca = git_fixture()
    root = tmp_path / "runs"
    run = idpkit.sandbox_clone(
        url,
        username=user,
        password=password,
        root=root,
        ca_files=[ca],
        no_platform_roots=True,
        certs_d=[],
    )
    assert re.fullmatch(r"[0-9a-f]{40}", run.commit), run.commit
    assert run.commit == fixture_head()
    assert run.url == url and run.dir.parent == root and run.checkout == run.dir / "src"
    for name in ("README.md", "counter.txt", "log/001.txt"):
        assert (run.checkout / name).is_file(), name
    assert_no_secret(repr(run), "the run's repr")

    listed = idpkit.sandbox_list(root=root)
    assert [r.id for r in listed.runs] == [run.id]
    assert listed.runs[0].commit == run.commit

    removed = idpkit.sandbox_remove(run.id, root=root)
    assert removed.id == run.id
    assert not run.dir.exists()
    assert idpkit.sandbox_list(root=root).runs == ()
    with pytest.raises(idpkit.NotFoundError):
        idpkit.sandbox_remove(run.id, root=root)


def test_a_wrong_password_is_auth_and_leaves_no_run(tmp_path: Path) -> None:
    url, user, _, ca = git_fixture()
    root = tmp_path / "runs"
    wrong = "pw-wrong-py-9c2e"
    with pytest.raises(idpkit.AuthError) as info:
        idpkit.sandbox_clone(
            url,
            username=user,
            password=wrong,
            root=root,
            ca_files=[ca],
            no_platform_roots=True,
            certs_d=[],
        )
    assert info.value.kind == idpkit.ErrorKind.AUTH
    assert wrong not in str(info.value)
    assert idpkit.sandbox_list(root=root).runs == ()
    assert visible(root) == []


def test_plan_of_a_rails_project(tmp_path: Path) -> None:
    (tmp_path / "Gemfile").write_text(GEMFILE)
    (tmp_path / "Gemfile.lock").write_text(GEMFILE_LOCK)
    (tmp_path / ".ruby-version").write_text("3.3.1\n")
    plan = idpkit.sandbox_plan(tmp_path)
    assert plan.runtime == "ruby"
    assert plan.image == "claude-sandbox:ruby-3.3"
    assert plan.version == "3.3.6"
    assert [s.name for s in plan.services] == ["postgres"]
    assert plan.profiles == ("claude", "with-postgres")
    assert plan.fallback is False, plan.fallback_reason


def test_plan_of_an_empty_directory_falls_back_to_every_service(tmp_path: Path) -> None:
    plan = idpkit.sandbox_plan(tmp_path)
    assert plan.fallback is True
    assert plan.fallback_reason and plan.fallback_reason.strip()
    assert [s.name for s in plan.services] == ["postgres", "mysql", "redis"]


def test_compose_file_passes_docker_compose_config(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    output = tmp_path / "out" / "compose.yaml"
    output.parent.mkdir()
    c = idpkit.sandbox_compose(project, output=output)
    assert output.read_text() == c.compose != ""
    assert c.file == output
    assert c.compose_profiles == "claude,with-postgres,with-mysql,with-redis"
    done = subprocess.run(
        ["docker-compose", "-f", str(output), "config", "-q"],
        cwd=tmp_path,
        env={**os.environ, "COMPOSE_PROFILES": c.compose_profiles},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr + "\n--- the file:\n" + c.compose


def test_job_dry_run_on_the_rig_and_wait_needs_apply(tmp_path: Path) -> None:
    peer = "kube-apiserver"
    kubeconfig = need_file(peer, "IDPKIT_RIG_KUBECONFIG")
    need_listening(peer, need(peer, "IDPKIT_RIG_KUBE_URL"))
    repo = tmp_path / "shop"
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for k in ("GIT_DIR", "GIT_WORK_TREE", "GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS"):
        env.pop(k, None)

    def git(*args: str) -> None:
        ident = ["-c", "user.name=t", "-c", "user.email=t@idpkit.invalid"]
        subprocess.run(["git", *ident, *args], cwd=tmp_path, env=env, check=True)

    git("init", "-q", "-b", "main", str(repo))
    (repo / "README.md").write_text("shop\n")
    git("-C", str(repo), "add", "README.md")
    git("-C", str(repo), "commit", "-qm", "one")
    git("-C", str(repo), "remote", "add", "origin", "https://example.com/org/shop.git")

    job = idpkit.sandbox_job(
        repo, apply=True, dry_run=True, cluster=idpkit.KubeOptions(kubeconfig=kubeconfig)
    )
    assert job.applied is True and job.dry_run is True
    assert job.uid is None
    assert job.name.startswith("sandbox-"), job.name
    assert "restartPolicy: Always" in job.manifest
    assert "backoffLimit: 0" in job.manifest
    assert "https://example.com/org/shop.git" in job.manifest

    with pytest.raises(idpkit.InvalidInputError, match="apply"):
        idpkit.sandbox_job(repo, wait=True)


def test_an_unknown_plan_option_is_named(tmp_path: Path) -> None:
    doc = json.dumps({"dir": str(tmp_path), "configg": "x.toml"})
    with pytest.raises(idpkit.InvalidInputError, match="configg") as info:
        _idpkit.call("sandbox_plan", None, doc)
    assert info.value.kind == idpkit.ErrorKind.INVALID_INPUT
