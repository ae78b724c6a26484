//! MySQL as Debian's MariaDB (mariadb-server-core): `mariadb-install-db` once, then
//! `mariadbd` on a loopback port. The root password and the database come from an init
//! file of mode 0600 run at every start (idempotent statements); the probe is a `SELECT 1`
//! over TCP with the password in MYSQL_PWD. The Unix socket goes in the service's
//! directory unless that path is longer than a socket address holds, then in /tmp under a
//! name derived from the directory.

use super::{find_program, make_once, missing, run_setup, url_env, Ctx, Prepared};
use crate::error::Result;
use crate::supervise::ExecProbe;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::Command;

pub fn prepare(ctx: Ctx) -> Result<Prepared> {
    let sbin = [PathBuf::from("/usr/sbin")];
    let server = find_program(&["mariadbd", "mysqld"], &sbin)
        .ok_or_else(|| missing("mariadbd", "mariadb-server-core"))?;
    let install = find_program(&["mariadb-install-db", "mysql_install_db"], &[])
        .ok_or_else(|| missing("mariadb-install-db", "mariadb-server-core"))?;
    let client = find_program(&["mariadb", "mysql"], &[])
        .ok_or_else(|| missing("mariadb", "mariadb-client-core"))?;
    let db = ctx
        .plan
        .env
        .get("MYSQL_DATABASE")
        .cloned()
        .unwrap_or_else(|| "sandbox_development".into());
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let data = ctx.dir.join("data");
    make_once(&data, "mysql", |tmp| {
        let mut c = Command::new(&install);
        c.arg("--no-defaults")
            .arg(format!("--datadir={}", tmp.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .args(["--skip-name-resolve", "--skip-log-bin"]);
        if root {
            c.arg("--user=root");
        }
        run_setup(&mut c, "mariadb-install-db", None)
    })?;
    let pw = ctx.password.replace('\'', "''");
    let init = ctx.dir.join("init.sql");
    let sql = format!(
        "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '{pw}';\n\
         ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{pw}';\n\
         GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n\
         ALTER USER 'root'@'localhost' IDENTIFIED BY '{pw}';\n\
         CREATE DATABASE IF NOT EXISTS `{}`;\n",
        db.replace('`', "``")
    );
    crate::fsx::write_atomic_private(&init, sql.as_bytes())?;
    let mut socket = ctx.dir.join("mysqld.sock");
    if socket.as_os_str().len() > 100 {
        let h = Sha256::digest(ctx.dir.as_os_str().as_encoded_bytes());
        socket = std::env::temp_dir().join(format!("idpkit-mysql-{}.sock", &hex::encode(h)[..16]));
    }
    let mut args = vec![
        server.display().to_string(),
        "--no-defaults".into(),
        format!("--datadir={}", data.display()),
        format!("--port={}", ctx.port),
        "--bind-address=127.0.0.1".into(),
        format!("--socket={}", socket.display()),
        format!("--pid-file={}", ctx.dir.join("mysqld.pid").display()),
        format!("--init-file={}", init.display()),
        "--skip-name-resolve".into(),
        "--skip-log-bin".into(),
        "--innodb-buffer-pool-size=32M".into(),
        "--innodb-flush-log-at-trx-commit=0".into(),
    ];
    if root {
        args.push("--user=root".into());
    }
    let probe = ExecProbe {
        args: vec![
            client.display().to_string(),
            "--no-defaults".into(),
            "--protocol=tcp".into(),
            "-h".into(),
            "127.0.0.1".into(),
            "-P".into(),
            ctx.port.to_string(),
            "-u".into(),
            "root".into(),
            "-e".into(),
            "SELECT 1".into(),
        ],
        environment: [("MYSQL_PWD".to_string(), ctx.password.clone())]
            .into_iter()
            .collect(),
        ..ExecProbe::default()
    };
    let mut process = super::server(args, probe, 0.1);
    process.shutdown.timeout_seconds = 20.0;
    let env = url_env(&ctx);
    Ok(Prepared { process, env })
}
