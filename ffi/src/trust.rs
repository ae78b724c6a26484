//! Certificate trust: check a host's chain, add a CA for a host, extract the cluster's CA.

use crate::boundary::{guard, idpkit_result};
use crate::cancel::{idpkit_cancel, token_of};
use crate::error::idpkit_error;
use crate::store::{check_out, write_out};
use crate::strings::{arg_str, json_out, opt_str, options_json, string_out};
use idpkit::trust::{self, ClusterOptions, TrustOptions};
use idpkit::Error;
use std::ffi::c_char;
use std::path::Path;

/// Connects to `host` (`host[:port]`, default port 443) and reports its certificate chain
/// and whether idpkit trusts it, with the same trust a registry call would use.
///
/// `trust_json` (may be NULL: the defaults) is a JSON object of the core's `TrustOptions`:
/// `ca_files`, `insecure_hosts`, `certs_d`, `no_platform_roots`; unknown fields are refused.
/// On success `*report_json_out` receives a `TrustReport` JSON object (`host`, `verdict`:
/// `trusted`, `unknown_issuer`, `expired`, `not_yet_valid`, `wrong_host`,
/// `client_cert_required`, `bad_certificate`, `not_tls`, `unreachable`; `trusted`, `insecure`, `chain`
/// (`subject`, `issuer`, `not_before`, `not_after`, `names`, `self_signed`, `sha256`),
/// `sources`, `message` (with the fixing command when not trusted)); free it with
/// `idpkit_string_free`. An untrusted host is a report, not an error. Blocks until done;
/// `cancel` (may be NULL) stops it from another thread within a tenth of a second.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (bad JSON or host), `IO` (a CA file),
/// `CANCELLED`.
#[no_mangle]
pub extern "C" fn idpkit_trust_check(
    host: *const c_char,
    trust_json: *const c_char,
    cancel: *const idpkit_cancel,
    report_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(report_json_out, "report_json_out")?;
        let host = arg_str(host, "host")?;
        let opts: TrustOptions = options_json(trust_json, "trust_json")?;
        let report = trust::check(host, &opts, token_of(cancel).as_ref())?;
        write_out(report_json_out, json_out(&report)?);
        Ok(())
    })
}

/// Validates the PEM CA certificate `ca_file` and installs it for `host` (`host[:port]`)
/// as `CERTS_D/HOST/ca.crt`, where every later call to that host trusts it. `certs_d` may
/// be NULL: idpkit's own (`~/.config/idpkit/certs.d`). On success `*path_out` receives the
/// file written (a plain string; free it with `idpkit_string_free`).
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (not a CA certificate, a bad host), `NOT_FOUND`
/// (`ca_file`), `IO`.
#[no_mangle]
pub extern "C" fn idpkit_trust_add(
    host: *const c_char,
    ca_file: *const c_char,
    certs_d: *const c_char,
    path_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(path_out, "path_out")?;
        let host = arg_str(host, "host")?;
        let ca_file = arg_str(ca_file, "ca_file")?;
        let certs_d = opt_str(certs_d, "certs_d")?;
        let path = trust::add(host, Path::new(ca_file), certs_d.map(Path::new))?;
        let path = path
            .to_str()
            .ok_or_else(|| Error::invalid(format!("{}: path is not UTF-8", path.display())))?;
        write_out(path_out, string_out(path, "path")?);
        Ok(())
    })
}

/// Reads idpbuilder's CA from the cluster of the kubeconfig — Secret `idpbuilder-cert` in
/// namespace `default` (key `ca.crt`), else the TLS Secret `idpbuilder-cert` in
/// `ingress-nginx` (key `tls.crt`) — validates it and installs it for the cluster's Gitea
/// host as `idpkit_trust_add` does.
///
/// `cluster_json` (may be NULL: the defaults) is as for
/// `idpkit_registry_login_from_cluster` (`host` defaults to `gitea.cnoe.localtest.me:8443`).
/// On success `*result_json_out` receives an `ExtractResult` JSON object (`host`, `path`,
/// `source`, `subject`, `not_after`); free it with `idpkit_string_free`. Blocks until done;
/// `cancel` (may be NULL) stops it from another thread, before anything is installed.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_INPUT` (bad JSON, kubeconfig or certificate),
/// `NOT_FOUND` (no such context or Secret), `AUTH`, `UNTRUSTED`, `NETWORK`, `IO`,
/// `CANCELLED`.
#[no_mangle]
pub extern "C" fn idpkit_trust_extract(
    cluster_json: *const c_char,
    cancel: *const idpkit_cancel,
    result_json_out: *mut *mut c_char,
    err_out: *mut *mut idpkit_error,
) -> idpkit_result {
    guard(err_out, || {
        check_out(result_json_out, "result_json_out")?;
        let cluster: ClusterOptions = options_json(cluster_json, "cluster_json")?;
        let result = trust::extract_ca(&cluster, token_of(cancel).as_ref())?;
        write_out(result_json_out, json_out(&result)?);
        Ok(())
    })
}
