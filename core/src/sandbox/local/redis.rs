//! Redis from Debian's redis-server: a config file of mode 0600 (loopback only, the port,
//! the password, no persistence: `save ""`, `appendonly no`), ready when an authenticated
//! PING answers PONG (redis-cli exits 0 even on a NOAUTH reply, so the probe compares the
//! answer; the password reaches it as REDISCLI_AUTH, never as an argument).

use super::{find_program, missing, server, url_env, Ctx, Prepared};
use crate::error::Result;
use crate::supervise::ExecProbe;

pub fn prepare(ctx: Ctx) -> Result<Prepared> {
    let server_bin = find_program(&["redis-server"], &[])
        .ok_or_else(|| missing("redis-server", "redis-server"))?;
    let cli =
        find_program(&["redis-cli"], &[]).ok_or_else(|| missing("redis-cli", "redis-tools"))?;
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let conf = ctx.dir.join("redis.conf");
    let text = format!(
        "bind 127.0.0.1\nport {}\nprotected-mode yes\ndaemonize no\nsave \"\"\nappendonly no\n\
         dir {}\nrequirepass {}\n",
        ctx.port,
        quote(&ctx.dir.display().to_string()),
        quote(&ctx.password)
    );
    crate::fsx::write_atomic_private(&conf, text.as_bytes())?;
    let probe = ExecProbe {
        command: Some(format!(
            "test \"$('{}' --no-auth-warning -h 127.0.0.1 -p {} ping)\" = PONG",
            cli.display(),
            ctx.port
        )),
        environment: [("REDISCLI_AUTH".to_string(), ctx.password.clone())]
            .into_iter()
            .collect(),
        ..ExecProbe::default()
    };
    let process = server(
        vec![server_bin.display().to_string(), conf.display().to_string()],
        probe,
        0.025,
    );
    let env = url_env(&ctx);
    Ok(Prepared { process, env })
}
