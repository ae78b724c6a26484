//! Watching Flux sources in the rig's kube-apiserver (objects created by this test, their
//! status changed through the status subresource as source-controller changes it) whose
//! artifacts the rig's nginx serves: the first revision, each new one, nothing for states in
//! between, a warning for a revision that cannot be fetched, `Ok` on cancel; and a watch
//! that outlives the API server ending its stream. Fails when the rig is not up.

mod common;

use idpkit::gitops::flux::FetchFluxOptions;
use idpkit::gitops::watch::{watch_flux, SourceWatched};
use idpkit::gitops::{CacheOptions, SourceFetched};
use idpkit::kube::{KubeClient, KubeOptions};
use idpkit::trust::TrustOptions;
use idpkit::{Call, CancelToken, ErrorKind, Event, EventSink};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FLUX: &str = "source.toolkit.fluxcd.io";
const NS: &str = "flux-system";
/// The longest any one step may take (a fetch of a small artifact, a watch event).
const STEP: Duration = Duration::from_secs(30);

fn kube_options(env: &HashMap<String, String>) -> KubeOptions {
    KubeOptions {
        kubeconfig: Some(env["KUBECONFIG"].clone().into()),
        context: None,
    }
}

fn kube(env: &HashMap<String, String>) -> KubeClient {
    KubeClient::connect(&kube_options(env), None).unwrap()
}

/// A name no other test (or earlier run) uses.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

fn create(kube: &KubeClient, name: &str, status: Value) {
    kube.apply(
        &json!({
            "apiVersion": format!("{FLUX}/v1"), "kind": "GitRepository",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"interval": "1m", "url": "https://example.invalid/watched.git"},
        }),
        "idpkit-test",
    )
    .unwrap();
    set_status(kube, name, status);
}

fn set_status(kube: &KubeClient, name: &str, status: Value) {
    kube.patch_status(FLUX, "v1", "gitrepositories", NS, name, &status)
        .unwrap();
}

/// The status source-controller leaves: Ready with `artifact` (`ready` "True"), or
/// reconciling with the previous artifact kept (`ready` "Unknown").
fn status(url: &str, revision: &str, digest: &str, ready: &str, message: &str) -> Value {
    json!({
        "artifact": {"url": url, "revision": revision, "digest": digest, "size": 1,
                     "path": "gitrepository/flux-system/x/abc.tar.gz",
                     "lastUpdateTime": "2026-12-03T00:00:00Z"},
        "conditions": [{"type": "Ready", "status": ready,
                        "reason": if ready == "True" { "Succeeded" } else { "Progressing" },
                        "message": message, "lastTransitionTime": "2026-12-03T00:00:00Z"}],
    })
}

/// Serves a gzipped tar holding `file` with `content` from the rig's nginx; returns its URL
/// and sha256 digest.
fn serve(name: &str, file: &str, content: &[u8]) -> (String, String) {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_path(file).unwrap();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, content).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    let body = gz.finish().unwrap();
    let dir = common::rig_dir().join("artifacts");
    let file_name = format!("{name}.tar.gz");
    std::fs::write(dir.join(format!(".{file_name}")), &body).unwrap();
    std::fs::rename(dir.join(format!(".{file_name}")), dir.join(&file_name)).unwrap();
    let env = common::rig(&[]);
    let base = env["ARTIFACT_URL"].rsplit_once('/').unwrap().0.to_string();
    let digest = idpkit::digest::Digest::of(idpkit::digest::Algorithm::Sha256, &body);
    (format!("{base}/{file_name}"), digest.to_string())
}

fn options(env: &HashMap<String, String>, cache: &Path, name: &str) -> FetchFluxOptions {
    FetchFluxOptions {
        kind: "GitRepository".into(),
        namespace: NS.into(),
        name: name.into(),
        cluster: kube_options(env),
        cache: CacheOptions {
            cache: Some(cache.to_path_buf()),
        },
        trust: TrustOptions {
            ca_files: vec![env["CA"].clone().into()],
            no_platform_roots: true,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A sink sending every event to the returned receiver.
fn events() -> (EventSink, Receiver<Event>) {
    let (tx, rx) = channel();
    let tx = std::sync::Mutex::new(tx);
    let sink: EventSink = Arc::new(move |e: &Event| {
        let _ = tx.lock().unwrap().send(e.clone());
    });
    (sink, rx)
}

/// The next event, within [`STEP`].
fn next(rx: &Receiver<Event>, waiting_for: &str) -> Event {
    rx.recv_timeout(STEP)
        .unwrap_or_else(|e| panic!("no event within {STEP:?} while waiting for {waiting_for}: {e}"))
}

fn fetched(e: Event) -> SourceFetched {
    SourceFetched::from_event(&e).unwrap_or_else(|| panic!("expected source_fetched, got {e:?}"))
}

/// A watch started on a source that is not Ready yet says so once, then reports each
/// revision put in the cache: the first, a new one, and an old one again (a hit). A status
/// change that keeps the revision, a source reconciling, emit nothing; a revision whose
/// digest does not match is a warning and the watch goes on. Cancel ends it with `Ok`, soon.
#[test]
fn a_watch_fetches_each_new_revision_and_returns_on_cancel() {
    let env = common::rig(&[]);
    let kube = kube(&env);
    let name = unique("watch-core");
    let (url_a, digest_a) = (
        env["ARTIFACT_URL"].clone(),
        format!("sha256:{}", env["ARTIFACT_SHA256"]),
    );
    let (url_b, digest_b) = serve(&name, "b.txt", b"revision b");
    let rev_a = format!("main@sha1:{}", "a".repeat(40));
    let rev_b = format!("main@sha1:{}", "b".repeat(40));
    let rev_c = format!("main@sha1:{}", "c".repeat(40));
    create(
        &kube,
        &name,
        json!({"conditions": [{"type": "Ready", "status": "False", "reason": "GitOperationFailed",
               "message": "failed to checkout: auth required", "lastTransitionTime": "2026-12-03T00:00:00Z"}]}),
    );

    let cache = tempfile::tempdir().unwrap();
    let (sink, rx) = events();
    let cancel = CancelToken::new();
    let call = Call::new()
        .with_sink(Some(sink))
        .with_cancel(Some(cancel.clone()));
    let opts = options(&env, cache.path(), &name);
    let (done_tx, done_rx) = channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(watch_flux(&opts, &call));
    });

    let waiting = next(&rx, "the not-ready warning");
    match &waiting {
        Event::Warning { message } => {
            assert!(message.contains("auth required"), "{message}");
            assert!(message.contains("waiting"), "{message}");
        }
        other => panic!("expected a warning that the source is not ready, got {other:?}"),
    }

    set_status(
        &kube,
        &name,
        status(&url_a, &rev_a, &digest_a, "True", "stored A"),
    );
    let a = fetched(next(&rx, "revision A"));
    assert_eq!(a.revision, rev_a);
    assert!(!a.hit);
    assert_eq!(
        a.path,
        cache
            .path()
            .join(format!("flux-artifact/{NS}/{name}/main-sha-aaaaaaa"))
    );
    assert!(a.path.join("README.md").is_file());

    // Reconciling (Ready Unknown, the old artifact kept), then Ready again with the same
    // revision and another message: nothing. Then revision B.
    set_status(
        &kube,
        &name,
        status(&url_a, &rev_a, &digest_a, "Unknown", "building"),
    );
    set_status(
        &kube,
        &name,
        status(&url_a, &rev_a, &digest_a, "True", "stored A again"),
    );
    set_status(
        &kube,
        &name,
        status(&url_b, &rev_b, &digest_b, "True", "stored B"),
    );
    let b = fetched(next(&rx, "revision B"));
    assert_eq!(b.revision, rev_b);
    assert_eq!(std::fs::read(b.path.join("b.txt")).unwrap(), b"revision b");

    // C's digest is not its tarball's: a warning naming it; the watch goes on.
    let wrong = format!("sha256:{}", "e".repeat(64));
    set_status(
        &kube,
        &name,
        status(&url_b, &rev_c, &wrong, "True", "stored C"),
    );
    match next(&rx, "the warning about revision C") {
        Event::Warning { message } => {
            assert!(message.contains(&rev_c), "{message}");
            assert!(message.contains("INTEGRITY"), "{message}");
            assert!(
                message.contains(&rev_b),
                "names the revision kept: {message}"
            );
        }
        other => panic!("expected a warning about revision C, got {other:?}"),
    }
    // Back to A: already in the cache.
    set_status(
        &kube,
        &name,
        status(&url_a, &rev_a, &digest_a, "True", "rolled back"),
    );
    let again = fetched(next(&rx, "revision A again"));
    assert_eq!((again.revision.as_str(), again.hit), (rev_a.as_str(), true));

    std::thread::sleep(Duration::from_millis(200));
    let at = Instant::now();
    cancel.cancel();
    let r: SourceWatched = done_rx
        .recv_timeout(STEP)
        .expect("the watch did not return after cancel")
        .expect("a cancelled watch returns Ok");
    assert!(
        at.elapsed() < Duration::from_secs(3),
        "the watch took {:?} to stop",
        at.elapsed()
    );
    assert_eq!((r.fetched, r.failed), (3, 1));
    assert_eq!(r.last, Some(again));
    assert!(rx.try_recv().is_err(), "no event after the ones checked");
    let _ = std::fs::remove_file(common::rig_dir().join(format!("artifacts/{name}.tar.gz")));
}

/// The first fetch is checked as `source fetch flux` checks it: a digest that does not
/// match ends the watch with INTEGRITY, and a source that does not exist is NOT_FOUND.
#[test]
fn a_watch_whose_first_fetch_fails_ends_with_that_error() {
    let env = common::rig(&[]);
    let kube = kube(&env);
    let name = unique("watch-bad");
    let wrong = format!("sha256:{}", "e".repeat(64));
    create(
        &kube,
        &name,
        status(
            &env["ARTIFACT_URL"],
            &format!("main@{wrong}"),
            &wrong,
            "True",
            "stored",
        ),
    );
    let cache = tempfile::tempdir().unwrap();
    let e = watch_flux(&options(&env, cache.path(), &name), &Call::new()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    let e = watch_flux(
        &options(&env, cache.path(), "no-such-watched-source"),
        &Call::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert!(e.message.contains("no-such-watched-source"), "{e}");
}

/// The API server ends every watch request after its timeout (here 1 s; 290 s by default):
/// the watch resumes from the last resourceVersion, silently, and still sees the next
/// change.
#[test]
fn a_watch_outlives_the_api_server_ending_its_stream() {
    let env = common::rig(&[]);
    let writer = kube(&env);
    let name = unique("watch-resume");
    create(
        &writer,
        &name,
        status(
            "http://x/a.tar.gz",
            "main@sha1:0",
            "sha256:00",
            "True",
            "r0",
        ),
    );
    let (sink, warnings) = events();
    let watcher = KubeClient::connect(&kube_options(&env), Some(&sink))
        .unwrap()
        .with_watch_timeout(1);
    let cancel = CancelToken::new();
    let (tx, rx) = channel::<String>();
    let stop = cancel.clone();
    let watched = name.clone();
    let handle = std::thread::spawn(move || {
        watcher.watch_custom(
            FLUX,
            "v1",
            "gitrepositories",
            NS,
            &watched,
            Some(&stop),
            |o| {
                let m = o["status"]["conditions"][0]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let _ = tx.send(m);
                Ok(true)
            },
        )
    });
    assert_eq!(rx.recv_timeout(STEP).unwrap(), "r0");
    // Three timeouts of the server's watch request pass without a change.
    std::thread::sleep(Duration::from_millis(3500));
    set_status(
        &writer,
        &name,
        status(
            "http://x/a.tar.gz",
            "main@sha1:0",
            "sha256:00",
            "True",
            "r1",
        ),
    );
    assert_eq!(
        rx.recv_timeout(STEP)
            .expect("the change after the stream ended"),
        "r1"
    );
    cancel.cancel();
    let e = handle.join().unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled, "{e}");
    let said: Vec<Event> = warnings.try_iter().collect();
    assert!(
        said.is_empty(),
        "a routine end of the stream is not a warning: {said:?}"
    );
    assert!(rx.try_recv().is_err(), "nothing new was delivered twice");
}
