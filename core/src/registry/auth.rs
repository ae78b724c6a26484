//! Registry credentials: where they come from (environment, Docker's `config.json`,
//! podman's `auth.json`, `docker-credential-*` helpers), `WWW-Authenticate` challenges
//! (RFC 7235), and `login`/`logout` in Docker's format.
//!
//! Secrets never reach `Debug`, `Display`, errors or logs: [`Credential`]'s `Debug` redacts.

use crate::config;
use crate::error::{Error, ErrorKind, Result};
use base64::Engine;
use serde_json::{Map, Value};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Credential {
    #[default]
    Anonymous,
    /// User name and password (or a personal access token used as password).
    Basic {
        username: String,
        password: String,
        /// Where they came from (`IDPKIT_REGISTRY_*`, a config file, a helper), for messages.
        source: String,
    },
    /// A registry bearer (identity) token sent as is.
    Token { token: String, source: String },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Anonymous => f.write_str("Anonymous"),
            Credential::Basic {
                username, source, ..
            } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .field("source", source)
                .finish(),
            Credential::Token { source, .. } => f
                .debug_struct("Token")
                .field("token", &"<redacted>")
                .field("source", source)
                .finish(),
        }
    }
}

impl Credential {
    pub fn basic(username: &str, password: &str, source: &str) -> Credential {
        Credential::Basic {
            username: username.to_string(),
            password: password.to_string(),
            source: source.to_string(),
        }
    }

    /// The credential a caller gave as separate arguments (`source` names them in messages):
    /// none, a username with its password, or a token. Anything else is refused, without
    /// echoing what was given.
    pub fn from_arguments(
        username: Option<String>,
        password: Option<String>,
        token: Option<String>,
        source: &str,
    ) -> crate::Result<Option<Credential>> {
        match (username, password, token) {
            (None, None, None) => Ok(None),
            (None, None, Some(token)) => Ok(Some(Credential::Token {
                token,
                source: source.to_string(),
            })),
            (Some(username), Some(password), None) => Ok(Some(Credential::Basic {
                username,
                password,
                source: source.to_string(),
            })),
            (Some(_), None, None) => Err(crate::Error::invalid(format!(
                "{source}: the password is missing (a username needs its password; a Gitea token \
                 works as the password)"
            ))),
            (None, Some(_), None) => Err(crate::Error::invalid(format!(
                "{source}: the username is missing (a password needs its username)"
            ))),
            _ => Err(crate::Error::invalid(format!(
                "{source}: give a username and password, or a token, not both"
            ))),
        }
    }

    /// "user giteaAdmin (from DOCKER_CONFIG/config.json)" or "anonymous": safe for messages.
    pub fn describe(&self) -> String {
        match self {
            Credential::Anonymous => "anonymous access (no credentials found)".into(),
            Credential::Basic {
                username, source, ..
            } => format!("user {username} (from {source})"),
            Credential::Token { source, .. } => format!("a token (from {source})"),
        }
    }

    /// Every secret this credential holds (for redaction of server messages).
    /// Every form in which this credential can appear in a server's answer: the raw
    /// password or token, and the base64 `user:password` of a Basic header (which a
    /// registry that echoes the request's headers would repeat).
    pub(crate) fn secrets(&self) -> Vec<String> {
        use base64::Engine;
        match self {
            Credential::Anonymous => vec![],
            Credential::Basic {
                username, password, ..
            } => vec![
                password.clone(),
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")),
            ],
            Credential::Token { token, .. } => vec![token.clone()],
        }
    }
}

/// Finds the credentials for `registry` (`host[:port]`): `IDPKIT_REGISTRY_TOKEN`, then
/// `IDPKIT_REGISTRY_USERNAME`/`PASSWORD`, then `REGISTRY_AUTH_FILE`, Docker's config
/// (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`: `credHelpers`, `credsStore`,
/// `auths`), podman's `$XDG_RUNTIME_DIR/containers/auth.json`; anonymous otherwise.
pub fn resolve(registry: &str) -> Result<Credential> {
    if let Some(t) = env_nonempty(config::ENV_REGISTRY_TOKEN) {
        return Ok(Credential::Token {
            token: t,
            source: config::ENV_REGISTRY_TOKEN.into(),
        });
    }
    if let Some(u) = env_nonempty(config::ENV_REGISTRY_USERNAME) {
        let p = env_nonempty(config::ENV_REGISTRY_PASSWORD).ok_or_else(|| {
            Error::invalid(format!(
                "{} is set but {} is not",
                config::ENV_REGISTRY_USERNAME,
                config::ENV_REGISTRY_PASSWORD
            ))
        })?;
        return Ok(Credential::basic(
            &u,
            &p,
            "IDPKIT_REGISTRY_USERNAME/IDPKIT_REGISTRY_PASSWORD",
        ));
    }
    resolve_stored(registry)
}

/// The login stored for `registry` (`REGISTRY_AUTH_FILE`, Docker's config and helpers,
/// podman's auth.json), never `IDPKIT_REGISTRY_*`: what a registry other than an
/// operation's own (the source of a copy) is spoken to with.
pub fn resolve_stored(registry: &str) -> Result<Credential> {
    for file in auth_files() {
        if let Some(c) = from_file(&file, registry)? {
            return Ok(c);
        }
    }
    Ok(Credential::Anonymous)
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The auth files searched, in order.
fn auth_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(f) = env_nonempty("REGISTRY_AUTH_FILE") {
        out.push(PathBuf::from(f));
    }
    out.push(config::docker_config_dir().join("config.json"));
    if let Some(d) = env_nonempty("XDG_RUNTIME_DIR") {
        out.push(Path::new(&d).join("containers").join("auth.json"));
    }
    out
}

/// The file `login` writes: `REGISTRY_AUTH_FILE` when set, else Docker's config.json.
pub fn login_file() -> PathBuf {
    match env_nonempty("REGISTRY_AUTH_FILE") {
        Some(f) => PathBuf::from(f),
        None => config::docker_config_dir().join("config.json"),
    }
}

/// `https://host:port/v1/` → `host:port`; Docker Hub's legacy key → `docker.io`.
fn key_host(key: &str) -> String {
    let k = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let k = k.split('/').next().unwrap_or(k);
    match k {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        _ => k.to_ascii_lowercase(),
    }
}

fn matches_registry(key: &str, registry: &str) -> bool {
    key_host(key) == key_host(registry)
}

fn read_json(path: &Path) -> Result<Option<Map<String, Value>>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read credentials file", path, e)),
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        _ => Err(Error::invalid(format!(
            "{}: not a JSON object (Docker config.json format expected)",
            path.display()
        ))),
    }
}

fn from_file(path: &Path, registry: &str) -> Result<Option<Credential>> {
    let Some(doc) = read_json(path)? else {
        return Ok(None);
    };
    let src = path.display().to_string();
    if let Some(Value::Object(helpers)) = doc.get("credHelpers") {
        for (k, v) in helpers {
            if let (true, Some(h)) = (matches_registry(k, registry), v.as_str()) {
                return helper_get(h, registry).map(Some);
            }
        }
    }
    if let Some(Value::Object(auths)) = doc.get("auths") {
        for (k, v) in auths {
            if !matches_registry(k, registry) {
                continue;
            }
            if let Some(t) = v.get("identitytoken").and_then(Value::as_str) {
                if !t.is_empty() {
                    return Ok(Some(Credential::Token {
                        token: t.to_string(),
                        source: src,
                    }));
                }
            }
            if let Some(a) = v.get("auth").and_then(Value::as_str) {
                if a.is_empty() {
                    continue;
                }
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(a.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "{src}: the \"auth\" entry of {k} is not base64 of USER:PASSWORD"
                        ))
                    })?;
                let (u, p) = decoded.split_once(':').ok_or_else(|| {
                    Error::invalid(format!(
                        "{src}: the \"auth\" entry of {k} is not base64 of USER:PASSWORD"
                    ))
                })?;
                return Ok(Some(Credential::basic(u, p, &src)));
            }
            if let (Some(u), Some(p)) = (
                v.get("username").and_then(Value::as_str),
                v.get("password").and_then(Value::as_str),
            ) {
                return Ok(Some(Credential::basic(u, p, &src)));
            }
        }
    }
    if let Some(store) = doc.get("credsStore").and_then(Value::as_str) {
        if !store.is_empty() {
            return match helper_get(store, registry) {
                Ok(c) => Ok(Some(c)),
                Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            };
        }
    }
    Ok(None)
}

/// Runs `docker-credential-NAME ACTION` with `input` on stdin.
fn run_helper(name: &str, action: &str, input: &[u8]) -> Result<Vec<u8>> {
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::new(
                ErrorKind::Auth,
                format!("credential helper {program} cannot run: {e}; install it or remove it from config.json"),
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::new(ErrorKind::Auth, format!("{program} {action}: {e}")))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if msg.contains("credentials not found") {
            return Err(Error::not_found(format!(
                "{program}: no credentials stored"
            )));
        }
        return Err(Error::new(
            ErrorKind::Auth,
            format!("{program} {action} failed ({}): {msg}", out.status),
        ));
    }
    Ok(out.stdout)
}

fn helper_get(name: &str, registry: &str) -> Result<Credential> {
    let out = run_helper(name, "get", registry.as_bytes())?;
    let v: Value = serde_json::from_slice(&out).map_err(|_| {
        Error::new(
            ErrorKind::Auth,
            format!("docker-credential-{name} get: answer is not JSON"),
        )
    })?;
    let user = v.get("Username").and_then(Value::as_str).unwrap_or("");
    let secret = v.get("Secret").and_then(Value::as_str).unwrap_or("");
    let source = format!("docker-credential-{name}");
    Ok(if user == "<token>" {
        Credential::Token {
            token: secret.to_string(),
            source,
        }
    } else {
        Credential::basic(user, secret, &source)
    })
}

/// Stores credentials for `registry` in Docker's format (helper when `credsStore`/
/// `credHelpers` name one, else base64 in `auths`). Returns the file or helper used.
pub fn store_login(registry: &str, username: &str, password: &str) -> Result<String> {
    let path = login_file();
    let mut doc = read_json(&path)?.unwrap_or_default();
    let helper = doc
        .get("credHelpers")
        .and_then(|h| h.as_object())
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| matches_registry(k, registry))
                .and_then(|(_, v)| v.as_str().map(String::from))
        })
        .or_else(|| {
            doc.get("credsStore")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(String::from)
        });
    if let Some(h) = helper {
        let input =
            serde_json::json!({"ServerURL": registry, "Username": username, "Secret": password});
        run_helper(&h, "store", input.to_string().as_bytes())?;
        return Ok(format!("docker-credential-{h}"));
    }
    let auths = doc
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    let auths = auths.as_object_mut().expect("object");
    auths.retain(|k, _| !matches_registry(k, registry));
    let enc = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    auths.insert(registry.to_string(), serde_json::json!({ "auth": enc }));
    write_private(&path, &doc)?;
    Ok(path.display().to_string())
}

/// Removes the credentials of `registry`; `false` when there were none.
pub fn remove_login(registry: &str) -> Result<bool> {
    let mut removed = false;
    for path in auth_files() {
        let Some(mut doc) = read_json(&path)? else {
            continue;
        };
        if let Some(Value::Object(auths)) = doc.get_mut("auths") {
            let before = auths.len();
            auths.retain(|k, _| !matches_registry(k, registry));
            if auths.len() != before {
                write_private(&path, &doc)?;
                removed = true;
            }
        }
        let helper = doc
            .get("credHelpers")
            .and_then(|h| h.as_object())
            .and_then(|h| {
                h.iter()
                    .find(|(k, _)| matches_registry(k, registry))
                    .and_then(|(_, v)| v.as_str().map(String::from))
            })
            .or_else(|| {
                doc.get("credsStore")
                    .and_then(Value::as_str)
                    .map(String::from)
            });
        if let Some(h) = helper.filter(|h| !h.is_empty()) {
            if run_helper(&h, "erase", registry.as_bytes()).is_ok() {
                removed = true;
            }
        }
    }
    Ok(removed)
}

fn write_private(path: &Path, doc: &Map<String, Value>) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io("write", dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    let bytes = serde_json::to_vec_pretty(doc)?;
    tmp.write_all(&bytes)
        .map_err(|e| Error::io("write", path, e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("write", path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_from_arguments_are_a_pair_a_token_or_nothing() {
        let s = |v: &str| Some(v.to_string());
        assert!(Credential::from_arguments(None, None, None, "args")
            .unwrap()
            .is_none());
        let basic = Credential::from_arguments(s("u"), s("hunter2"), None, "args").unwrap();
        assert!(matches!(basic, Some(Credential::Basic { ref username, .. }) if username == "u"));
        let token = Credential::from_arguments(None, None, s("t0k3n"), "args").unwrap();
        assert!(matches!(token, Some(Credential::Token { ref source, .. }) if source == "args"));
        for (u, p, t, want) in [
            (s("u"), None, None, "the arguments: the password is missing"),
            (
                None,
                s("hunter2"),
                None,
                "the arguments: the username is missing",
            ),
            (
                s("u"),
                s("hunter2"),
                s("t0k3n"),
                "the arguments: give a username and password, or a token, not both",
            ),
            (
                None,
                s("hunter2"),
                s("t0k3n"),
                "the arguments: give a username and password, or a token, not both",
            ),
        ] {
            let e = Credential::from_arguments(u, p, t, "the arguments").unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidInput);
            assert!(e.message.starts_with(want), "{}", e.message);
            assert!(!e.message.contains("hunter2") && !e.message.contains("t0k3n"));
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credential::basic("alice", "s3cret-pw", "test");
        let t = Credential::Token {
            token: "tok-123".into(),
            source: "env".into(),
        };
        let d = format!("{c:?} {t:?} {} {}", c.describe(), t.describe());
        assert!(!d.contains("s3cret-pw") && !d.contains("tok-123"), "{d}");
        assert!(d.contains("alice"));
    }

    #[test]
    fn docker_config_keys_match_hosts() {
        assert!(matches_registry("https://index.docker.io/v1/", "docker.io"));
        assert!(matches_registry("http://127.0.0.1:5000", "127.0.0.1:5000"));
        assert!(!matches_registry("127.0.0.1:5001", "127.0.0.1:5000"));
    }
}
