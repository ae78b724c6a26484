//! `idpkit_store`: the local OCI image-layout store.

use crate::boundary::{guard, idpkit_result, non_null, Failure};
use crate::cancel::idpkit_cancel;
use crate::error::idpkit_error;
use crate::strings::{arg_str, json_out, opt_str};
use idpkit::{BuildOptions, Error, Event, EventSink, Store};
use std::ffi::{c_char, c_void, CString};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A local OCI image-layout store (`oci-layout`, `index.json`, `blobs/`).
///
/// Created by `idpkit_store_new` or `idpkit_store_new_default`, freed by
/// `idpkit_store_free`. Thread-safe: one handle may be used by many threads at once (writers
/// are serialized by file locks, also across processes), except that `idpkit_store_free`
/// must run after every other call on the handle has returned.
pub struct idpkit_store {
    store: Store,
}

/// A progress callback: receives `user_data` as given and one event as a JSON document,
/// `{"type": "build_started" | "layer_progress" | "layer_cached" | "layer_done" |
/// "image_stored" | "warning", ...}` from a build, `{"type": "blob_started" | "blob_progress" |
/// "blob_done" | "blob_skipped" | "blob_mounted" | "manifest_pushed" | "retry_scheduled" |
/// "insecure_connection", ...}` from a push or pull (the core's `Event` shapes; new types
/// may be added: ignore the ones you do not know).
///
/// `event_json` is borrowed: valid only until the callback returns. The callback may run on
/// a thread other than the caller's, but never concurrently with itself for one call, and
/// only before the call that was given it returns. It must not unwind (throw) into idpkit.
pub type idpkit_event_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event_json: *const c_char)>;

/// The C callback plus its user data, callable from the core's worker threads.
struct Callback {
    f: unsafe extern "C" fn(*mut c_void, *const c_char),
    user_data: *mut c_void,
    /// Serializes the calls (the core may emit from several threads).
    lock: Mutex<()>,
}

// SAFETY: the caller promises the callback and its user data may be used from another
// thread (documented on `idpkit_event_callback`); `lock` keeps the calls sequential.
unsafe impl Send for Callback {}
unsafe impl Sync for Callback {}

impl Callback {
    fn call(&self, event: &Event) {
        let Ok(text) = serde_json::to_string(event) else {
            return;
        };
        let Ok(text) = CString::new(text) else {
            return;
        };
        let _held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: a valid function pointer and user data given by the caller for this call.
        unsafe { (self.f)(self.user_data, text.as_ptr()) };
    }
}

/// The core's event sink calling `callback` (None when `callback` is NULL).
pub(crate) fn event_sink(
    callback: idpkit_event_callback,
    user_data: *mut c_void,
) -> Option<EventSink> {
    callback.map(|f| {
        let cb = Callback {
            f,
            user_data,
            lock: Mutex::new(()),
        };
        Arc::new(move |e: &Event| cb.call(e)) as EventSink
    })
}

pub(crate) fn store_ref<'a>(store: *const idpkit_store) -> Result<&'a Store, Failure> {
    let p = non_null(store, "store")?;
    // SAFETY: a non-NULL handle came from `idpkit_store_new*` and is alive (documented).
    Ok(unsafe { &(*p).store })
}

/// Writes `value` to a required output pointer (the last step of a successful call).
pub(crate) fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: checked non-NULL before any work; points to writable memory (documented).
    unsafe { *out = value };
}

pub(crate) fn check_out<T>(out: *mut T, name: &'static str) -> Result<(), Failure> {
    non_null(out as *const T, name).map(|_| ())
}

/// Opens the store at `path` (UTF-8), creating an empty OCI image layout when the directory
/// is missing or empty, and writes a new handle to `*store_out`.
///
/// Ownership: the caller frees `*store_out` with `idpkit_store_free`.
/// Errors: `NULL_ARGUMENT` (`path` or `store_out` NULL), `INVALID_INPUT` (not UTF-8, or
/// `path` is a file or a non-empty directory that is not an OCI layout), `NOT_FOUND`, `IO`.
#[no_mangle]
pub extern "C" fn idpkit_store_new(
    path: *const c_char,
    store_out: *mut *mut idpkit_store,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(store_out, "store_out")?;
        let path = arg_str(path, "path")?;
        let store = Store::open(path)?;
        write_out(store_out, Box::into_raw(Box::new(idpkit_store { store })));
        Ok(())
    })
}

/// Opens the default store (`$IDPKIT_STORE`, else `$XDG_DATA_HOME/idpkit/store`, else
/// `~/.local/share/idpkit/store`), like `idpkit_store_new`.
///
/// Errors: `NULL_ARGUMENT` (`store_out` NULL), then as `idpkit_store_new`.
#[no_mangle]
pub extern "C" fn idpkit_store_new_default(
    store_out: *mut *mut idpkit_store,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(store_out, "store_out")?;
        let store = Store::open_default()?;
        write_out(store_out, Box::into_raw(Box::new(idpkit_store { store })));
        Ok(())
    })
}

/// Frees a store handle. NULL is accepted and ignored. The store on disk is untouched.
/// Call it once, after every other call on the handle has returned.
#[no_mangle]
pub extern "C" fn idpkit_store_free(store: *mut idpkit_store) {
    crate::boundary::guard_infallible((), || {
        if !store.is_null() {
            // SAFETY: came from `idpkit_store_new*`, freed once (documented).
            drop(unsafe { Box::from_raw(store) });
        }
    })
}

/// Writes the store's root directory to `*path_out` (UTF-8; free it with
/// `idpkit_string_free`).
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (the path is not valid UTF-8).
#[no_mangle]
pub extern "C" fn idpkit_store_root(
    store: *const idpkit_store,
    path_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(path_out, "path_out")?;
        let store = store_ref(store)?;
        let root = store.root().to_str().ok_or_else(|| {
            Error::invalid(format!(
                "store {}: path is not UTF-8",
                store.root().display()
            ))
        })?;
        let c = CString::new(root).map_err(|_| Error::invalid("store path contains NUL"))?;
        write_out(path_out, c.into_raw());
        Ok(())
    })
}

/// Builds an image from a directory and tags it in the store. Blocks until done.
///
/// `options_json` is a JSON object with the core's `BuildOptions` fields (`context` is the
/// directory; `tags`, `from`, `prefix`, `entrypoint`, `cmd`, `env`, `workdir`, `user`,
/// `labels`, `annotations`, `platform`, `excludes`, `compression` ("gzip" or "zstd"),
/// `level`, `threads`, `source_date_epoch`, `no_cache`); unknown fields are refused.
/// `callback` (may be NULL) receives progress events with `user_data`. `cancel` (may be
/// NULL) stops the build from another thread. On success `*result_json_out` receives a
/// `BuildResult` JSON object (`digest`, `config_digest`, `layer`, `tags`, `cached`, `size`,
/// `entries`) that the caller frees with `idpkit_string_free`.
///
/// On failure the store is left as it was.
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (bad JSON, field, tag, level or platform),
/// `NOT_FOUND` (context or base image), `CANCELLED`, `IO`, `INTEGRITY`, `INTERNAL`.
#[no_mangle]
pub extern "C" fn idpkit_store_build(
    store: *const idpkit_store,
    options_json: *const c_char,
    callback: idpkit_event_callback,
    user_data: *mut c_void,
    cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(result_json_out, "result_json_out")?;
        let store = store_ref(store)?;
        let text = arg_str(options_json, "options_json")?;
        let opts: BuildOptions =
            serde_json::from_str(text).map_err(|e| Error::from(e).context("options_json"))?;
        let token = crate::cancel::token_of(cancel);
        let sink = event_sink(callback, user_data);
        let result = store.build(&opts, sink.as_ref(), token.as_ref())?;
        write_out(result_json_out, json_out(&result)?);
        Ok(())
    })
}

/// Lists the images in the store: `*images_json_out` receives a JSON array of
/// `ImageSummary` objects (`reference` (null when untagged), `digest`, `size`, `created`,
/// `media_type`); free it with `idpkit_string_free`.
///
/// Errors: `NULL_ARGUMENT`, `IO`, `INVALID_INPUT` (a corrupt `index.json`).
#[no_mangle]
pub extern "C" fn idpkit_store_images(
    store: *const idpkit_store,
    images_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(images_json_out, "images_json_out")?;
        let images = store_ref(store)?.images()?;
        write_out(images_json_out, json_out(&images)?);
        Ok(())
    })
}

/// Points the tag `target` at the image `source` (a tag or `name@sha256:...`), replacing
/// what `target` pointed at. `*summary_json_out` receives the new entry's `ImageSummary`
/// JSON object; free it with `idpkit_string_free`.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (a malformed reference, or `target` without a
/// tag), `NOT_FOUND` (`source`), `IO`.
#[no_mangle]
pub extern "C" fn idpkit_store_tag(
    store: *const idpkit_store,
    source: *const c_char,
    target: *const c_char,
    summary_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(summary_json_out, "summary_json_out")?;
        let store = store_ref(store)?;
        let source = arg_str(source, "source")?;
        let target = arg_str(target, "target")?;
        let summary = store.tag(source, target)?;
        write_out(summary_json_out, json_out(&summary)?);
        Ok(())
    })
}

/// Removes a tag, or every entry of a digest, from the store (`idpkit_store_gc` frees the
/// space). `*removed_json_out` receives a JSON array of the removed references (strings);
/// free it with `idpkit_string_free`.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT`, `NOT_FOUND`, `IO`.
#[no_mangle]
pub extern "C" fn idpkit_store_remove(
    store: *const idpkit_store,
    reference: *const c_char,
    removed_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(removed_json_out, "removed_json_out")?;
        let store = store_ref(store)?;
        let reference = arg_str(reference, "reference")?;
        let removed = store.remove(reference)?;
        write_out(removed_json_out, json_out(&removed)?);
        Ok(())
    })
}

/// Reads an image's manifest and config. `*inspect_json_out` receives an `ImageInspect`
/// JSON object (`reference`, `digest`, `manifest`, `config`); free it with
/// `idpkit_string_free`.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT`, `NOT_FOUND`, `INTEGRITY`, `IO`.
#[no_mangle]
pub extern "C" fn idpkit_store_inspect(
    store: *const idpkit_store,
    reference: *const c_char,
    inspect_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(inspect_json_out, "inspect_json_out")?;
        let store = store_ref(store)?;
        let reference = arg_str(reference, "reference")?;
        let inspect = store.inspect(reference)?;
        write_out(inspect_json_out, json_out(&inspect)?);
        Ok(())
    })
}

/// Deletes the blobs no image in the store refers to. `*report_json_out` receives a
/// `GcReport` JSON object (`removed_blobs`, `freed_bytes`); free it with
/// `idpkit_string_free`. Waits for running builds and imports (they hold a shared lock).
///
/// Errors: `NULL_ARGUMENT`, `IO`.
#[no_mangle]
pub extern "C" fn idpkit_store_gc(
    store: *const idpkit_store,
    report_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(report_json_out, "report_json_out")?;
        let report = store_ref(store)?.gc()?;
        write_out(report_json_out, json_out(&report)?);
        Ok(())
    })
}

/// Copies images from another OCI image layout (umoci, `skopeo copy ... oci:DIR:TAG`) into
/// the store. `tag` (may be NULL) picks the layout entry whose ref name is `tag`, else every
/// entry is copied; `name` (may be NULL) is the reference to store the image as.
/// `*images_json_out` receives a JSON array of the imported `ImageSummary` objects; free it
/// with `idpkit_string_free`.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT`, `NOT_FOUND` (layout or tag), `INTEGRITY`, `IO`.
#[no_mangle]
pub extern "C" fn idpkit_store_import(
    store: *const idpkit_store,
    layout_path: *const c_char,
    tag: *const c_char,
    name: *const c_char,
    images_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(images_json_out, "images_json_out")?;
        let store = store_ref(store)?;
        let layout = arg_str(layout_path, "layout_path")?;
        let tag = opt_str(tag, "tag")?;
        let name = opt_str(name, "name")?;
        let images = store.import(Path::new(layout), tag, name)?;
        write_out(images_json_out, json_out(&images)?);
        Ok(())
    })
}

/// Copies the image `reference` from the store into the OCI image layout at `layout_path`
/// (created when missing), under the ref name `tag` (may be NULL: the reference's tag).
/// `*summary_json_out` receives the exported `ImageSummary` JSON object; free it with
/// `idpkit_string_free`.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT`, `NOT_FOUND`, `IO`.
#[no_mangle]
pub extern "C" fn idpkit_store_export(
    store: *const idpkit_store,
    reference: *const c_char,
    layout_path: *const c_char,
    tag: *const c_char,
    summary_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(summary_json_out, "summary_json_out")?;
        let store = store_ref(store)?;
        let reference = arg_str(reference, "reference")?;
        let layout = arg_str(layout_path, "layout_path")?;
        let tag = opt_str(tag, "tag")?;
        let summary = store.export(reference, Path::new(layout), tag)?;
        write_out(summary_json_out, json_out(&summary)?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{idpkit_cancel_cancel, idpkit_cancel_free, idpkit_cancel_new, idpkit_string_free};
    use std::ffi::CStr;
    use std::ptr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn temp_dir(name: &str) -> std::path::PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("idpkit-ffi-{}-{name}-{n}", std::process::id()));
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

    unsafe extern "C" fn count(user_data: *mut c_void, event_json: *const c_char) {
        let json = unsafe { CStr::from_ptr(event_json) }.to_str().unwrap();
        assert!(json.starts_with("{\"type\":"));
        unsafe { *(user_data as *mut usize) += 1 };
    }

    fn open(dir: &Path) -> *mut idpkit_store {
        let mut store = ptr::null_mut();
        let path = c(dir.join("store").to_str().unwrap());
        let r = idpkit_store_new(path.as_ptr(), &mut store, ptr::null_mut());
        assert_eq!(r, idpkit_result::Ok);
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
        let mut events = 0usize;
        let mut out = ptr::null_mut();
        let r = idpkit_store_build(
            store,
            opts.as_ptr(),
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

        let mut out = ptr::null_mut();
        assert_eq!(
            idpkit_store_images(store, &mut out, ptr::null_mut()),
            idpkit_result::Ok
        );
        assert!(take(out).contains("ffi:v1"));

        // Failure: the output stays as it was and the error carries kind and message.
        let mut out = ptr::null_mut();
        let mut err = ptr::null_mut();
        let missing = c("missing:latest");
        let r = idpkit_store_inspect(store, missing.as_ptr(), &mut out, &mut err);
        assert_eq!(r, idpkit_result::NotFound);
        assert!(out.is_null());
        assert_eq!(crate::idpkit_error_result(err), idpkit_result::NotFound);
        crate::idpkit_error_free(err);

        // Cancelled before the call.
        let cancel = idpkit_cancel_new();
        idpkit_cancel_cancel(cancel);
        let mut err = ptr::null_mut();
        let r = idpkit_store_build(
            store,
            opts.as_ptr(),
            None,
            ptr::null_mut(),
            cancel,
            &mut out,
            &mut err,
        );
        assert_eq!(r, idpkit_result::Cancelled);
        assert!(out.is_null());
        crate::idpkit_error_free(err);
        idpkit_cancel_free(cancel);

        // NULL arguments.
        let r = idpkit_store_images(ptr::null(), &mut out, ptr::null_mut());
        assert_eq!(r, idpkit_result::NullArgument);
        let r = idpkit_store_images(store, ptr::null_mut(), ptr::null_mut());
        assert_eq!(r, idpkit_result::NullArgument);

        idpkit_store_free(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
