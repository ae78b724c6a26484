//! Trust operations: trust_check, trust_add, trust_extract.

use super::{Operation, Uses};
use crate::call::Call;
use crate::error::Result;
use crate::oci::Store;
use crate::trust::{self, ClusterOptions, ExtractResult, TrustOptions, TrustReport};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct TrustCheckOptions {
    /// `host[:port]` (port 443 by default).
    pub host: String,
    #[serde(flatten)]
    pub trust: TrustOptions,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TrustAddOptions {
    /// `host[:port]` the CA is trusted for.
    pub host: String,
    /// The CA certificate(s), PEM.
    #[schemars(extend("x-path" = true))]
    pub ca_file: PathBuf,
    /// certs.d root to install into (default idpkit's, `~/.config/idpkit/certs.d`).
    #[schemars(extend("x-path" = true))]
    pub certs_d: Option<PathBuf>,
}

pub struct TrustCheck;
impl Operation for TrustCheck {
    const NAME: &'static str = "trust_check";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str =
        "Connects to a host and reports its certificate chain and whether it is trusted, and why.";
    const USES: Uses = Uses::CANCEL;
    const POSITIONAL: &'static [&'static str] = &["host"];
    type Options = TrustCheckOptions;
    type Output = TrustReport;
    fn run(_: Option<&Store>, o: &TrustCheckOptions, call: &Call) -> Result<TrustReport> {
        trust::check(&o.host, &o.trust, call.cancel())
    }
}

pub struct TrustAdd;
impl Operation for TrustAdd {
    const NAME: &'static str = "trust_add";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "Installs a CA for a host in certs.d; returns the file written.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["host", "ca_file"];
    type Options = TrustAddOptions;
    type Output = PathBuf;
    fn run(_: Option<&Store>, o: &TrustAddOptions, _: &Call) -> Result<PathBuf> {
        trust::add(&o.host, &o.ca_file, o.certs_d.as_deref())
    }
}

pub struct TrustExtract;
impl Operation for TrustExtract {
    const NAME: &'static str = "trust_extract";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str =
        "Reads idpbuilder's CA from the cluster's Secrets and installs it for the Gitea host.";
    const USES: Uses = Uses::CANCEL;
    const POSITIONAL: &'static [&'static str] = &[];
    type Options = ClusterOptions;
    type Output = ExtractResult;
    fn run(_: Option<&Store>, o: &ClusterOptions, call: &Call) -> Result<ExtractResult> {
        trust::extract_ca(o, call.cancel())
    }
}

pub use crate::doctor::{CheckStatus, DoctorCheck, DoctorOptions, DoctorReport};

/// `doctor`: what idpkit would use here, and what is wrong with it.
pub struct Doctor;
impl Operation for Doctor {
    const NAME: &'static str = "doctor";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str = "What idpkit would use on this machine (store, source cache, \
        trust roots and certs.d, a registry's credentials and trust, the cluster context, the \
        sandbox's local servers) and what is wrong with each, with the fix; never a secret.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &[];
    type Options = DoctorOptions;
    type Output = DoctorReport;
    fn run(_: Option<&Store>, o: &DoctorOptions, _: &Call) -> Result<DoctorReport> {
        crate::doctor::doctor(o)
    }
}
