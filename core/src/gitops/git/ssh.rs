//! libgit2's callbacks for one fetch: SSH credentials (a key from memory, never a file),
//! given up after a bounded number of tries; SSH host keys against known_hosts; and
//! cancellation through the transfer-progress callback.

use super::known_hosts::{self, fingerprint, KnownHosts};
use super::url::RepoUrl;
use super::GitAuth;
use crate::cancel::CancelToken;
use crate::error::{Error, ErrorKind};
use crate::event::{emit, Event, EventSink};
use git2::{CertificateCheckStatus, Cred, CredentialType, RemoteCallbacks};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// libgit2 asks again after every refused credential; this many calls is more than one
/// honest handshake needs (user name, then key), so more means a loop.
const MAX_CREDENTIAL_CALLS: u32 = 4;

/// What one connection's credential callback has done so far.
#[derive(Default)]
struct Tries {
    calls: u32,
    key_offered: bool,
}

pub(crate) struct Callbacks {
    url: RepoUrl,
    auth: GitAuth,
    known_hosts: KnownHosts,
    insecure: bool,
    sink: Option<EventSink>,
    cancel: Option<CancelToken>,
    audited: AtomicBool,
    failure: Mutex<Option<Error>>,
}

impl Callbacks {
    pub(crate) fn new(
        url: RepoUrl,
        auth: GitAuth,
        known_hosts: KnownHosts,
        insecure: bool,
        sink: Option<EventSink>,
        cancel: Option<CancelToken>,
    ) -> Callbacks {
        Callbacks {
            url,
            auth,
            known_hosts,
            insecure,
            sink,
            cancel,
            audited: AtomicBool::new(false),
            failure: Mutex::new(None),
        }
    }

    pub(crate) fn take_failure(&self) -> Option<Error> {
        self.failure.lock().ok().and_then(|mut f| f.take())
    }

    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(CancelToken::is_cancelled)
    }

    fn fail(&self, e: Error) -> git2::Error {
        let msg = e.message.clone();
        if let Ok(mut f) = self.failure.lock() {
            if f.is_none() {
                *f = Some(e);
            }
        }
        git2::Error::from_str(&msg)
    }

    /// The callbacks for one libgit2 connect or fetch (one SSH connection: the count of
    /// credential calls and whether the key was offered start afresh).
    pub(crate) fn for_libgit2(&self) -> RemoteCallbacks<'_> {
        let mut cb = RemoteCallbacks::new();
        let mut tries = Tries::default();
        cb.credentials(move |_url, user, allowed| self.credentials(&mut tries, user, allowed));
        cb.certificate_check(|cert, _host| self.certificate_check(cert));
        cb.transfer_progress(|_| !self.cancelled());
        cb.sideband_progress(|_| !self.cancelled());
        cb
    }

    fn credentials(
        &self,
        tries: &mut Tries,
        user_from_url: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, git2::Error> {
        let host = self.url.host_port();
        tries.calls += 1;
        if tries.calls > MAX_CREDENTIAL_CALLS {
            return Err(self.fail(Error::new(
                ErrorKind::Auth,
                format!("{host} kept refusing the credentials given (gave up after {MAX_CREDENTIAL_CALLS} tries)"),
            )));
        }
        let user = user_from_url.or(self.url.user.as_deref()).unwrap_or("git");
        if allowed.contains(CredentialType::USERNAME) {
            return Cred::username(user);
        }
        if !allowed.intersects(CredentialType::SSH_KEY | CredentialType::SSH_MEMORY) {
            return Err(self.fail(Error::new(
                ErrorKind::Auth,
                format!("{host} asks for credentials idpkit does not give over this transport"),
            )));
        }
        let GitAuth::SshKey {
            private_key_pem,
            passphrase,
        } = &self.auth
        else {
            return Err(self.fail(Error::new(
                ErrorKind::Auth,
                format!(
                    "{host} wants an SSH key for user {user}; give one (an SSH private key in the auth option, \
                     or sshPrivateKey in an Argo CD repository Secret)"
                ),
            )));
        };
        if std::mem::replace(&mut tries.key_offered, true) {
            return Err(self.fail(Error::new(
                ErrorKind::Auth,
                format!(
                    "{host} rejected the SSH key for user {user}; check that its public key is authorized for \
                     the repository (a deploy key, or the user's keys) and that the passphrase is right"
                ),
            )));
        }
        Cred::ssh_key_from_memory(user, None, private_key_pem, passphrase.as_deref()).map_err(|e| {
            self.fail(Error::invalid(format!(
                "the SSH private key for {host} cannot be used: {}",
                e.message()
            )))
        })
    }

    fn certificate_check(
        &self,
        cert: &git2::cert::Cert<'_>,
    ) -> Result<CertificateCheckStatus, git2::Error> {
        let host = self.url.host_port();
        let Some(hostkey) = cert.as_hostkey() else {
            // HTTPS never reaches libgit2's TLS (it has none): its trust is idpkit's transport.
            return Err(self.fail(Error::new(
                ErrorKind::Untrusted,
                format!(
                    "{host}: unexpected TLS certificate check outside idpkit's HTTPS transport"
                ),
            )));
        };
        let (Some(key), Some(kind)) = (hostkey.hostkey(), hostkey.hostkey_type()) else {
            return Err(self.fail(Error::new(
                ErrorKind::Untrusted,
                format!("{host}: the SSH library did not report the host key; cannot check it"),
            )));
        };
        if self.insecure {
            if !self.audited.swap(true, Ordering::SeqCst) {
                emit(
                    self.sink.as_ref(),
                    Event::InsecureConnection {
                        host: host.clone(),
                        reason: format!(
                            "SSH host key {} {} not checked against known_hosts; source marked insecure",
                            kind.name(),
                            fingerprint(key)
                        ),
                    },
                );
                tracing::warn!(host = %host, "insecure: SSH host key not checked");
            }
            return Ok(CertificateCheckStatus::CertificateOk);
        }
        known_hosts::check(&self.known_hosts, &host, kind.name(), key).map_err(|e| self.fail(e))?;
        Ok(CertificateCheckStatus::CertificateOk)
    }
}
