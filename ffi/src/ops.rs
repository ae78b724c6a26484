//! One typed entry per operation of the contract, each the generic `idpkit_call` with its
//! operation name fixed (so the header lists them and a typo is a compile error). Written
//! out plainly because cbindgen does not expand macros; rustfmt is skipped for this file
//! (lib.rs) so each stays a few lines. Options and results: `contract/idpkit.json`.

use crate::boundary::idpkit_result;
use crate::call::{idpkit_event_callback, run};
use crate::cancel::idpkit_cancel;
use crate::credentials::idpkit_credentials;
use crate::error::idpkit_error;
use crate::store::idpkit_store;
use std::ffi::{c_char, c_void};

/// Builds an image from a directory into the store (one layer over an optional base).
/// Options `$defs/BuildOptions`, result `$defs/BuildResult`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_build(
    store: *const idpkit_store, options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("build", Some(store), options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Lists the images of the store with their tags, digest, size.
/// Options `$defs/NoOptions`, result an array of `$defs/ImageSummary`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_images(
    store: *const idpkit_store, options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("images", Some(store), options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Points a new reference at an image of the store.
/// Options `$defs/TagOptions`, result `$defs/ImageSummary`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_tag(
    store: *const idpkit_store, options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("tag", Some(store), options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Removes a tag (or every tag of a digest); `gc` frees the blobs. Returns what was untagged.
/// Options `$defs/ImageRef`, result an array of strings; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_remove(
    store: *const idpkit_store, options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("remove", Some(store), options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// The manifest and config of an image of the store.
/// Options `$defs/ImageRef`, result `$defs/ImageInspect`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_inspect(
    store: *const idpkit_store, options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("inspect", Some(store), options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Removes blobs no image of the store references.
/// Options `$defs/NoOptions`, result `$defs/GcReport`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_gc(
    store: *const idpkit_store, options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("gc", Some(store), options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Imports the images of an OCI image layout into the store.
/// Options `$defs/ImportOptions`, result an array of `$defs/ImageSummary`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_import(
    store: *const idpkit_store, options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("import", Some(store), options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Writes an image of the store into an OCI image layout.
/// Options `$defs/ExportOptions`, result `$defs/ImageSummary`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_export(
    store: *const idpkit_store, options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("export", Some(store), options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Pushes an image of the store to a registry; blobs the registry has are skipped.
/// Options `$defs/PushOptions`, result `$defs/PushResult`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_push(
    store: *const idpkit_store, options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("push", Some(store), options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Pulls an image into the store, verifying every blob; an index resolves to `platform`.
/// Options `$defs/RemoteRef`, result `$defs/PullResult`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_pull(
    store: *const idpkit_store, options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("pull", Some(store), options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// The tags of a repository, following the registry's pages.
/// Options `$defs/ListTagsOptions`, result an array of strings; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_list_tags(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("list_tags", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// The repositories of a registry (`/v2/_catalog`).
/// Options `$defs/RegistryHost`, result an array of strings; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_catalog(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("catalog", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Copies an image between repositories or registries (mounts within one registry).
/// Options `$defs/CopyOptions`, result `$defs/PushResult`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_copy(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("copy", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Deletes a manifest by tag or digest; returns the digest deleted.
/// Options `$defs/RemoteRef`, result a JSON string; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_delete(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("delete", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Reads a remote image's manifest and config without pulling it (an index resolves to `platform`).
/// Options `$defs/RemoteRef`, result `$defs/RemoteInspect`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_inspect_remote(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("inspect_remote", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Checks the call's username and password against a registry and stores them.
/// Options `$defs/RegistryHost`, result `$defs/LoginResult`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_login(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("login", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Logs in to a registry with Gitea's credentials read from an idpbuilder cluster.
/// Options `$defs/LoginFromClusterOptions`, result `$defs/LoginResult`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_login_from_cluster(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("login_from_cluster", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Removes the stored login of a registry; false when there was none.
/// Options `$defs/LogoutOptions`, result a JSON boolean; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_logout(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("logout", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Connects to a host and reports its certificate chain and whether it is trusted, and why.
/// Options `$defs/TrustCheckOptions`, result `$defs/TrustReport`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_trust_check(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("trust_check", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Installs a CA for a host in certs.d; returns the file written.
/// Options `$defs/TrustAddOptions`, result a JSON string; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_trust_add(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("trust_add", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Reads idpbuilder's CA from the cluster's Secrets and installs it for the Gitea host.
/// Options `$defs/ClusterOptions`, result `$defs/ExtractResult`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_trust_extract(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("trust_extract", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Fetches a tarball by URL and digest into the source cache (verified while streaming,
/// extracted safely, published whole); returns its directory.
/// Options `$defs/FetchArtifactOptions`, result `$defs/SourceFetched`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_source_fetch_artifact(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("source_fetch_artifact", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Fetches the artifact of a Flux source (GitRepository, OCIRepository, Bucket, HelmChart) read
/// from the cluster into the source cache; returns its directory.
/// Options `$defs/FetchFluxOptions`, result `$defs/SourceFetched`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_source_fetch_flux(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("source_fetch_flux", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Fetches a git revision (shallow, exactly one commit) into the source cache; returns its
/// directory.
/// Options `$defs/FetchGitOptions`, result `$defs/SourceFetched`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_source_fetch_git(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("source_fetch_git", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Fetches every git source of an Argo CD Application, with the credentials and host keys Argo
/// CD would use, into the source cache.
/// Options `$defs/FetchArgoOptions`, result `$defs/ArgoFetched`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_source_fetch_argo(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("source_fetch_argo", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Lists the entries of the source cache, newest first, with their age and last use.
/// Options `$defs/CacheOptions`, result an array of `$defs/SourceListing`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_source_list(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("source_list", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Removes source cache entries by policy (newest N per source, age, size budget); never an
/// entry in use, never a file that is not an entry.
/// Options `$defs/SourceGcOptions`, result `$defs/GcResult`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_source_gc(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("source_gc", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Keeps a Flux source's entry in the source cache current: fetches its artifact, then each
/// new revision as the object changes (a watch), each reported by a `source_fetched` event,
/// until cancelled; cancel ends it normally, with how many revisions it fetched and the last.
/// Options `$defs/FetchFluxOptions`, result `$defs/SourceWatched`; arguments as for `idpkit_call`.
/// Blocks until `cancel` fires (then returns `IDPKIT_RESULT_OK`) or the watch fails.
#[no_mangle]
pub extern "C" fn idpkit_source_watch_flux(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("source_watch_flux", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Keeps an Argo CD Application's git sources current in the source cache: fetches them, then
/// again whenever their sources or synced revisions change, each source reported by a
/// `source_fetched` event, until cancelled; cancel ends it normally, with how many it fetched and
/// the last.
/// Options `$defs/FetchArgoOptions`, result `$defs/SourceWatched`; arguments as for `idpkit_call`.
/// Blocks until `cancel` fires (then returns `IDPKIT_RESULT_OK`) or the watch fails.
#[no_mangle]
pub extern "C" fn idpkit_source_watch_argo(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("source_watch_argo", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Decides whether a git command may run (allow, warn or block) under the push guard's policy:
/// forced pushes, deletes and mirrors of protected branches in every spelling, aliases and
/// config included.
/// Options `$defs/GitGuardCheckOptions`, result `$defs/GuardVerdict`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_git_guard_check(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("git_guard_check", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Decides a push from the ref updates git gives a pre-push hook: deleting or rewriting
/// (non-fast-forward) a protected ref is blocked.
/// Options `$defs/GitGuardHookOptions`, result `$defs/GuardVerdict`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_git_guard_hook(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("git_guard_hook", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Decrypts a SOPS file (dotenv, YAML, JSON; age recipients) natively, verifying every value
/// and the file's MAC; returns its values.
/// Options `$defs/SecretsDecryptOptions`, result `$defs/SecretsDecrypted`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_secrets_decrypt(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("secrets_decrypt", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Parses dotenv text by dotenv's rules (quotes, escapes, `${VAR}` expansion; nothing is
/// run: `$(…)` stays text); returns its variables in order.
/// Options `$defs/SecretsParseOptions`, result `$defs/SecretsParsed`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_secrets_parse(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("secrets_parse", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Creates or updates a Kubernetes Secret from secrets files (plain dotenv, SOPS
/// dotenv/YAML/JSON; later files override earlier keys) by server-side apply as `idpkit`:
/// keys gone from the files leave the Secret; returns its key names.
/// Options `$defs/SecretsPushOptions`, result `$defs/SecretsPushed`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_secrets_push(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("secrets_push", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Clones a repository into a new sandbox run (never a reused checkout) and records the run:
/// repository, revision, resolved commit, branch, time.
/// Options `$defs/SandboxCloneOptions`, result `$defs/SandboxRun`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_sandbox_clone(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("sandbox_clone", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Lists the sandbox runs, oldest first.
/// Options `$defs/SandboxRunsOptions`, result `$defs/SandboxRuns`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_sandbox_list(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("sandbox_list", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Removes a sandbox run (its checkout and record); returns it.
/// Options `$defs/SandboxRemoveOptions`, result `$defs/SandboxRun`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_sandbox_remove(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("sandbox_remove", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Detects the projects in a directory (Ruby, Node, Python, Go) and plans their sandbox: runtime,
/// version and image, services, setup steps, with the evidence (file and line) for each; falls
/// back to every service when detection cannot decide, and says why.
/// Options `$defs/SandboxPlanOptions`, result `$defs/Plan`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_sandbox_plan(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("sandbox_plan", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// The sandbox plan as a Compose file (services with the Kubernetes sidecars' images, env and
/// health checks) and its COMPOSE_PROFILES value.
/// Options `$defs/SandboxComposeOptions`, result `$defs/ComposeFile`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_sandbox_compose(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("sandbox_compose", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// The sandbox plan as a Kubernetes Job (clone step, services as native sidecars, Secret
/// references only, non-root, no retries); optionally created (or dry-run) in the cluster and
/// followed to its end with the main container's log and exit status.
/// Options `$defs/SandboxJobOptions`, result `$defs/JobManifest`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_sandbox_job(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("sandbox_job", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Brings the plan's services (postgres, redis, mysql) up as local supervised processes:
/// data under the run, free loopback ports, throwaway passwords, readiness probes; returns
/// once all are ready, with their connection variables (DATABASE_URL, REDIS_URL, …), and
/// leaves them supervised by the calling program until sandbox_down (or its end).
/// Options `$defs/SandboxUpOptions`, result `$defs/SandboxServices`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_sandbox_up(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("sandbox_up", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// The status of a run's services (or of any `run`): each process's state, pid, readiness,
/// restarts, exit code and log file.
/// Options `$defs/SandboxServicesOptions`, result `$defs/SupervisorStatus`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_sandbox_status(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("sandbox_status", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// The connection variables of a run's services (DATABASE_URL, REDIS_URL, PGHOST, …), as
/// the last sandbox_up wrote them.
/// Options `$defs/SandboxServicesOptions`, result `$defs/ServicesEnv`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_sandbox_env(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("sandbox_env", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Stops a run's services (or any `run`), wherever their supervisor runs: in reverse
/// dependency order, each process group signalled, then killed after its timeout; cleans up
/// after a supervisor that died. Sends the state changes as events.
/// Options `$defs/SandboxDownOptions`, result `$defs/SupervisorStatus`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_sandbox_down(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("sandbox_down", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// Supervises the processes of a Procfile or a process-compose-style TOML/YAML file:
/// dependency order with conditions, readiness and liveness probes, restarts with backoff,
/// rotated logs, ordered shutdown when cancelled or stopped with sandbox_down.
/// Options `$defs/RunOptions`, result `$defs/SupervisorStatus`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_run(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("run", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// What idpkit would use on this machine (store, source cache, trust roots and certs.d, a
/// registry's credentials and trust, the cluster context, the sandbox's local servers) and
/// what is wrong with each, with the fix; never a secret.
/// Options `$defs/DoctorOptions`, result `$defs/DoctorReport`; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_doctor(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("doctor", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}

/// The options an operation would run with: strictly parsed, defaults filled in.
/// Options `$defs/ResolveOptionsOptions`, result any JSON; arguments as for `idpkit_call`.
#[no_mangle]
pub extern "C" fn idpkit_resolve_options(
    options_json: *const c_char, credentials: *const idpkit_credentials,
    callback: idpkit_event_callback, user_data: *mut c_void, cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char, err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    run("resolve_options", None, options_json, credentials, callback, user_data, cancel, result_json_out, err_out)
}
