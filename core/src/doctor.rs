//! `doctor`: what idpkit would use on this machine (store, source cache, trust roots and
//! certs.d, registry credentials, cluster context, sandbox tools) and what is wrong with it,
//! each finding with the fix. Reading only, except for the network checks asked for (a
//! registry's trust and a cluster's API server); never a secret in the report.

use crate::error::Result;
use crate::kube::{KubeClient, KubeOptions};
use crate::trust::{self, TrustOptions, Verdict};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DoctorOptions {
    /// A registry (`HOST[:PORT]`) to check: its TLS trust (connects to it) and the
    /// credentials idpkit would send it.
    pub registry: Option<String>,
    /// The store to check. Default: `$IDPKIT_STORE`, else the default store.
    #[schemars(extend("x-path" = true))]
    pub store: Option<PathBuf>,
    /// The source cache to check. Default: `$IDPKIT_CACHE`, else the default cache.
    #[schemars(extend("x-path" = true))]
    pub cache: Option<PathBuf>,
    /// The cluster to check (kubeconfig and context); its API server is asked for its
    /// version, which proves it is reachable, trusted and takes the credentials.
    pub cluster: KubeOptions,
    /// Skip every check that uses the network (the registry's trust, the API server).
    pub offline: bool,
}

/// Everything found, problems first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DoctorReport {
    pub checks: Vec<DoctorCheck>,
    /// How many checks found a problem.
    pub problems: u32,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DoctorCheck {
    /// `store`, `cache`, `trust`, `credentials`, `cluster`, `sandbox`.
    pub area: String,
    /// What was checked (`store directory`, `certs.d`, `kubeconfig`, …).
    pub name: String,
    pub status: CheckStatus,
    /// What was found (paths, counts, hosts, a context): never a secret.
    pub detail: String,
    /// What to do about it, when it is not ok.
    pub fix: Option<String>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Broken: an operation that needs it fails.
    Problem,
    /// Works, but worth knowing (missing optional tools, nothing configured yet).
    Warning,
    Ok,
}

struct Report(Vec<DoctorCheck>);

impl Report {
    fn add(
        &mut self,
        area: &str,
        name: &str,
        status: CheckStatus,
        detail: String,
        fix: Option<&str>,
    ) {
        self.0.push(DoctorCheck {
            area: area.into(),
            name: name.into(),
            status,
            detail,
            fix: fix.map(str::to_string),
        });
    }
}

pub fn doctor(o: &DoctorOptions) -> Result<DoctorReport> {
    let mut r = Report(Vec::new());
    store(
        &mut r,
        o.store
            .clone()
            .unwrap_or_else(crate::config::default_store_dir),
    );
    directory(
        &mut r,
        "cache",
        "source cache",
        &o.cache
            .clone()
            .unwrap_or_else(crate::config::default_cache_dir),
    );
    trust_roots(&mut r);
    if let Some(host) = &o.registry {
        registry(&mut r, host, o.offline);
    }
    cluster(&mut r, &o.cluster, o.offline);
    sandbox(&mut r);
    let mut checks = r.0;
    checks.sort_by_key(|c| c.status);
    let problems = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Problem)
        .count() as u32;
    Ok(DoctorReport { checks, problems })
}

/// Whether this process may create files in `dir` (it exists).
fn writable(dir: &Path) -> std::io::Result<()> {
    tempfile::Builder::new()
        .prefix(".idpkit-doctor-")
        .tempfile_in(dir)
        .map(drop)
}

fn directory(r: &mut Report, area: &str, what: &str, dir: &Path) -> bool {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => {
            r.add(
                area,
                what,
                CheckStatus::Problem,
                format!("{} is not a directory", dir.display()),
                Some("remove it or point idpkit elsewhere"),
            );
            false
        }
        Ok(_) => match writable(dir) {
            Ok(()) => true,
            Err(e) => {
                r.add(
                    area,
                    what,
                    CheckStatus::Problem,
                    format!("{}: cannot write: {e}", dir.display()),
                    Some("fix its permissions, or point idpkit at another directory"),
                );
                false
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            r.add(
                area,
                what,
                CheckStatus::Ok,
                format!("{} (not made yet; the first use makes it)", dir.display()),
                None,
            );
            false
        }
        Err(e) => {
            r.add(
                area,
                what,
                CheckStatus::Problem,
                format!("{}: {e}", dir.display()),
                Some("fix its permissions"),
            );
            false
        }
    }
}

fn store(r: &mut Report, dir: PathBuf) {
    if !directory(r, "store", "store", &dir) {
        return;
    }
    match crate::Store::open(&dir).and_then(|s| s.images()) {
        Ok(images) => r.add(
            "store",
            "store",
            CheckStatus::Ok,
            format!("{}: {} images", dir.display(), images.len()),
            None,
        ),
        Err(e) => r.add(
            "store",
            "store",
            CheckStatus::Problem,
            format!("{}: {}", dir.display(), e.message),
            Some("move the directory aside and rebuild, or `idpkit gc`"),
        ),
    }
}

fn trust_roots(r: &mut Report) {
    let native = rustls_native_certs::load_native_certs();
    let (status, fix) = if native.certs.is_empty() {
        (CheckStatus::Warning, Some("install the ca-certificates package (public registries then use the bundled Mozilla roots)"))
    } else {
        (CheckStatus::Ok, None)
    };
    r.add(
        "trust",
        "system roots",
        status,
        format!(
            "{} certificates from the system store{}",
            native.certs.len(),
            if native.errors.is_empty() {
                String::new()
            } else {
                format!(" ({} unreadable)", native.errors.len())
            }
        ),
        fix,
    );
    let mut found = Vec::new();
    for root in crate::config::certs_d_roots() {
        let Ok(rd) = std::fs::read_dir(&root) else {
            continue;
        };
        let hosts: Vec<String> = rd
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        found.push(format!(
            "{} ({})",
            root.display(),
            if hosts.is_empty() {
                "empty".to_string()
            } else {
                hosts.join(", ")
            }
        ));
    }
    let detail = if found.is_empty() {
        "no certs.d directory; private CAs come from `idpkit trust add` or --ca-file".to_string()
    } else {
        found.join("; ")
    };
    r.add("trust", "certs.d", CheckStatus::Ok, detail, None);
}

fn registry(r: &mut Report, host: &str, offline: bool) {
    match crate::registry::auth::resolve(host) {
        Ok(c) => r.add("credentials", host, CheckStatus::Ok, c.describe(), None),
        Err(e) => r.add(
            "credentials",
            host,
            CheckStatus::Problem,
            e.message,
            Some("fix the variable or file named, or `idpkit login`"),
        ),
    }
    if offline {
        return;
    }
    match trust::check(host, &TrustOptions::default(), None) {
        Ok(rep) if rep.trusted => r.add(
            "trust",
            host,
            CheckStatus::Ok,
            if rep.message.is_empty() {
                format!("trusted ({})", rep.sources.join(", "))
            } else {
                rep.message
            },
            None,
        ),
        // Plain HTTP on loopback is what a local registry speaks, and idpkit uses it as is.
        Ok(rep)
            if rep.verdict == Verdict::NotTls
                && matches!(trust::host_name(host), "localhost" | "127.0.0.1" | "::1") =>
        {
            r.add(
                "trust",
                host,
                CheckStatus::Ok,
                "plain HTTP on loopback: used as is".into(),
                None,
            )
        }
        Ok(rep) => {
            // The report's message says what is wrong; the fix depends on the verdict.
            let fix = match rep.verdict {
                Verdict::Unreachable => "check the host and port, and that the registry runs",
                Verdict::NotTls => "a plain-HTTP registry: mark it insecure for idpkit (`--insecure HOST`), on loopback it is used as is",
                Verdict::ClientCertRequired => "put the client certificate and key in the host's certs.d directory",
                _ => "`idpkit trust check HOST` shows the chain; `idpkit trust add` or `login --from-cluster` adds the CA",
            };
            r.add("trust", host, CheckStatus::Problem, rep.message, Some(fix))
        }
        Err(e) => r.add(
            "trust",
            host,
            CheckStatus::Problem,
            e.message,
            Some("check the host and port, and that the registry runs"),
        ),
    }
}

fn cluster(r: &mut Report, opts: &KubeOptions, offline: bool) {
    let configured = opts.kubeconfig.is_some()
        || std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
        || crate::config::home_dir().join(".kube/config").is_file()
        || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    if !configured {
        r.add("cluster", "kubeconfig", CheckStatus::Warning, "no kubeconfig ($KUBECONFIG, ~/.kube/config) and not in a cluster".into(), Some("only cluster operations need one: `kind`/idpbuilder write it, or pass --kubeconfig"));
        return;
    }
    let client = match KubeClient::connect(opts, None) {
        Ok(c) => c,
        Err(e) => {
            r.add(
                "cluster",
                "kubeconfig",
                CheckStatus::Problem,
                e.message,
                Some("fix the kubeconfig or pick a context with --context"),
            );
            return;
        }
    };
    let at = format!(
        "context {:?}, API server {}",
        client.context(),
        client.server()
    );
    if offline {
        r.add("cluster", "kubeconfig", CheckStatus::Ok, at, None);
        return;
    }
    match client.server_version() {
        Ok(v) => r.add(
            "cluster",
            "API server",
            CheckStatus::Ok,
            format!("{at}: Kubernetes {v}"),
            None,
        ),
        Err(e) => r.add(
            "cluster",
            "API server",
            CheckStatus::Problem,
            format!("{at}: {}", e.message),
            Some("start the cluster (`idpbuilder create`), or pick another context"),
        ),
    }
}

fn sandbox(r: &mut Report) {
    let dir = crate::config::default_sandbox_dir();
    r.add(
        "sandbox",
        "runs",
        CheckStatus::Ok,
        dir.display().to_string(),
        None,
    );
    let pg_dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    let tools: [(&str, &[&str], &[PathBuf], &str); 3] = [
        ("postgres", &["postgres"], &pg_dirs, "postgresql"),
        ("redis", &["redis-server"], &[], "redis-server"),
        (
            "mysql",
            &["mariadbd", "mysqld"],
            &[PathBuf::from("/usr/sbin")],
            "mariadb-server-core",
        ),
    ];
    let mut missing = Vec::new();
    let mut found = Vec::new();
    for (service, names, dirs, package) in tools {
        match crate::sandbox::local::find_program(names, dirs) {
            Some(p) => found.push(format!("{service}: {}", p.display())),
            None => missing.push(format!("{service} (Debian's {package})")),
        }
    }
    if missing.is_empty() {
        r.add(
            "sandbox",
            "local services",
            CheckStatus::Ok,
            found.join(", "),
            None,
        );
    } else {
        r.add(
            "sandbox",
            "local services",
            CheckStatus::Warning,
            format!(
                "`sandbox up` cannot run {}; found {}",
                missing.join(", "),
                if found.is_empty() {
                    "none".into()
                } else {
                    found.join(", ")
                }
            ),
            Some("install the packages named (only the services a project uses are needed)"),
        );
    }
}
