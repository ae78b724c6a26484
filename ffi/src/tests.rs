//! The C ABI from Rust: the store, the generic and typed entries, credentials, cancel.

use crate::*;
use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

fn temp_dir(name: &str) -> std::path::PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("idpkit-ffi-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn take(s: *mut c_char) -> String {
    let text = unsafe { CStr::from_ptr(s) }.to_str().unwrap().to_string();
    idpkit_string_free(s);
    text
}

/// The message of `err`, which it frees.
fn message(err: *mut idpkit_error) -> String {
    let m = unsafe { CStr::from_ptr(idpkit_error_message(err)) };
    let m = m.to_str().unwrap().to_string();
    idpkit_error_free(err);
    m
}

unsafe extern "C" fn count(user_data: *mut c_void, event_json: *const c_char) {
    let json = unsafe { CStr::from_ptr(event_json) }.to_str().unwrap();
    assert!(json.starts_with("{\"type\":"));
    unsafe { *(user_data as *mut usize) += 1 };
}

fn open(dir: &std::path::Path) -> *mut idpkit_store {
    let mut store = ptr::null_mut();
    let path = c(dir.join("store").to_str().unwrap());
    assert_eq!(
        idpkit_store_new(path.as_ptr(), &mut store, ptr::null_mut()),
        idpkit_result::Ok
    );
    store
}

#[test]
fn build_list_and_errors() {
    let dir = temp_dir("build");
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("a.txt"), "a\n").unwrap();
    let store = open(&dir);
    let opts = c(&format!(
        r#"{{"context": {:?}, "tags": ["ffi:v1"]}}"#,
        ctx.to_str().unwrap()
    ));
    let (none, no_cb) = (ptr::null(), None);
    let mut events = 0usize;
    let mut out = ptr::null_mut();
    let r = idpkit_build(
        store,
        opts.as_ptr(),
        none,
        Some(count),
        &mut events as *mut usize as *mut c_void,
        ptr::null(),
        &mut out,
        ptr::null_mut(),
    );
    assert_eq!(r, idpkit_result::Ok);
    let result: serde_json::Value = serde_json::from_str(&take(out)).unwrap();
    assert!(result["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(events >= 3, "{events} events");

    // The generic entry with the operation's name is the typed entry.
    let images = c("images");
    let r = idpkit_call(
        images.as_ptr(),
        store,
        ptr::null(),
        none,
        no_cb,
        ptr::null_mut(),
        ptr::null(),
        &mut out,
        ptr::null_mut(),
    );
    assert_eq!(r, idpkit_result::Ok);
    assert!(take(out).contains("ffi:v1"));

    // Failure: the output stays as it was and the error carries kind and message.
    let mut out = ptr::null_mut();
    let mut err = ptr::null_mut();
    let missing = c(r#"{"reference": "missing:latest"}"#);
    let r = idpkit_inspect(
        store,
        missing.as_ptr(),
        none,
        no_cb,
        ptr::null_mut(),
        ptr::null(),
        &mut out,
        &mut err,
    );
    assert_eq!(r, idpkit_result::NotFound);
    assert!(out.is_null());
    assert_eq!(idpkit_error_result(err), idpkit_result::NotFound);
    idpkit_error_free(err);

    // Cancelled before the call.
    let cancel = idpkit_cancel_new();
    idpkit_cancel_cancel(cancel);
    let mut err = ptr::null_mut();
    let r = idpkit_build(
        store,
        opts.as_ptr(),
        none,
        no_cb,
        ptr::null_mut(),
        cancel,
        &mut out,
        &mut err,
    );
    assert_eq!(r, idpkit_result::Cancelled);
    assert!(out.is_null());
    idpkit_error_free(err);
    idpkit_cancel_free(cancel);

    // NULL arguments: the store of a store operation, the output.
    let nothing = ptr::null_mut();
    let r = idpkit_images(
        ptr::null(),
        ptr::null(),
        none,
        no_cb,
        nothing,
        ptr::null(),
        &mut out,
        nothing.cast(),
    );
    assert_eq!(r, idpkit_result::NullArgument);
    let r = idpkit_images(
        store,
        ptr::null(),
        none,
        no_cb,
        nothing,
        ptr::null(),
        ptr::null_mut(),
        ptr::null_mut(),
    );
    assert_eq!(r, idpkit_result::NullArgument);

    idpkit_store_free(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `idpkit_list_tags` to a closed port with `options` and `credentials`: the result and
/// error message.
fn list_tags(options: &str, credentials: *const idpkit_credentials) -> (idpkit_result, String) {
    let options = c(options);
    let mut out = ptr::null_mut();
    let mut err = ptr::null_mut();
    let r = idpkit_list_tags(
        options.as_ptr(),
        credentials,
        None,
        ptr::null_mut(),
        ptr::null(),
        &mut out,
        &mut err,
    );
    assert!(out.is_null());
    (
        r,
        if err.is_null() {
            String::new()
        } else {
            message(err)
        },
    )
}

#[test]
fn options_are_checked_before_any_network() {
    let cases = [
        (
            r#"{"repository": "127.0.0.1:9/a/b", "job": 2}"#,
            "unknown field `job`",
        ),
        (
            r#"{"repository": "127.0.0.1:9/a/b", "jobs": "many"}"#,
            "jobs",
        ),
        ("[1]", "object"),
        (
            r#"{"repository": "127.0.0.1:9/a/b", "password": "x"}"#,
            "credentials are separate",
        ),
    ];
    for (json, want) in cases {
        let (r, msg) = list_tags(json, ptr::null());
        assert_eq!(r, idpkit_result::InvalidInput, "{want}");
        assert!(msg.contains(want), "{msg}");
    }
    // A username needs its password: NULL is a NULL argument, and the handle stays empty.
    let creds = idpkit_credentials_new();
    let user = c("u");
    let mut err = ptr::null_mut();
    let r = idpkit_credentials_set_basic(creds, user.as_ptr(), ptr::null(), &mut err);
    assert_eq!(r, idpkit_result::NullArgument);
    assert!(message(err).contains("password"));
    assert_eq!(
        idpkit_credentials_set_token(creds, ptr::null(), ptr::null_mut()),
        idpkit_result::NullArgument
    );
    idpkit_credentials_free(creds);
    idpkit_credentials_free(ptr::null_mut());
}

#[test]
fn secrets_never_in_messages_and_a_raised_cancel_fails_at_once() {
    let opts = r#"{"repository": "127.0.0.1:9/a/b", "attempts": 1, "connect_timeout_secs": 1}"#;
    let creds = idpkit_credentials_new();
    let (user, pass, token) = (c("u"), c("hunter2-secret"), c("tok-hunter3-secret"));
    assert_eq!(
        idpkit_credentials_set_basic(creds, user.as_ptr(), pass.as_ptr(), ptr::null_mut()),
        idpkit_result::Ok
    );
    let (r, msg) = list_tags(opts, creds);
    assert_eq!(r, idpkit_result::Network, "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
    // A token replaces the username and password.
    assert_eq!(
        idpkit_credentials_set_token(creds, token.as_ptr(), ptr::null_mut()),
        idpkit_result::Ok
    );
    let (r, msg) = list_tags(opts, creds);
    assert_eq!(r, idpkit_result::Network, "{msg}");
    assert!(!msg.contains("hunter3"), "{msg}");

    let cancel = idpkit_cancel_new();
    idpkit_cancel_cancel(cancel);
    let options = c(opts);
    let mut out = ptr::null_mut();
    let mut err = ptr::null_mut();
    let r = idpkit_list_tags(
        options.as_ptr(),
        creds,
        None,
        ptr::null_mut(),
        cancel,
        &mut out,
        &mut err,
    );
    assert_eq!(r, idpkit_result::Cancelled);
    idpkit_error_free(err);
    idpkit_cancel_free(cancel);
    idpkit_credentials_free(creds);
}
