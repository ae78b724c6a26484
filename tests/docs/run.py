#!/usr/bin/env python3
"""Runs the code blocks of README.md and docs/*.md against the rig, so a doc example that no
longer runs fails CI (issue 21).

Usage: tests/docs/run.py [--list] [FILE[:LINE] ...]   (FILE relative to the repository)

What runs, by the fence's language:
  sh      bash -eo pipefail, with the release CLI (target/release/idpkit) first on PATH, in a
          temporary HOME and working directory. The blocks of one file share that HOME, store
          and directory, in order, so a later block sees what an earlier one built or pushed.
  python  the repository's .venv/bin/python, same HOME and directory.
  ts, js  transpiled with bindings/node's TypeScript (to an ES module, so top-level await
          works) and run with node; `idpkit` resolves to bindings/node.
  go      compiled (and run) in a temporary module that requires idpkit.dev/idpkit replaced by
          bindings/go. A fragment (no `package` line) is wrapped in `func main()` with `ctx` (a
          context.Background()), the imports it names among context, errors, fmt, log, os and
          idpkit, and `_ = name` for every name it declares at its top level with `:=`.
  c       compiled with `pkg-config idpkit` (target/release/pkgconfig), linked to the shared
          library and run. A fragment (no `main(`) is wrapped in `int main(void)` after
          `#include "idpkit.h"`, and only compiled.
  rust    type-checked with rustc against the core crate of the release CLI's build (the rlib
          cargo reports), like a doctest: a fragment (no `fn main`) is wrapped in
          `fn main() -> Result<(), Box<dyn std::error::Error>>`. Not run: linking against the
          release rlibs takes about 50 s a block.
Blocks of other languages (or none) are not code and are not counted.

Before running, the block's text is pointed at the rig (the mapping is printed with --list):
idpbuilder's Gitea `gitea.cnoe.localtest.me:8443` becomes the rig's Gitea registry,
`registry.local:5000` and `localhost:5000` its plain-HTTP registry, `/path/to/idpkit` this
checkout, `/tmp/idpkit-store`, `/tmp/store`, `/tmp/other` and `/var/tmp/idpkit-store` directories
of the run, and `idpkit trust extract` without `--host` gets the rig's Gitea host (the doc relies
on the default host, which is idpbuilder's :8443). KUBECONFIG is the rig's kubeconfig. Every run
starts with `./app` (a copy of examples/hello) and `examples` (a link to the checkout's).

Directives: HTML comments right before the fence (blank lines between are fine), one per
comment, written `<!-- docs-test: DIRECTIVE -->`:
  skip (REASON)           not run; reported as skipped with the reason
  compile-only (REASON)   go, c, rust, ts: compiled (or transpiled and type-checked), not run
  flags-only (REASON)     sh: not run; every `--flag`/`-f` of every `idpkit ...` line must be
                          one that `idpkit SUBCOMMAND --help` lists
  setup=NAME[,NAME...]    run the named setups (see SETUPS) first, once per file
  env NAME=VALUE          an environment variable for the block; $IDPKIT_RIG_* are expanded
  prelude CODE            go, c, rust: code placed before the block inside main; ts: before
                          the block
  prelude-top CODE        c: code placed before main (a callback the fragment names)
Files whose blocks this runner may not edit get the same directives from
tests/docs/overrides.txt (FILE :: TEXT IN THE BLOCK :: DIRECTIVE).

A block fails when it exits non-zero, times out (BLOCK_TIMEOUT seconds), or prints a password
or token of the rig.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BLOCK_TIMEOUT = int(os.environ.get("IDPKIT_DOCS_BLOCK_TIMEOUT", "90"))
LANGS = {
    "sh": "sh",
    "bash": "sh",
    "shell": "sh",
    "python": "python",
    "py": "python",
    "ts": "ts",
    "typescript": "ts",
    "js": "ts",
    "javascript": "ts",
    "go": "go",
    "c": "c",
    "rust": "rust",
}
DIRECTIVE = re.compile(r"<!--\s*docs-test:\s*(.*?)\s*-->")
SECRET_VARS = [
    "IDPKIT_RIG_REGISTRY_PASSWORD",
    "IDPKIT_RIG_GITEA_PASSWORD",
    "IDPKIT_RIG_GITEA_TOKEN",
    "IDPKIT_RIG_GITEA_REGISTRY_TOKEN",
    "IDPKIT_RIG_KUBE_TOKEN",
    "IDPKIT_RIG_GIT_PASSWORD",
]


def load_rig():
    rig_dir = Path(os.environ.get("IDPKIT_RIG_DIR", REPO / ".rig"))
    env = {}
    for line in (rig_dir / "rig.env").read_text().splitlines():
        m = re.match(r"export (IDPKIT_RIG_\w+)='(.*)'$", line)
        if m:
            env[m.group(1)] = m.group(2)
    return env


class Block:
    def __init__(self, file, line, lang, code, directives):
        self.file, self.line, self.lang, self.code = file, line, lang, code
        self.directives = directives

    @property
    def name(self):
        return f"{self.file}:{self.line} ({self.lang})"

    def get(self, key):
        """The argument of the first directive KEY (e.g. 'skip'), or None."""
        for d in self.directives:
            m = re.match(rf"{re.escape(key)}(?:\s*=\s*|\s+|$)(.*)$", d, re.DOTALL)
            if m:
                return (
                    m.group(1).strip().removeprefix("(").removesuffix(")")
                    or "no reason given"
                )
        return None

    def all(self, key):
        return [
            m.group(1)
            for d in self.directives
            if (m := re.match(rf"{re.escape(key)}\s+(.*)$", d, re.DOTALL))
        ]


def extract(path, overrides):
    rel = str(path.relative_to(REPO))
    lines = path.read_text().splitlines()
    blocks, pending, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        m = DIRECTIVE.search(line)
        if m:
            pending.append(m.group(1))
            i += 1
            continue
        fence = re.match(r"^(`{3,})\s*([\w+-]*)", line)
        if fence:
            ticks, lang = fence.group(1), fence.group(2).lower()
            start = i + 1
            j = start
            while j < len(lines) and not lines[j].startswith(ticks):
                j += 1
            code = "\n".join(lines[start:j]) + "\n"
            if lang in LANGS:
                directives = list(pending)
                for ofile, needle, directive in overrides:
                    if ofile == rel and needle in code:
                        directives.append(directive)
                blocks.append(Block(rel, i + 1, LANGS[lang], code, directives))
            pending = []
            i = j + 1
            continue
        if line.strip():
            pending = []
        i += 1
    return blocks


def load_overrides():
    out = []
    f = REPO / "tests/docs/overrides.txt"
    if f.exists():
        for line in f.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                parts = [p.strip() for p in line.split("::")]
                if len(parts) != 3:
                    sys.exit(
                        f"tests/docs/overrides.txt: expected FILE :: TEXT :: DIRECTIVE, got {line!r}"
                    )
                out.append(tuple(parts))
    return out


class Session:
    """One temporary HOME, working directory and store per documentation file."""

    def __init__(self, root, rig, name):
        self.dir = root / re.sub(r"[^\w.-]", "_", name)
        self.home, self.work = self.dir / "home", self.dir / "work"
        self.work.mkdir(parents=True)
        self.home.mkdir()
        shutil.copytree(REPO / "examples/hello", self.work / "app")
        (self.work / "examples").symlink_to(REPO / "examples")
        bindir = self.dir / "bin"
        bindir.mkdir()
        (bindir / "idpkit").symlink_to(REPO / "target/release/idpkit")
        self.rig = rig
        self.done = set()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("IDPKIT_", "DOCKER_", "REGISTRY_", "XDG_", "SSL_CERT"))
            and k not in ("KUBECONFIG",)
        }
        env.update(rig)
        env.update(
            {
                "HOME": str(self.home),
                "XDG_CONFIG_HOME": str(self.home / ".config"),
                "XDG_DATA_HOME": str(self.home / ".local/share"),
                "KUBECONFIG": rig["IDPKIT_RIG_KUBECONFIG"],
                # cargo and rustup stay where they are installed, whatever HOME the docs get
                "RUSTUP_HOME": os.environ.get("RUSTUP_HOME")
                or str(Path.home() / ".rustup"),
                "CARGO_HOME": os.environ.get("CARGO_HOME")
                or str(Path.home() / ".cargo"),
                "IDPKIT_CERTS_D": "",  # not /etc/docker/certs.d: only what the docs' commands add
                "PATH": f"{bindir}:{os.environ['PATH']}",
                "GOFLAGS": "-mod=mod",
                "GOTOOLCHAIN": "local",
                "GOPROXY": "off",
                "GOCACHE": os.environ.get("GOCACHE")
                or str(Path.home() / ".cache/go-build"),
                "GOPATH": os.environ.get("GOPATH") or str(Path.home() / "go"),
            }
        )
        self.env = env

    def mapping(self):
        g, p = (
            self.rig["IDPKIT_RIG_GITEA_REGISTRY"],
            self.rig["IDPKIT_RIG_REGISTRY_PLAIN"],
        )
        return [
            ("gitea.cnoe.localtest.me:8443", g),
            ("registry.local:5000", p),
            ("localhost:5000", p),
            ("/path/to/idpkit", str(REPO)),
            ("/var/tmp/idpkit-store", str(self.dir / "stores/idpkit-store")),
            ("/tmp/idpkit-store", str(self.dir / "stores/idpkit-store")),
            ("/tmp/store", str(self.dir / "stores/store")),
            ("/tmp/other", str(self.dir / "stores/other")),
        ]

    def map(self, code, lang):
        for a, b in self.mapping():
            code = code.replace(a, b)
        if lang == "sh":
            code = re.sub(
                r"(idpkit trust extract)(?![^\n#]*--host)",
                rf"\1 --host {self.rig['IDPKIT_RIG_GITEA_REGISTRY']}",
                code,
            )
        return code

    def sh(self, script, timeout=BLOCK_TIMEOUT, env=None):
        return run(
            ["bash", "-eo", "pipefail", "-c", script],
            self.work,
            env or self.env,
            timeout,
        )

    def setup(self, names):
        for name in names:
            if name in self.done:
                continue
            if name not in SETUPS:
                raise SystemExit(f"unknown setup {name!r} (known: {', '.join(SETUPS)})")
            for dep in SETUPS[name][0]:
                self.setup([dep])
            r = self.sh(SETUPS[name][1])
            if r.returncode != 0:
                raise RuntimeError(f"setup {name} failed:\n{r.stdout}{r.stderr}")
            self.done.add(name)


# name -> (setups it needs first, bash run in the session's working directory)
SETUPS = {
    "hello": (
        [],
        (
            "idpkit -q build examples/hello -t localhost/hello:latest --prefix /app --workdir /app "
            '--cmd \'["python3", "/app/server.py"]\' >/dev/null'
        ),
    ),
    "hello-dev": (
        ["hello"],
        "idpkit -q tag localhost/hello:latest localhost/hello:dev",
    ),
    "umoci-layout": (
        [],
        (
            "skopeo copy -q oci:$IDPKIT_RIG_OCI_LAYOUT:$IDPKIT_RIG_OCI_TAG oci:umoci-layout:base"
            " && mkdir -p more && echo more > more/more.txt"
        ),
    ),
    "gitea-trust": (
        [],
        "idpkit -q trust extract --host $IDPKIT_RIG_GITEA_REGISTRY >/dev/null",
    ),
    "gitea-login": (
        ["gitea-trust"],
        "idpkit -q login --from-cluster $IDPKIT_RIG_GITEA_REGISTRY >/dev/null",
    ),
    # :old is another image than :dev, so deleting it deletes no other tag
    "seed-plain": (
        ["hello"],
        (
            "idpkit -q push localhost/hello:latest $IDPKIT_RIG_REGISTRY_PLAIN/team/app:dev >/dev/null"
            " && idpkit -q build examples/hello -t localhost/hello:old --label docs-test=old >/dev/null"
            " && idpkit -q push localhost/hello:old $IDPKIT_RIG_REGISTRY_PLAIN/team/app:old >/dev/null"
        ),
    ),
    "app-dev": (["hello"], "idpkit -q tag localhost/hello:latest app:dev"),
    # base:1 in the store the docs' /var/tmp/idpkit-store (or /tmp/idpkit-store) maps to
    "base-1": (
        [],
        "idpkit -q --store ../stores/idpkit-store build examples/hello -t base:1 >/dev/null",
    ),
    "dist": ([], "mkdir -p dist && echo 'console.log(1)' > dist/server.js"),
    "ca-files": ([], "cp $IDPKIT_RIG_GITEA_CA ca.crt && cp $IDPKIT_RIG_CA ca.pem"),
    "c-app": (
        [],
        f"cp {REPO}/tests/docs/fixtures/app.c app.c && ln -sfn {REPO}/target target",
    ),
    "go-module": ([], "go mod init example.com/app >/dev/null 2>&1"),
    # GitRepository flux-system/podinfo, Ready with the rig's fixture tarball: what the watch
    # examples watch
    "flux-podinfo": ([], f"bash {REPO}/tests/docs/fixtures/flux-podinfo.sh"),
    # examples/rails-shop on `main` of the rig's git repository rails-shop.git: what the
    # sandbox walk-through clones
    "rails-shop-repo": ([], f"bash {REPO}/tests/docs/fixtures/rails-shop-repo.sh"),
}


def run(cmd, cwd, env, timeout):
    try:
        return subprocess.run(
            cmd,
            cwd=cwd,
            env=env,
            timeout=timeout,
            text=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return subprocess.CompletedProcess(
            cmd, 124, out, f"timed out after {timeout}s\n"
        )


def check(r, what):
    if r.returncode != 0:
        raise RuntimeError(
            f"{what} exited {r.returncode}\n{r.stdout[-3000:]}{r.stderr[-3000:]}"
        )
    return r


# --- per language -------------------------------------------------------------------------


def run_sh(s, b, code, env):
    if b.get("flags-only"):
        return flags_only(s, code)
    return check(s.sh(code, env=env), "the block")


def flags_only(s, code):
    """Every flag of every `idpkit ...` command line is one its --help lists."""
    out = []
    for line in code.replace("\\\n", " ").splitlines():
        line = line.split(" #", 1)[0]
        for m in re.finditer(r"(?:^|[|;&(<]\s*|\$\()\s*idpkit\s+([^|;&)<>]*)", line):
            words = m.group(1).split()
            sub = []
            for w in words:
                if w.startswith("-") or not re.match(r"^[a-z][a-z-]*$", w) or len(sub) == 3:
                    break
                sub.append(w)
            helptext = ""
            while sub:
                r = run(["idpkit", *sub, "--help"], s.work, s.env, 20)
                if r.returncode == 0 and "Usage: idpkit " + " ".join(sub) in r.stdout:
                    helptext = r.stdout
                    break
                sub.pop()
            if not helptext:
                raise RuntimeError(f"no idpkit subcommand in: {line.strip()}")
            for w in words:
                if w == "--":
                    break  # what follows is another program's (git-guard check -- git args)
                flag = w.split("=", 1)[0]
                if re.match(r"^--?[A-Za-z]", flag) and not re.search(
                    rf"(?<![\w-]){re.escape(flag)}(?![\w-])", helptext
                ):
                    raise RuntimeError(
                        f"`idpkit {' '.join(sub)}` has no flag {flag} (line: {line.strip()})"
                    )
            out.append(" ".join(sub))
    if not out:
        raise RuntimeError("flags-only: no idpkit command in the block")
    return subprocess.CompletedProcess(
        [], 0, "checked flags of: " + ", ".join(out) + "\n", ""
    )


def run_python(s, b, code, env):
    f = s.dir / f"block{b.line}.py"
    f.write_text(code)
    return check(
        run([str(REPO / ".venv/bin/python"), str(f)], s.work, env, BLOCK_TIMEOUT),
        "python",
    )


def run_ts(s, b, code, env):
    d = s.dir / f"ts{b.line}"
    (d / "node_modules").mkdir(parents=True)
    (d / "node_modules/idpkit").symlink_to(REPO / "bindings/node")
    (d / "block.ts").write_text("\n".join(b.all("prelude")) + "\n" + code)
    # The block is transpiled as an ES module (top-level await) by the TypeScript the Node
    # package locks; a transpile reports syntax errors only, the runs below catch the rest.
    transpile = (
        "const ts = require(process.argv[1]); const fs = require('fs');"
        "const src = fs.readFileSync('block.ts', 'utf8');"
        "const r = ts.transpileModule(src, {reportDiagnostics: true, compilerOptions: "
        "{module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022}});"
        "if (r.diagnostics.length) { for (const x of r.diagnostics) console.error(ts.flattenDiagnosticMessageText(x.messageText, '\\n')); process.exit(1) }"
        "fs.writeFileSync('block.mjs', r.outputText)"
    )
    check(
        run(
            [
                "node",
                "-e",
                transpile,
                str(REPO / "bindings/node/node_modules/typescript"),
            ],
            d,
            env,
            60,
        ),
        "transpile",
    )
    if b.get("compile-only"):
        return subprocess.CompletedProcess([], 0, "transpiled\n", "")
    return check(
        run(["node", str(d / "block.mjs")], s.work, env, BLOCK_TIMEOUT), "node"
    )


GO_PKGS = ["context", "errors", "fmt", "log", "os"]


def go_wrap(code, preludes):
    if re.search(r"^package ", code, re.MULTILINE):
        return code
    body = "\n".join(preludes) + "\n" + code
    names = set()
    for line in body.splitlines():
        m = re.match(r"^([A-Za-z_][\w]*(?:\s*,\s*[A-Za-z_]\w*)*)\s*:=", line)
        if m:
            names |= {n.strip() for n in m.group(1).split(",")}
    names.discard("_")
    imports = [p for p in GO_PKGS if p == "context" or re.search(rf"\b{p}\.", body)]
    used = "".join(f"\t_ = {n}\n" for n in sorted(names))
    return (
        "package main\n\nimport (\n"
        + "".join(f'\t"{p}"\n' for p in imports)
        + '\n\t"idpkit.dev/idpkit"\n)\n\nfunc main() {\n\tctx := context.Background()\n\t_ = ctx\n'
        + body
        + "\n"
        + used
        + "}\n"
    )


def run_go(s, b, code, env):
    d = s.dir / f"go{b.line}"
    d.mkdir()
    (d / "go.mod").write_text(
        f"module docsexample\n\ngo 1.24\n\nrequire idpkit.dev/idpkit v0.0.0\n\n"
        f"replace idpkit.dev/idpkit => {REPO / 'bindings/go'}\n"
    )
    (d / "main.go").write_text(go_wrap(code, b.all("prelude")))
    check(run(["go", "build", "-o", "block", "."], d, env, 180), "go build")
    if b.get("compile-only"):
        return subprocess.CompletedProcess([], 0, "compiled\n", "")
    return check(run([str(d / "block")], s.work, env, BLOCK_TIMEOUT), "the program")


def run_c(s, b, code, env):
    d = s.dir / f"c{b.line}"
    d.mkdir()
    full = "main(" in code
    if not full:
        code = (
            '#include <stdio.h>\n#include <stdlib.h>\n#include "idpkit.h"\n'
            + "\n".join(b.all("prelude-top"))
            + "\nint main(void) {\n"
            + "\n".join(b.all("prelude"))
            + "\n"
            + code
            + "\nreturn 0;\n}\n"
        )
    (d / "block.c").write_text(code)
    pc = REPO / "target/release/pkgconfig"
    cenv = dict(env, PKG_CONFIG_PATH=str(pc))
    flags = check(
        run(["pkg-config", "--cflags", "--libs", "idpkit"], d, cenv, 20), "pkg-config"
    ).stdout.split()
    warn = [
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wno-unused-variable",
        "-Wno-unused-but-set-variable",
        "-Wno-unused-parameter",
        "-Wno-unused-label",
    ]
    check(
        run(
            [
                "gcc",
                "-std=gnu11",
                *warn,
                "block.c",
                "-o",
                "block",
                *flags,
                f"-Wl,-rpath,{REPO / 'target/release'}",
            ],
            d,
            cenv,
            60,
        ),
        "gcc",
    )
    if b.get("compile-only") or not full:
        return subprocess.CompletedProcess([], 0, "compiled\n", "")
    return check(run([str(d / "block")], s.work, env, BLOCK_TIMEOUT), "the program")


_RLIB = None


def core_rlib():
    """The core crate's rlib from the release CLI's build (the suite builds the CLI first)."""
    global _RLIB
    if _RLIB is None:
        r = check(
            run(
                [
                    "cargo",
                    "build",
                    "--release",
                    "-p",
                    "idpkit-cli",
                    "--locked",
                    "--message-format=json",
                ],
                REPO,
                os.environ,
                600,
            ),
            "cargo build",
        )
        for line in r.stdout.splitlines():
            m = json.loads(line)
            if (
                m.get("reason") == "compiler-artifact"
                and m["target"]["name"] == "idpkit"
                and "lib" in m["target"]["kind"]
            ):
                rmeta = [f for f in m["filenames"] if f.endswith(".rmeta")]
                _RLIB = rmeta[0][: -len(".rmeta")] + ".rlib"
        if not _RLIB:
            raise RuntimeError("cargo did not report the core crate's rlib")
    return _RLIB


def run_rust(s, b, code, env):
    d = s.dir / f"rust{b.line}"
    d.mkdir()
    if "fn main" not in code:
        code = (
            "fn main() -> Result<(), Box<dyn std::error::Error>> {\n"
            + "\n".join(b.all("prelude"))
            + "\n"
            + code
            + "\nOk(())\n}\n"
        )
    (d / "block.rs").write_text(code)
    deps = REPO / "target/release/deps"
    # Type-checked only: linking a program against the release build's LTO rlibs takes about
    # 50 s a block, too long for this suite; what a doc example gets wrong is caught by rustc's
    # type check (names, signatures, types), which takes a second or two.
    compile_only = True
    cmd = [
        "rustc",
        "--edition",
        "2021",
        "--crate-type",
        "bin",
        "-A",
        "unused",
        "-C",
        "opt-level=0",
        "-L",
        f"dependency={deps}",
        "--extern",
        f"idpkit={core_rlib()}",
        "block.rs",
        "-o",
        "block",
    ]
    if compile_only:
        cmd += ["--emit", "metadata"]
    check(run(cmd, d, env, 180), "rustc")
    if compile_only:
        return subprocess.CompletedProcess([], 0, "compiled\n", "")
    return check(run([str(d / "block")], s.work, env, BLOCK_TIMEOUT), "the program")


RUNNERS = {
    "sh": run_sh,
    "python": run_python,
    "ts": run_ts,
    "go": run_go,
    "c": run_c,
    "rust": run_rust,
}


def main(argv):
    files = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
    overrides = load_overrides()
    blocks = [b for f in files for b in extract(f, overrides)]
    only = [a for a in argv if not a.startswith("--")]
    if only:
        blocks = [
            b
            for b in blocks
            if any(
                b.file == o.split(":")[0]
                and (":" not in o or str(b.line) == o.split(":")[1])
                for o in only
            )
        ]
    rig = load_rig()
    secrets = [rig[k] for k in SECRET_VARS if rig.get(k)]
    if "--list" in argv:
        for b in blocks:
            print(b.name, "; ".join(b.directives))
        return 0
    root = Path(tempfile.mkdtemp(prefix="idpkit-docs-"))
    # mkdtemp makes it 0700; `sandbox up` run as root starts postgres as its own user, which
    # must be able to enter every directory on the way to its data (docs/sandbox.md).
    root.chmod(0o755)
    sessions, counts, failures, skips = (
        {},
        {"passed": 0, "skipped": 0, "failed": 0},
        [],
        [],
    )
    start = time.monotonic()
    for b in blocks:
        skip = b.get("skip")
        if skip:
            counts["skipped"] += 1
            skips.append((b.name, skip))
            print(f"skip {b.name}: {skip}", flush=True)
            continue
        s = sessions.get(b.file) or sessions.setdefault(
            b.file, Session(root, rig, b.file)
        )
        t0 = time.monotonic()
        try:
            setup = b.get("setup")
            if setup:
                s.setup([n.strip() for n in setup.split(",")])
            env = dict(s.env)
            for e in b.all("env"):
                k, _, v = e.partition("=")
                env[k.strip()] = os.path.expandvars(
                    re.sub(r"\$(IDPKIT_RIG_\w+)", lambda m: rig[m.group(1)], v)
                )
            r = RUNNERS[b.lang](s, b, s.map(b.code, b.lang), env)
            leaked = [True for x in secrets if x in (r.stdout or "") + (r.stderr or "")]
            if leaked:
                raise RuntimeError("the output contains a password or token of the rig")
            mode = (
                " (compile-only)"
                if b.get("compile-only") or b.lang == "rust"
                else " (flags-only)"
                if b.get("flags-only")
                else ""
            )
            counts["passed"] += 1
            print(f"ok   {b.name}{mode} {time.monotonic() - t0:.1f}s", flush=True)
        except Exception as e:  # noqa: BLE001 - one block's failure is reported, the rest still run
            counts["failed"] += 1
            msg = str(e)
            for x in secrets:
                msg = msg.replace(x, "<rig secret>")
            failures.append((b.name, msg))
            print(
                f"FAIL {b.name} {time.monotonic() - t0:.1f}s\n"
                + "\n".join("     " + line for line in msg.splitlines()),
                flush=True,
            )
    if "--keep" not in argv:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print("kept", root)
    print(
        f"\ndocs: {counts['passed']} passed, {counts['skipped']} skipped, {counts['failed']} failed "
        f"({len(blocks)} code blocks, {time.monotonic() - start:.0f}s)"
    )
    for name, why in failures:
        print(f"failed: {name}: {why.splitlines()[0] if why else ''}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
