//! Watching one custom object: kube-rs's watcher (list, then watch from its resource
//! version; re-list when the server has compacted it away; reconnect with backoff), with the
//! caller's callback run between polls, outside the runtime, so it may itself call idpkit
//! (fetch what the new revision points at).

use super::{errors, KubeClient};
use crate::cancel::CancelToken;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{emit, Event};
use ::kube::runtime::watcher;
use ::kube::runtime::WatchStreamExt;
use futures_util::StreamExt;

impl KubeClient {
    /// Watches custom object `ns/name` of `plural.group` in `version`. `on_change` gets the
    /// object as it is when the watch starts, then every stored change (a new
    /// `resourceVersion`; a re-list that shows nothing new is not a change), and returns
    /// whether to go on: `Ok(false)` ends the watch with `Ok(())`, an error ends it with
    /// that error. `NOT_FOUND` when the object does not exist or is deleted; `CANCELLED`
    /// soon after `cancel` fires. A stream the API server ends (each watch request times
    /// out) is resumed from the last resourceVersion, silently; a resourceVersion that has
    /// been compacted away (410 Gone) makes it re-list, silently too (a change made
    /// meanwhile is delivered then). A lost connection is retried with backoff (a `warning`
    /// event says so); credentials or trust that stop working end it.
    #[allow(clippy::too_many_arguments)]
    pub fn watch_custom(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        ns: &str,
        name: &str,
        cancel: Option<&CancelToken>,
        mut on_change: impl FnMut(serde_json::Value) -> Result<bool>,
    ) -> Result<()> {
        let api = self.dynamic(group, version, plural, ns);
        let what = format!(
            "{} {ns}/{name}",
            super::objects::resource_name(group, plural)
        );
        let mut config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        if let Some(secs) = self.watch_timeout {
            config = config.timeout(secs);
        }
        let mut stream = watcher(api, config).default_backoff().boxed();
        // The object of the current (re-)list, delivered once the list is complete.
        let mut listed: Option<serde_json::Value> = None;
        let mut last_version: Option<String> = None;
        loop {
            let cancel = cancel.or(self.cancel.as_ref());
            let next =
                crate::runtime::block_on_cancellable(cancel, async { Ok(stream.next().await) })?;
            let object = match next {
                None => {
                    return Err(Error::new(
                        ErrorKind::Network,
                        format!("the watch of {what} on {} ended", self.target.server),
                    ))
                }
                // 410 Gone: the resourceVersion the watch resumes from has been compacted
                // away (it was disconnected for long). The watcher re-lists, and a change
                // made meanwhile comes with the list: routine, not worth a warning.
                Some(Err(watcher::Error::WatchError(s))) if s.code == 410 => continue,
                Some(Err(e)) => {
                    let (inner, during) = match e {
                        watcher::Error::InitialListFailed(k) => (k, "listing"),
                        watcher::Error::WatchStartFailed(k) => (k, "watching"),
                        watcher::Error::WatchFailed(k) => (k, "watching"),
                        watcher::Error::WatchError(s) => (::kube::Error::Api(s), "watching"),
                        watcher::Error::NoResourceVersion => {
                            return Err(Error::new(
                                ErrorKind::Network,
                                format!(
                                    "the API server {} gave no resourceVersion for {what}: it cannot be watched",
                                    self.target.server
                                ),
                            ))
                        }
                    };
                    let err = errors::map(
                        inner,
                        "reading",
                        &format!("{during} {what}"),
                        &self.target,
                        &self.recorder,
                    );
                    if err.kind != ErrorKind::Network {
                        return Err(err);
                    }
                    emit(
                        self.sink.as_ref(),
                        Event::Warning {
                            message: format!("{}; retrying", err.message),
                        },
                    );
                    continue;
                }
                Some(Ok(watcher::Event::Init)) => {
                    listed = None;
                    continue;
                }
                Some(Ok(watcher::Event::InitApply(o))) => {
                    listed = Some(to_json(&o, &what)?);
                    continue;
                }
                Some(Ok(watcher::Event::InitDone)) => match listed.take() {
                    Some(o) => o,
                    None => return Err(self.gone(&what, "does not exist")),
                },
                Some(Ok(watcher::Event::Apply(o))) => to_json(&o, &what)?,
                Some(Ok(watcher::Event::Delete(_))) => return Err(self.gone(&what, "was deleted")),
            };
            let rv = object
                .pointer("/metadata/resourceVersion")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            if rv.is_some() && rv == last_version {
                continue;
            }
            last_version = rv;
            if !on_change(object)? {
                return Ok(());
            }
        }
    }

    fn gone(&self, what: &str, how: &str) -> Error {
        Error::not_found(format!(
            "{what} {how} on {} (context {:?}); the watch ends",
            self.target.server, self.target.context
        ))
    }
}

fn to_json(o: &::kube::api::DynamicObject, what: &str) -> Result<serde_json::Value> {
    serde_json::to_value(o).map_err(|e| Error::internal(format!("{what} as JSON: {e}")))
}
