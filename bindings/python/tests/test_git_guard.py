"""The git push guard from Python, on repositories made by the real git: a forced push to a
protected branch is blocked in any spelling, a direct push warns, a feature branch passes, the
pre-push hook's input decides a delete, and malformed hook input is InvalidInputError."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

import idpkit
import idpkit.aio


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return out.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clone with `main` (checked out) and `feature`, its config isolated from the machine's."""
    (tmp_path / "gitconfig").write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for k in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(k, "t")
    for k in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(k, "t@idpkit.invalid")
    for k in ("GIT_DIR", "GIT_WORK_TREE", "GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS"):
        monkeypatch.delenv(k, raising=False)
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", "-b", "main", "work")
    (work / "a").write_text("1")
    git(work, "add", "a")
    git(work, "commit", "-qm", "one")
    git(work, "branch", "feature")
    git(work, "remote", "add", "origin", str(tmp_path / "origin.git"))
    return work


@pytest.mark.parametrize(
    ("args", "decision", "rule"),
    [
        (["push", "-f", "origin", "main"], "block", "force-push"),
        (["push", "origin", "-uf", "main"], "block", "force-push"),
        (["push", "origin", "+HEAD:main"], "block", "force-push"),
        (["push", "--force-with-lease", "origin", "main"], "block", "force-with-lease"),
        (["push", "--mirror", "origin"], "block", "mirror"),
        (["push", "origin", ":main"], "block", "delete"),
        (["-c", "alias.p=push --force", "p", "origin", "main"], "block", "force-push"),
        (["push", "origin", "main"], "warn", "direct-push"),
        (["reset", "--hard"], "warn", "reset-hard"),
    ],
)
def test_check_decides_like_git_reads(
    repo: Path, args: list[str], decision: str, rule: str
) -> None:
    v = idpkit.git_guard_check(args, dir=repo)
    assert v.decision == decision
    assert v.exit_code == {"allow": 0, "block": 1, "warn": 2}[decision]
    assert rule in [f.rule for f in v.findings]


def test_a_feature_branch_passes_and_aliases_are_reported(repo: Path) -> None:
    v = idpkit.git_guard_check(["push", "-f", "origin", "feature"], dir=repo)
    assert v.decision == "allow" and v.exit_code == 0 and v.findings == ()
    v = idpkit.git_guard_check(["-c", "alias.p=push -f", "p", "origin", "main"], dir=repo)
    assert v.aliases == ("p",) and v.command == "push"
    assert v.findings[0].reference == "refs/heads/main"


def test_the_policy_comes_from_the_sandbox_config(repo: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "policy.toml"
    cfg.write_text('[git_guard]\nprotected = ["trunk"]\n')
    v = idpkit.git_guard_check(["push", "-f", "origin", "main"], dir=repo, config=cfg)
    assert v.decision == "allow"
    assert v.policy_file is not None and Path(v.policy_file) == cfg


def test_the_hook_blocks_a_delete_and_rejects_garbage(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    zero = "0" * 40
    v = idpkit.git_guard_hook(f"(delete) {zero} refs/heads/main {head}\n", dir=repo)
    assert v.decision == "block"
    assert [f.rule for f in v.findings] == ["delete"]
    with pytest.raises(idpkit.InvalidInputError, match="line 1"):
        idpkit.git_guard_hook("not a ref update\n", dir=repo)


def test_the_process_environment_is_what_git_would_see(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "alias.ship")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "push --force")
    v = idpkit.git_guard_check(["ship", "origin", "main"], dir=repo)
    assert v.decision == "block", os.environ.get("GIT_CONFIG_COUNT")


def test_the_asyncio_variant_gives_the_same_verdict(repo: Path) -> None:
    v = asyncio.run(idpkit.aio.git_guard_check(["push", "-f", "origin", "main"], dir=repo))
    assert v.decision == "block"
