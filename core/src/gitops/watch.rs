//! `source watch flux`: keeps one Flux source's cache entry current. The source's artifact
//! is fetched as `source fetch flux` fetches it, then a watch of that one object (kube-rs's
//! watcher: it resumes from the last resourceVersion when the API server closes the stream,
//! and re-lists when that version has been compacted away) fetches each new revision.
//!
//! What the caller sees (docs/sources.md, "Watching a source"):
//! - one `source_fetched` event per revision put in the cache, the first included; a
//!   status change that keeps the revision and digest, or a source that is not Ready (while
//!   source-controller reconciles), emits nothing;
//! - the first fetch fails the watch with that fetch's error, as `source fetch flux` would
//!   (a wrong CA, host override or cache would fail every revision: better said at once than
//!   a warning per revision while nothing is kept current); a later revision that cannot be
//!   fetched is a `warning` event, the entry of the previous revision stays, and the watch
//!   tries again at the object's next change;
//! - the object deleted, or credentials or trust of the API server that stop working, end
//!   the watch with that error;
//! - the cancel token is the normal way to stop: the watch then returns `Ok` with what it
//!   fetched, not `CANCELLED`.

use super::cache::Cache;
use super::flux::{artifact_of, fetch_artifact_of, Artifact, FetchFluxOptions, FluxKind};
use super::flux::{GROUP, VERSIONS};
use super::SourceFetched;
use crate::call::Call;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{emit, Event};
use serde::{Deserialize, Serialize};

/// What a watch did, when it ends (cancelled).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SourceWatched {
    /// Revisions put in the cache while the watch ran (the first included), each reported
    /// by a `source_fetched` event. A revision already in the cache counts (a hit).
    pub fetched: u64,
    /// New revisions that could not be fetched (each reported by a `warning` event).
    pub failed: u64,
    /// The last revision fetched: the entry that was current when the watch ended; `null`
    /// when the source never became Ready.
    pub last: Option<SourceFetched>,
}

impl From<SourceFetched> for Event {
    fn from(f: SourceFetched) -> Event {
        Event::SourceFetched {
            path: f.path,
            source: f.source,
            url: f.url,
            revision: f.revision,
            digest: f.digest,
            size: f.size,
            files: f.files,
            bytes: f.bytes,
            hit: f.hit,
            skipped_symlinks: f.skipped_symlinks,
        }
    }
}

impl SourceFetched {
    /// The revision a `source_fetched` event reports; `None` for any other event.
    pub fn from_event(e: &Event) -> Option<SourceFetched> {
        match e.clone() {
            Event::SourceFetched {
                path,
                source,
                url,
                revision,
                digest,
                size,
                files,
                bytes,
                hit,
                skipped_symlinks,
            } => Some(SourceFetched {
                path,
                source,
                url,
                revision,
                digest,
                size,
                files,
                bytes,
                hit,
                skipped_symlinks,
            }),
            _ => None,
        }
    }
}

/// Fetches the Flux source's artifact into the cache, then each new revision, until
/// `call`'s cancel token fires (see the module's documentation).
pub fn watch_flux(o: &FetchFluxOptions, call: &Call) -> Result<SourceWatched> {
    let kind = FluxKind::parse(&o.kind)?;
    super::cache::check_kube_name("namespace", &o.namespace)?;
    super::cache::check_kube_name("name", &o.name)?;
    let what = format!("{} {}/{}", kind.kind, o.namespace, o.name);
    let client =
        crate::kube::KubeClient::connect(&o.cluster, call.sink())?.with_cancel(call.cancel());
    let mut watch = Watch {
        o,
        call,
        what,
        cache: None,
        current: None,
        started: false,
        result: SourceWatched::default(),
    };
    // The version the API server serves the object in (v1, else v1beta2); a missing object
    // or resource is NOT_FOUND with fetch's message.
    let watched = client
        .custom_object(GROUP, &VERSIONS, kind.plural, &o.namespace, &o.name)
        .and_then(|(version, _)| {
            watch.cache = Some(Cache::open(o.cache.cache.as_deref())?);
            client.watch_custom(
                GROUP,
                &version,
                kind.plural,
                &o.namespace,
                &o.name,
                call.cancel(),
                |object| watch.on_change(&object).map(|()| true),
            )
        });
    match watched {
        // The callback never says stop: only an error or a cancel ends the watch.
        Ok(()) => Ok(watch.result),
        Err(e) if e.kind == ErrorKind::Cancelled && cancelled(call) => Ok(watch.result),
        Err(e) => Err(e),
    }
}

fn cancelled(call: &Call) -> bool {
    call.cancel().is_some_and(|c| c.is_cancelled())
}

struct Watch<'a> {
    o: &'a FetchFluxOptions,
    call: &'a Call,
    what: String,
    cache: Option<Cache>,
    /// Revision and digest of the entry last fetched.
    current: Option<(String, String)>,
    /// Whether the object as it was when the watch started has been seen.
    started: bool,
    result: SourceWatched,
}

impl Watch<'_> {
    /// One stored change of the object (the first call: the object as it is).
    fn on_change(&mut self, object: &serde_json::Value) -> Result<()> {
        let first_look = !std::mem::replace(&mut self.started, true);
        let artifact = match artifact_of(object, &self.what) {
            Ok(a) => a,
            // No artifact yet, or not Ready (source-controller is reconciling): nothing to
            // fetch. Said once when the watch starts that way, so a quiet watch is explained.
            Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Conflict) => {
                if first_look {
                    emit(
                        self.call.sink(),
                        Event::Warning {
                            message: format!(
                                "{}; waiting for it to be Ready with an artifact",
                                e.message
                            ),
                        },
                    );
                }
                return Ok(());
            }
            Err(e) => return self.failed(e, None),
        };
        let key = (artifact.revision.clone(), artifact.digest.to_string());
        if self.current.as_ref() == Some(&key) {
            return Ok(());
        }
        match self.fetch(&artifact) {
            Ok(f) => {
                self.current = Some(key);
                self.result.fetched += 1;
                self.result.last = Some(f.clone());
                emit(self.call.sink(), f.into());
                Ok(())
            }
            Err(e) => self.failed(e, Some(&artifact)),
        }
    }

    fn fetch(&self, artifact: &Artifact) -> Result<SourceFetched> {
        let cache = self
            .cache
            .as_ref()
            .ok_or_else(|| Error::internal("the source cache was not opened"))?;
        fetch_artifact_of(self.o, cache, artifact, &self.what, self.call)
    }

    /// A revision that could not be fetched: the watch's error when nothing has been fetched
    /// yet (or when it was cancelled); else a warning, and the watch goes on.
    fn failed(&mut self, e: Error, artifact: Option<&Artifact>) -> Result<()> {
        if e.kind == ErrorKind::Cancelled || self.result.fetched == 0 {
            return Err(e);
        }
        self.result.failed += 1;
        let revision = artifact.map_or_else(
            || "a new revision".to_string(),
            |a| format!("revision {}", a.revision),
        );
        let kept = self
            .result
            .last
            .as_ref()
            .map_or_else(String::new, |l| format!(" ({})", l.revision));
        emit(
            self.call.sink(),
            Event::Warning {
                message: format!(
                    "{revision} of {} was not fetched [{}]: {}; the cache keeps the previous \
                     revision{kept}, and the watch tries again when the object next changes",
                    self.what,
                    e.kind.code(),
                    e.message
                ),
            },
        );
        Ok(())
    }
}

/// `source watch argo`: fetches the Application's git sources, then again whenever what they
/// resolve to changes (a source, a path, or the synced revisions Argo CD writes into its
/// status), until cancelled. One `source_fetched` event per git source fetched; errors are
/// handled as the Flux watch handles them (the first fetch's ends the watch, a later one is a
/// warning and the entries of the previous revisions stay).
pub fn watch_argo(o: &super::argo::FetchArgoOptions, call: &Call) -> Result<SourceWatched> {
    use super::argo::{app, fetch_sources, Target};
    let target = Target::check(o)?;
    let client =
        crate::kube::KubeClient::connect(&o.cluster, call.sink())?.with_cancel(call.cancel());
    let mut result = SourceWatched::default();
    let mut current: Option<Vec<(String, String, Option<String>)>> = None;
    let watched = client
        .custom_object(
            app::GROUP,
            &app::VERSIONS,
            app::PLURAL,
            &o.namespace,
            &o.name,
        )
        .and_then(|(version, _)| {
            client.watch_custom(
                app::GROUP,
                &version,
                app::PLURAL,
                &o.namespace,
                &o.name,
                call.cancel(),
                |object| {
                    // What the sources resolve to; anything else (health, operation state)
                    // changing fetches nothing.
                    let key = app::sources_of(&object, &target.what).map(|sources| {
                        sources
                            .into_iter()
                            .map(|s| (s.repo_url, s.path, s.revision))
                            .collect::<Vec<_>>()
                    });
                    if let Ok(k) = &key {
                        if current.as_ref() == Some(k) {
                            return Ok(true);
                        }
                    }
                    let fetched = key.and_then(|k| {
                        fetch_sources(&client, &target, &object, o, call).map(|f| (k, f))
                    });
                    match fetched {
                        Ok((k, f)) => {
                            current = Some(k);
                            for s in f.sources.into_iter().filter_map(|s| s.fetched) {
                                result.fetched += 1;
                                result.last = Some(s.clone());
                                emit(call.sink(), s.into());
                            }
                            Ok(true)
                        }
                        Err(e) if e.kind == ErrorKind::Cancelled || result.fetched == 0 => Err(e),
                        Err(e) => {
                            result.failed += 1;
                            emit(
                                call.sink(),
                                Event::Warning {
                                    message: format!(
                                        "a new revision of {} was not fetched [{}]: {}; the cache \
                                         keeps the previous revisions, and the watch tries again \
                                         when the Application next changes",
                                        target.what,
                                        e.kind.code(),
                                        e.message
                                    ),
                                },
                            );
                            Ok(true)
                        }
                    }
                },
            )
        });
    match watched {
        Ok(()) => Ok(result),
        Err(e) if e.kind == ErrorKind::Cancelled && cancelled(call) => Ok(result),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The event carries exactly the fields of `SourceFetched` (one shape for the result of
    /// a fetch and the events of a watch): a field added to one must be added to the other.
    #[test]
    fn the_event_has_the_fields_of_source_fetched() {
        let f = SourceFetched {
            path: "/c/flux-artifact/ns/n/main-sha-0123456".into(),
            source: "GitRepository ns/n".into(),
            url: "http://a/b.tar.gz".into(),
            revision: "main@sha1:0123456789abcdef0123456789abcdef01234567".into(),
            digest: "sha256:00".into(),
            size: 1,
            files: 2,
            bytes: 3,
            hit: true,
            skipped_symlinks: vec!["l -> /etc".into()],
        };
        let e: Event = f.clone().into();
        let mut as_event = serde_json::to_value(&e).unwrap();
        assert_eq!(as_event["type"], "source_fetched");
        as_event.as_object_mut().unwrap().remove("type");
        assert_eq!(as_event, serde_json::to_value(&f).unwrap());
        assert_eq!(SourceFetched::from_event(&e), Some(f));
        let other = Event::Warning {
            message: "m".into(),
        };
        assert_eq!(SourceFetched::from_event(&other), None);
    }
}
