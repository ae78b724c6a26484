//! Registry credentials: login (checked against the registry, stored in Docker's format),
//! login with Gitea's credentials from the cluster, and logout.

use crate::boundary::{guard, idpkit_result};
use crate::error::idpkit_error;
use crate::registry::{redact_secret, RegistryCall};
use crate::store::{check_out, write_out};
use crate::strings::{self, arg_str};
use idpkit::registry;
use idpkit::trust::ClusterOptions;
use std::ffi::c_char;
use std::ptr;

/// Checks `username` and `password` (or token) against `registry` (`host[:port]`) and
/// stores them the way `docker login` does: in `REGISTRY_AUTH_FILE`, else
/// `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`), or through the
/// credential helper that file configures. Later calls with NULL credentials find them.
///
/// `options_json` (may be NULL) is as for `idpkit_store_push` (trust, timeouts); it must
/// not hold credentials. On success `*result_json_out` receives a `LoginResult` JSON object
/// (`registry`, `username`, `stored_in`: the file or helper written); free it with
/// `idpkit_string_free`. The password never appears in an error message. Blocks until done.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (an empty username or password), `AUTH` (the
/// registry refused them; the message names registry and user), `UNTRUSTED`, `NETWORK`, `IO`.
#[no_mangle]
pub extern "C" fn idpkit_registry_login(
    registry: *const c_char,
    username: *const c_char,
    password: *const c_char,
    options_json: *const c_char,
    result_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(result_json_out, "result_json_out")?;
        let registry_arg = arg_str(registry, "registry")?;
        let username = arg_str(username, "username")?;
        let password = arg_str(password, "password")?;
        RegistryCall::new(options_json, ptr::null(), ptr::null())?.json_into(
            result_json_out,
            |opts, _| {
                registry::login(registry_arg, username, password, opts, None)
                    .map_err(|e| redact_secret(e, password))
            },
        )
    })
}

/// `idpkit_registry_login` with Gitea's credentials read from the cluster: Secret
/// `gitea-credential` in namespace `gitea` (its `token`, else its `password`), as
/// idpbuilder creates it. The credentials go from the cluster to the stored login without
/// passing through the caller.
///
/// `cluster_json` (may be NULL: the defaults) is a JSON object of the core's
/// `ClusterOptions`: `kubeconfig` (default `$KUBECONFIG`, else `~/.kube/config`), `context`
/// (default the current one), `host`, `certs_d`. `options_json` is as for
/// `idpkit_registry_login`; unknown fields of either are refused. On success
/// `*result_json_out` receives a `LoginResult` JSON object; free it with
/// `idpkit_string_free`. Blocks until done.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (a bad kubeconfig or Secret), `NOT_FOUND` (no
/// such context or Secret), `AUTH`, `UNTRUSTED`, `NETWORK`, `IO`.
#[no_mangle]
pub extern "C" fn idpkit_registry_login_from_cluster(
    registry: *const c_char,
    cluster_json: *const c_char,
    options_json: *const c_char,
    result_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(result_json_out, "result_json_out")?;
        let registry_arg = arg_str(registry, "registry")?;
        let cluster: ClusterOptions = strings::options_json(cluster_json, "cluster_json")?;
        RegistryCall::new(options_json, ptr::null(), ptr::null())?
            .json_into(result_json_out, |opts, _| {
                registry::login_from_cluster(registry_arg, &cluster, opts, None)
            })
    })
}

/// Removes the stored credentials of `registry` (`host[:port]`) from where
/// `idpkit_registry_login` put them. `*removed_out` (may be NULL) is set to whether there
/// were any.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (an unreadable Docker config), `IO`.
#[no_mangle]
pub extern "C" fn idpkit_registry_logout(
    registry: *const c_char,
    removed_out: *mut bool,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        let registry_arg = arg_str(registry, "registry")?;
        let removed = registry::logout(registry_arg)?;
        if !removed_out.is_null() {
            write_out(removed_out, removed);
        }
        Ok(())
    })
}
