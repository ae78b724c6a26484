//! The command line itself, without a registry: help and its examples, completions, the
//! manual page, `images -q`, exit codes, and how credential flags are refused (always
//! naming the flag, never repeating the secret).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const SECRET: &str = "s3cret-pw-9d2e61c0";

fn idpkit(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_idpkit"));
    c.env("HOME", home.join("home"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("DOCKER_CONFIG", home.join("docker"))
        .env("IDPKIT_CERTS_D", "")
        .env("IDPKIT_STORE", home.join("store"))
        .env_remove("IDPKIT_REGISTRY_USERNAME")
        .env_remove("IDPKIT_REGISTRY_PASSWORD")
        .env_remove("IDPKIT_REGISTRY_TOKEN")
        .stdin(Stdio::null());
    c
}

fn run(mut c: Command, stdin: Option<&str>) -> Output {
    let out = match stdin {
        Some(input) => {
            c.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = c.spawn().unwrap();
            // The command may refuse before reading: a closed pipe is fine.
            let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
            child.wait_with_output().unwrap()
        }
        None => c.output().unwrap(),
    };
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(SECRET), "the secret leaked: {all}");
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and expects exit `code`; returns stderr.
fn fails_with(c: Command, stdin: Option<&str>, code: i32) -> String {
    let dbg = format!("{c:?}");
    let o = run(c, stdin);
    assert_eq!(
        o.status.code(),
        Some(code),
        "{dbg}: exit {:?}, wanted {code}\n{}{}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    stderr(&o)
}

const COMMANDS: &[&str] = &[
    "build",
    "images",
    "tag",
    "rmi",
    "inspect",
    "gc",
    "import",
    "export",
    "push",
    "pull",
    "login",
    "logout",
    "copy",
    "tags",
    "catalog",
    "delete",
    "trust check",
    "trust add",
    "trust extract",
    "completions",
    "man",
];

#[test]
fn every_command_help_has_an_example() {
    let tmp = tempfile::tempdir().unwrap();
    for cmd in COMMANDS {
        let mut c = idpkit(tmp.path());
        c.args(cmd.split(' ')).arg("--help");
        let o = run(c, None);
        assert!(o.status.success(), "{cmd} --help: {}", stderr(&o));
        let help = stdout(&o);
        let example = help
            .split_once("Example")
            .unwrap_or_else(|| panic!("`idpkit {cmd} --help` has no example:\n{help}"))
            .1;
        assert!(
            example.contains(&format!("idpkit {cmd}")),
            "the example of {cmd} does not run it:\n{help}"
        );
    }
}

#[test]
fn registry_commands_take_every_registry_option_with_help() {
    let tmp = tempfile::tempdir().unwrap();
    let shared = [
        "--insecure",
        "--ca-file",
        "--certs-d",
        "--no-platform-roots",
        "--jobs",
        "--attempts",
        "--retry-budget",
        "--backoff-base",
        "--backoff-max",
        "--connect-timeout",
        "--read-timeout",
        "--breaker-threshold",
        "--monolithic-max",
        "--chunk-size",
    ];
    let creds = [
        "--username",
        "--password-stdin",
        "--token-stdin",
        "--creds-file",
    ];
    for (cmd, platform) in [
        ("push", false),
        ("pull", true),
        ("copy", true),
        ("tags", false),
        ("catalog", false),
        ("delete", false),
        ("inspect", true),
    ] {
        let mut c = idpkit(tmp.path());
        c.args([cmd, "--help"]);
        let help = stdout(&run(c, None));
        for flag in shared.iter().chain(&creds) {
            let line = help
                .lines()
                .find(|l| l.trim_start().starts_with(flag))
                .unwrap_or_else(|| panic!("{cmd} has no {flag}:\n{help}"));
            // A flag, its value name, and a sentence of help.
            assert!(
                line.split_whitespace().count() >= 4,
                "{cmd} {flag} has no help: {line}"
            );
        }
        assert_eq!(help.contains("--platform"), platform, "{cmd}:\n{help}");
    }
    let mut c = idpkit(tmp.path());
    c.args(["copy", "--help"]);
    let help = stdout(&run(c, None));
    for flag in [
        "--source-username",
        "--source-password-stdin",
        "--source-token-stdin",
        "--source-creds-file",
    ] {
        assert!(help.contains(flag), "copy has no {flag}:\n{help}");
    }
    // Defaults shown are the core's.
    let mut c = idpkit(tmp.path());
    c.args(["pull", "--help"]);
    let help = stdout(&run(c, None));
    assert!(help.contains("[default: 4]"), "{help}");
}

#[test]
fn bad_registry_option_values_are_usage_errors_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--jobs", "0"),
        ("--attempts", "0"),
        ("--connect-timeout", "soon"),
        ("--read-timeout", "0"),
        ("--chunk-size", "0"),
    ] {
        let mut c = idpkit(tmp.path());
        c.args(["pull", "localhost:1/a:1", flag, value]);
        let err = fails_with(c, None, 2);
        assert!(err.contains(flag), "{flag} {value}: {err}");
    }
}

#[test]
fn completions_and_man_print_what_a_shell_and_man_read() {
    let tmp = tempfile::tempdir().unwrap();
    let gen = |args: &[&str]| {
        let mut c = idpkit(tmp.path());
        c.args(args);
        let o = run(c, None);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stdout(&o)
    };
    let bash = gen(&["completions", "bash"]);
    assert!(bash.contains("complete -F"), "{bash}");
    for sub in ["push", "pull", "copy", "login", "completions"] {
        assert!(bash.contains(sub), "bash completion lacks {sub}");
    }
    assert!(bash.contains("--password-stdin") && bash.contains("--certs-d"));
    let zsh = gen(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef idpkit"), "{zsh}");
    assert!(zsh.contains("push") && zsh.contains("--token-stdin"));
    let fish = gen(&["completions", "fish"]);
    assert!(fish.contains("complete -c idpkit"), "{fish}");
    assert!(fish.contains("push"));

    // bash itself sources it and registers the completion.
    let script = tmp.path().join("idpkit.bash");
    std::fs::write(&script, &bash).unwrap();
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p idpkit", script.display()))
        .output()
        .unwrap();
    assert!(
        o.status.success() && stdout(&o).contains("idpkit"),
        "bash could not source the completion: {}",
        stderr(&o)
    );

    let man = gen(&["man"]);
    assert!(man.contains(".TH idpkit 1"), "{man}");
    assert!(man.contains("push") && man.contains("completions"), "{man}");

    let mut c = idpkit(tmp.path());
    c.args(["completions", "tcsh"]);
    let err = fails_with(c, None, 2);
    assert!(err.contains("tcsh") && err.contains("bash"), "{err}");

    // A reader that stops early (`| head -1`) is not a failure: no panic, no error, exit 0.
    for args in [&["completions", "bash"][..], &["man"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader); // the reader is gone before the first byte is written
        let mut c = idpkit(tmp.path());
        c.args(args).stdout(writer).stderr(Stdio::piped());
        let o = c.output().unwrap();
        assert!(
            o.status.success() && o.stderr.is_empty(),
            "{args:?} into a closed pipe: {:?} {}",
            o.status,
            stderr(&o)
        );
    }
}

fn build(tmp: &Path, tags: &[&str]) {
    let ctx = tmp.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("hello.txt"), "hello\n").unwrap();
    let mut c = idpkit(tmp);
    c.arg("build").arg(&ctx);
    for t in tags {
        c.args(["-t", t]);
    }
    let o = run(c, None);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn images_quiet_prints_only_references() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), &["localhost/one:1", "localhost/two:2"]);
    for args in [
        &["images", "-q"][..],
        &["-q", "images"],
        &["images", "--quiet"],
    ] {
        let mut c = idpkit(tmp.path());
        c.args(args);
        let o = run(c, None);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut lines: Vec<String> = stdout(&o).lines().map(String::from).collect();
        lines.sort();
        assert_eq!(lines, ["localhost/one:1", "localhost/two:2"], "{args:?}");
    }
    // The table is unchanged without -q.
    let mut c = idpkit(tmp.path());
    c.arg("images");
    let table = stdout(&run(c, None));
    assert!(table.starts_with("REFERENCE"), "{table}");
    // What -q prints is what rmi takes.
    let mut c = idpkit(tmp.path());
    c.args(["rmi", "localhost/one:1", "localhost/two:2"]);
    assert!(run(c, None).status.success());
    let mut c = idpkit(tmp.path());
    c.args(["images", "-q"]);
    assert_eq!(stdout(&run(c, None)).trim(), "");
}

#[test]
fn exit_codes_tell_error_kinds_apart() {
    let tmp = tempfile::tempdir().unwrap();
    // NOT_FOUND: 3.
    let mut c = idpkit(tmp.path());
    c.args(["rmi", "localhost/nothing:here"]);
    let err = fails_with(c, None, 3);
    assert!(err.contains("error[NOT_FOUND]"), "{err}");
    // INVALID_INPUT: 2, like a usage error.
    let mut c = idpkit(tmp.path());
    c.args(["tag", "localhost/a:1", "Not A Reference"]);
    let err = fails_with(c, None, 2);
    assert!(err.contains("error[INVALID_INPUT]"), "{err}");
    let mut c = idpkit(tmp.path());
    c.args(["push", "--no-such-flag"]);
    fails_with(c, None, 2);
    // --json keeps the code.
    let mut c = idpkit(tmp.path());
    c.args(["--json", "inspect", "localhost/nothing:here"]);
    let err = fails_with(c, None, 3);
    assert!(err.contains("\"NOT_FOUND\""), "{err}");
    // NETWORK: 9 (nothing listens on port 1; one attempt, so it is quick).
    let mut c = idpkit(tmp.path());
    c.args([
        "tags",
        "127.0.0.1:1/a",
        "--insecure",
        "127.0.0.1:1",
        "--attempts",
        "1",
    ]);
    let err = fails_with(c, None, 9);
    assert!(err.contains("error[NETWORK]"), "{err}");
}

#[test]
fn credential_flags_are_refused_naming_the_flag_and_never_the_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], Option<String>, &[&str])] = &[
        // A user without a password source.
        (
            &["push", "localhost:1/a:1", "--username", "me"],
            None,
            &["--username", "--password-stdin"],
        ),
        // Two secrets on one standard input.
        (
            &[
                "copy",
                "localhost:1/a:1",
                "localhost:2/a:1",
                "--username",
                "me",
                "--password-stdin",
                "--source-token-stdin",
            ],
            Some(format!("{SECRET}\n")),
            &[
                "--password-stdin",
                "--source-token-stdin",
                "--source-creds-file",
            ],
        ),
        // Empty standard input.
        (
            &["pull", "localhost:1/a:1", "--token-stdin"],
            Some(String::new()),
            &["--token-stdin", "empty"],
        ),
        // Credentials on a command that does not use them.
        (
            &["inspect", "localhost/a:1", "--token-stdin"],
            Some(format!("{SECRET}\n")),
            &["--remote"],
        ),
    ];
    for (args, stdin, want) in cases {
        let mut c = idpkit(tmp.path());
        c.args(*args);
        let err = fails_with(c, stdin.as_deref(), 2);
        for w in *want {
            assert!(err.contains(w), "{args:?}: no {w} in {err}");
        }
    }

    // A malformed credentials file: named, its content never shown.
    let file = tmp.path().join("bad.creds");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let mut c = idpkit(tmp.path());
    c.args(["tags", "localhost:1/a", "--creds-file"]).arg(&file);
    let err = fails_with(c, None, 2);
    assert!(
        err.contains("--creds-file") && err.contains("bad.creds") && err.contains("USER:PASSWORD"),
        "{err}"
    );
    let mut c = idpkit(tmp.path());
    c.args([
        "copy",
        "a.example/a:1",
        "b.example/a:1",
        "--source-creds-file",
    ])
    .arg(tmp.path().join("missing.creds"));
    let err = fails_with(c, None, 3);
    assert!(
        err.contains("--source-creds-file") && err.contains("missing.creds"),
        "{err}"
    );
    // A password on the command line is not a thing.
    let mut c = idpkit(tmp.path());
    c.args(["push", "localhost:1/a:1", "--password", SECRET]);
    fails_with(c, None, 2);
}

#[test]
fn login_without_a_terminal_says_to_use_password_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = idpkit(tmp.path());
    c.args(["login", "localhost:1", "-u", "me"]);
    let err = fails_with(c, None, 2);
    assert!(
        err.contains("--password-stdin") && err.contains("terminal"),
        "{err}"
    );
}

/// Ctrl-C cancels whatever command runs: a `trust check` of a host that accepts and then
/// never speaks (it would wait for its read timeout) and a `pull` from it end with
/// CANCELLED's exit code 11 at once, and a second Ctrl-C is not needed.
#[test]
fn ctrl_c_cancels_any_command_with_exit_11() {
    let tmp = tempfile::tempdir().unwrap();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = silent.local_addr().unwrap().to_string();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let h = held.clone();
    std::thread::spawn(move || {
        for s in silent.incoming().flatten() {
            h.lock().unwrap().push(s);
        }
    });
    for args in [
        vec!["trust", "check", host.as_str()],
        vec!["pull", &format!("{host}/app:1")],
    ] {
        let mut c = idpkit(tmp.path());
        c.args(&args).stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = c.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(700));
        let t = std::time::Instant::now();
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let out = child.wait_with_output().unwrap();
        assert!(t.elapsed() < std::time::Duration::from_secs(5), "{args:?}");
        assert_eq!(out.status.code(), Some(11), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("CANCELLED"), "{}", stderr(&out));
    }
}

/// `doctor` names what is broken with the fix, never a secret, and exits 1 then; 0 when
/// nothing is wrong.
#[test]
fn doctor_reports_problems_with_their_fix_and_no_secret() {
    let tmp = tempfile::tempdir().unwrap();
    // A healthy machine, as far as idpkit can tell offline.
    let mut c = idpkit(tmp.path());
    c.args(["doctor", "--offline"]).env_remove("KUBECONFIG");
    let out = run(c, None);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("no problems found"));
    // A store path that is a file, a kubeconfig that does not parse, credentials in the
    // environment (named, never shown).
    std::fs::write(tmp.path().join("store"), "not a directory").unwrap();
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(&kubeconfig, "apiVersion: v1\nclusters: [oops\n").unwrap();
    let mut c = idpkit(tmp.path());
    c.args([
        "--json",
        "doctor",
        "--offline",
        "--registry",
        "registry.example.com",
    ])
    .args(["--kubeconfig", kubeconfig.to_str().unwrap()])
    .env("IDPKIT_REGISTRY_USERNAME", "robot")
    .env("IDPKIT_REGISTRY_PASSWORD", SECRET);
    let out = run(c, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stdout(&out).contains(SECRET) && !stderr(&out).contains(SECRET));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["problems"], 2, "{report}");
    let check = |area: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["area"] == area)
            .unwrap()
            .clone()
    };
    // Problems first.
    assert_eq!(report["checks"][0]["status"], "problem");
    let store = check("store");
    assert_eq!(store["status"], "problem");
    assert!(store["detail"]
        .as_str()
        .unwrap()
        .contains("is not a directory"));
    assert!(store["fix"].is_string());
    let cluster = check("cluster");
    assert_eq!(cluster["status"], "problem");
    assert!(
        cluster["detail"].as_str().unwrap().contains("kubeconfig"),
        "{cluster}"
    );
    let creds = check("credentials");
    assert_eq!(creds["status"], "ok");
    assert!(creds["detail"]
        .as_str()
        .unwrap()
        .contains("user robot (from IDPKIT_REGISTRY_USERNAME"));
}
