//! PostgreSQL from Debian's packages (`/usr/lib/postgresql/N/bin`, newest first, then
//! PATH): `initdb` once with the password from a file of mode 0600 (scram-sha-256 for
//! every connection), the database made in single-user mode, then `postgres` on a loopback
//! port without a Unix socket (its path limit of 107 bytes would tie the run directory's
//! depth), durability off (throwaway data), ready when `pg_isready` says so, stopped with
//! SIGINT (fast shutdown). Postgres refuses root: as root it runs as the `postgres` user.

use super::{
    find_program, make_once, missing, run_setup, server, service_user, url_env, Ctx, Prepared,
};
use crate::error::Result;
use crate::supervise::ExecProbe;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

fn bin_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let v = e.file_name().to_str()?.parse::<u32>().ok()?;
                    Some((v, e.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
    dirs.into_iter().map(|(_, d)| d).collect()
}

pub fn prepare(ctx: Ctx) -> Result<Prepared> {
    let dirs = bin_dirs();
    let program =
        |name: &str| find_program(&[name], &dirs).ok_or_else(|| missing(name, "postgresql"));
    let (initdb, postgres, isready) = (
        program("initdb")?,
        program("postgres")?,
        program("pg_isready")?,
    );
    let user = ctx
        .plan
        .env
        .get("POSTGRES_USER")
        .cloned()
        .unwrap_or_else(|| "sandbox".into());
    let db = ctx
        .plan
        .env
        .get("POSTGRES_DB")
        .cloned()
        .unwrap_or_else(|| "sandbox_development".into());
    let run_as = service_user("postgres", &["postgres", "nobody"], &ctx.dir)?;
    let data = ctx.dir.join("data");
    make_once(&data, "PG_VERSION", |tmp| {
        let pwfile = ctx.dir.join(".pwfile");
        crate::fsx::write_atomic_private(&pwfile, ctx.password.as_bytes())?;
        if let Some((uid, gid)) = run_as {
            super::chown_tree(tmp, uid, gid)?;
            super::chown_tree(&pwfile, uid, gid)?;
        }
        let as_user = |c: &mut Command| {
            if let Some((uid, gid)) = run_as {
                c.uid(uid).gid(gid);
            }
        };
        let mut init = Command::new(&initdb);
        init.arg("-D")
            .arg(tmp)
            .args([
                "-U",
                &user,
                "-A",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["--no-sync", "--no-instructions"]);
        as_user(&mut init);
        let made = run_setup(&mut init, "initdb", None);
        let _ = std::fs::remove_file(&pwfile);
        made?;
        let mut single = Command::new(&postgres);
        single.args(["--single", "-F", "-D"]).arg(tmp).args([
            "-c",
            "listen_addresses=",
            "postgres",
        ]);
        as_user(&mut single);
        let sql = format!("CREATE DATABASE \"{}\";\n", db.replace('"', "\"\""));
        run_setup(
            &mut single,
            "postgres --single (CREATE DATABASE)",
            Some(&sql),
        )
    })?;
    let port = ctx.port.to_string();
    let args = [
        postgres.display().to_string(),
        "-D".into(),
        data.display().to_string(),
        "-p".into(),
        port.clone(),
    ]
    .into_iter()
    .chain(
        [
            "listen_addresses=127.0.0.1",
            "unix_socket_directories=",
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
        ]
        .into_iter()
        .flat_map(|setting| ["-c".to_string(), setting.to_string()]),
    )
    .collect();
    let probe = ExecProbe {
        args: vec![
            isready.display().to_string(),
            "-q".into(),
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.clone(),
            "-U".into(),
            user.clone(),
            "-d".into(),
            db.clone(),
            "-t".into(),
            "1".into(),
        ],
        ..ExecProbe::default()
    };
    let mut process = server(args, probe, 0.025);
    process.user = run_as.map(|u| u.0);
    process.group = run_as.map(|u| u.1);
    process.shutdown.signal = "SIGINT".into();
    process.shutdown.timeout_seconds = 15.0;
    let mut env = url_env(&ctx);
    for (k, v) in [
        ("PGHOST", "127.0.0.1".to_string()),
        ("PGPORT", port),
        ("PGUSER", user),
        ("PGPASSWORD", ctx.password.clone()),
        ("PGDATABASE", db),
    ] {
        env.insert(k.to_string(), v);
    }
    Ok(Prepared { process, env })
}
