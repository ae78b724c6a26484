//! A callback that calls idpkit again gets a clear CONFLICT instead of a deadlock (gc from a
//! build's callback: an exclusive store lock against the build's shared one) or an abort
//! (a registry call from a registry callback: a runtime within the runtime).

mod common;

use idpkit::registry::{self, RegistryOptions};
use idpkit::{BuildOptions, ErrorKind, Event, EventSink, Store};
use std::sync::{Arc, Mutex};

fn context() -> tempfile::TempDir {
    let ctx = tempfile::tempdir().unwrap();
    for i in 0..20 {
        std::fs::write(ctx.path().join(format!("f{i}")), vec![b'x'; 10_000 * i]).unwrap();
    }
    ctx
}

#[test]
fn gc_from_a_build_callback_is_a_conflict_not_a_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let ctx = context();
    let errors = Arc::new(Mutex::new(Vec::new()));
    let (s, e) = (store.clone(), errors.clone());
    let sink: EventSink = Arc::new(move |_: &Event| {
        if let Err(err) = s.gc() {
            e.lock().unwrap().push(err);
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let st = store.clone();
    let context = ctx.path().to_path_buf();
    std::thread::spawn(move || {
        let opts = BuildOptions {
            context,
            tags: vec!["localhost/reentry:v1".into()],
            ..Default::default()
        };
        let _ = tx.send(st.build(&opts, Some(&sink), None).map(|r| r.digest));
    });
    let built = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the build deadlocked on gc from its callback");
    assert!(built.is_ok(), "{built:?}");
    let errors = errors.lock().unwrap();
    assert!(!errors.is_empty(), "the callback never ran");
    for err in errors.iter() {
        assert_eq!(err.kind, ErrorKind::Conflict, "{}", err.message);
        assert!(err.message.contains("callback"), "{}", err.message);
    }
}

#[test]
fn a_registry_call_from_a_registry_callback_is_a_conflict_not_a_panic() {
    let reg = common::rig(&["REGISTRY_PLAIN"])["REGISTRY_PLAIN"].clone();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let ctx = context();
    let tag = format!("{reg}/idpkit-test/reentry-{}:v1", std::process::id());
    store
        .build(
            &BuildOptions {
                context: ctx.path().into(),
                tags: vec![tag.clone()],
                ..Default::default()
            },
            None,
            None,
        )
        .unwrap();
    let errors = Arc::new(Mutex::new(Vec::new()));
    let e = errors.clone();
    let repo = tag.trim_end_matches(":v1").to_string();
    let sink: EventSink = Arc::new(move |_: &Event| {
        let r = std::panic::catch_unwind(|| {
            registry::list_tags(&repo, &RegistryOptions::default(), None)
        });
        e.lock()
            .unwrap()
            .push(r.map_err(|_| "panicked").map(|r| r.map_err(|e| e.kind)));
    });
    store
        .push(&tag, None, &RegistryOptions::default(), Some(&sink))
        .unwrap();
    let errors = errors.lock().unwrap();
    assert!(!errors.is_empty(), "the callback never ran");
    for r in errors.iter() {
        assert_eq!(*r, Ok(Err(ErrorKind::Conflict)));
    }
}
