//! kube-rs errors as idpkit errors: the kind a caller can act on, and a message naming the
//! context, the API server and what was asked for. Nothing from a credential (a token, a
//! plugin's output, a key's parse error) is quoted.

use super::Target;
use crate::error::{Error, ErrorKind};
use crate::trust::{cert_info, verdict_of, Recorder, Verdict};
use ::kube::client::AuthError;

/// `verb` says what the request did (`reading`, `writing`), for the 401 and 403 messages.
pub(crate) fn map(
    e: ::kube::Error,
    verb: &str,
    what: &str,
    target: &Target,
    recorder: &Recorder,
) -> Error {
    let server = &target.server;
    let ctx = &target.context;
    match e {
        ::kube::Error::Api(status) => {
            let msg = if status.message.is_empty() {
                status.reason.clone()
            } else {
                status.message.clone()
            };
            match status.code {
                401 => Error::new(
                    ErrorKind::Auth,
                    format!(
                        "the API server {server} of context {ctx:?} did not accept the credentials of {} \
                         (401 Unauthorized) {verb} {what}; renew the token or client certificate of the \
                         context's user",
                        target.source
                    ),
                ),
                403 => Error::new(
                    ErrorKind::Auth,
                    format!(
                        "the API server {server} of context {ctx:?} does not allow {verb} {what} \
                         (403 Forbidden: {msg}); use a context whose user may, or grant it (RBAC)"
                    ),
                ),
                404 => Error::not_found(format!("{what} not found on {server} (context {ctx:?}): {msg}")),
                409 => Error::new(ErrorKind::Conflict, format!("{what} on {server}: {msg}")),
                400 | 422 => Error::invalid(format!("the API server {server} refused {what}: {msg}")),
                code => Error::new(
                    ErrorKind::Network,
                    format!("the API server {server} of context {ctx:?} failed {what} ({code}: {msg})"),
                ),
            }
        }
        ::kube::Error::Auth(a) => auth(a, target),
        ::kube::Error::SerdeError(s) => Error::new(
            ErrorKind::Network,
            format!(
                "the API server {server} of context {ctx:?} answered {what} with something that is not \
                 a Kubernetes object ({s})"
            ),
        ),
        other => transport(&other, what, target, recorder),
    }
}

/// A failure below HTTP: TLS (UNTRUSTED, or AUTH for a refused client certificate), an
/// answer over [`super::connect::MAX_RESPONSE`], or the network.
fn transport(e: &::kube::Error, what: &str, target: &Target, recorder: &Recorder) -> Error {
    let server = &target.server;
    let ctx = &target.context;
    let chain = causes(e);
    let tls = chain.iter().find_map(|c| rustls_error(*c));
    if let Some(t) = tls {
        return tls_error(&t, target, recorder);
    }
    if chain.iter().any(|c| {
        c.downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
    }) {
        return Error::new(
            ErrorKind::Network,
            format!(
                "the API server {server} of context {ctx:?} sent more than {} MiB for {what}; refused \
                 (a misbehaving server or proxy)",
                super::connect::MAX_RESPONSE >> 20
            ),
        );
    }
    // The innermost messages say what happened ("Connection refused"); the outer ones
    // only that a client failed.
    let mut detail: Vec<String> = Vec::new();
    for c in chain.iter().rev() {
        let s = c.to_string();
        if !detail
            .iter()
            .any(|d| s.contains(d.as_str()) || d.contains(&s))
        {
            detail.push(s);
        }
        if detail.len() == 2 {
            break;
        }
    }
    detail.reverse();
    Error::new(
        ErrorKind::Network,
        format!(
            "cannot reach the API server {server} of context {ctx:?} for {what}: {}",
            detail.join(": ")
        ),
    )
}

type Cause<'a> = &'a (dyn std::error::Error + 'static);

/// The rustls error inside `e`: tokio-rustls wraps it in an `io::Error`, which the
/// connection wraps in another one (whose `source()` skips the payload).
fn rustls_error(e: Cause<'_>) -> Option<rustls::Error> {
    if let Some(t) = e.downcast_ref::<rustls::Error>() {
        return Some(t.clone());
    }
    let inner: Cause<'_> = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error(inner)
}

/// `e` and its sources.
fn causes(e: Cause<'_>) -> Vec<Cause<'_>> {
    let mut out = Vec::new();
    let mut cur = Some(e);
    while let Some(c) = cur {
        out.push(c);
        cur = c.source();
    }
    out
}

fn tls_error(t: &rustls::Error, target: &Target, recorder: &Recorder) -> Error {
    let server = &target.server;
    let ctx = &target.context;
    if let rustls::Error::AlertReceived(alert) = t {
        use rustls::AlertDescription as A;
        if matches!(
            alert,
            A::CertificateRequired
                | A::BadCertificate
                | A::UnknownCA
                | A::CertificateUnknown
                | A::CertificateExpired
        ) {
            return Error::new(
                ErrorKind::Auth,
                format!(
                    "the API server {server} of context {ctx:?} refused the TLS client certificate of {} \
                     ({t}); renew the client certificate of the context's user",
                    target.source
                ),
            );
        }
    }
    // The verifier recorded the chain it refused (the error it returned is `t`).
    let err = t;
    let chain = recorder.chain.lock().map(|c| c.clone()).unwrap_or_default();
    let leaf = chain.first().and_then(cert_info);
    let subject = leaf
        .as_ref()
        .map(|c| format!("certificate {:?} (issuer {:?})", c.subject, c.issuer))
        .unwrap_or_else(|| "its certificate".into());
    let fix = "get a fresh kubeconfig for the cluster, whose certificate-authority-data is the CA that signs \
               its API server's certificate (kind and idpbuilder: `kind export kubeconfig --name CLUSTER`)";
    let message = match verdict_of(err) {
        Verdict::UnknownIssuer => format!(
            "TLS: the API server {server} of context {ctx:?} presented {subject}, which is not signed by \
             the certificate authority in {}; {fix}",
            target.source
        ),
        Verdict::Expired => format!(
            "TLS: the API server {server} of context {ctx:?} presented {subject}, which expired on {}; the \
             cluster must renew its serving certificate (check the clocks too)",
            leaf.as_ref().map(|c| c.not_after.as_str()).unwrap_or("?")
        ),
        Verdict::NotYetValid => format!(
            "TLS: the API server {server} of context {ctx:?} presented {subject}, which is not valid before \
             {}; check this machine's clock",
            leaf.as_ref().map(|c| c.not_before.as_str()).unwrap_or("?")
        ),
        Verdict::WrongHost => format!(
            "TLS: the API server {server} of context {ctx:?} presented {subject}, issued for {} and not for \
             this server's name; use a server URL with one of those names, or set tls-server-name in the \
             cluster entry of {}",
            leaf.as_ref().map(|c| c.names.join(", ")).unwrap_or_default(),
            target.source
        ),
        _ => format!(
            "TLS: the API server {server} of context {ctx:?} presented {subject}, which was rejected ({err}); {fix}"
        ),
    };
    Error::new(ErrorKind::Untrusted, message)
}

/// A credential failure: the token file, the exec plugin. A plugin's output and command
/// line are not quoted (either can hold a secret); the command's name is.
fn auth(a: AuthError, target: &Target) -> Error {
    let ctx = &target.context;
    let plugin = || {
        format!(
            "the exec credential plugin {} of context {ctx:?} ({})",
            target
                .exec
                .as_deref()
                .map(|c| format!("{c:?}"))
                .unwrap_or_default(),
            target.source
        )
    };
    let message = match a {
        AuthError::ReadTokenFile(io, path) => {
            let e = Error::io("read token file", &path, io);
            return Error::new(e.kind, format!("context {ctx:?} ({}): {}", target.source, e.message));
        }
        AuthError::AuthExecStart(io) => format!(
            "{} cannot be started ({io}); install it or fix its command in the kubeconfig",
            plugin()
        ),
        AuthError::AuthExecRun { out, .. } => format!(
            "{} failed ({}); run it yourself to see why (a login may have expired)",
            plugin(),
            out.status
        ),
        AuthError::AuthExecParse(_) | AuthError::ExecPluginFailed => format!(
            "{} printed no ExecCredential (JSON with apiVersion client.authentication.k8s.io/v1 and status.token)",
            plugin()
        ),
        AuthError::MalformedTokenExpirationDate(_) => format!(
            "{} printed an ExecCredential whose status.expirationTimestamp is not RFC 3339",
            plugin()
        ),
        AuthError::MissingCommand => format!("{} has no command", plugin()),
        AuthError::InvalidBearerToken(_) | AuthError::InvalidBasicAuth(_) => format!(
            "the user of context {ctx:?} ({}) has a token or password that cannot be sent in an HTTP header \
             (a line break or control character in it?)",
            target.source
        ),
        other => format!("credentials of context {ctx:?} ({}): {other}", target.source),
    };
    Error::new(ErrorKind::Auth, message)
}
