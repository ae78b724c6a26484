//! The call contract: every operation is `fn op([store,] &Options, &Call) -> Result<Output>`,
//! with serde options and results, and the same name in every front end.
//!
//! Front ends do not mirror operations by hand. They call [`invoke`] with the operation's
//! name, its options as JSON (parsed strictly by [`parse_options`]: an unknown field is an
//! `INVALID_INPUT` naming it and the allowed ones), and a [`Call`]; they get the result as
//! JSON. Their typed surfaces (TypeScript types, Python dataclasses, Go structs, the C
//! header's documentation) are generated from [`contract`], the JSON Schema of every
//! operation, and CI fails when a generated file is stale. See docs/decisions/0009.

mod doc;
mod guard;
mod image;
mod registry;
mod sandbox;
mod secrets;
mod source;
mod strict;
mod trust;

pub use doc::markdown;
pub use guard::*;
pub use image::*;
pub use registry::*;
pub use sandbox::*;
pub use secrets::*;
pub use source::*;
pub use strict::{parse_options, parse_value};
pub use trust::*;

use crate::call::Call;
use crate::error::{Error, Result};
use crate::oci::Store;
use schemars::{JsonSchema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// One operation of the contract.
pub trait Operation {
    /// The name in every front end: `push` is `idpkit_push` in C, `Push` in Go, `push` in
    /// Python and Node, `idpkit push` on the command line.
    const NAME: &'static str;
    /// Whether it works on a local store (the front ends pass their `Store` handle).
    const NEEDS_STORE: bool;
    /// One line for generated documentation.
    const SUMMARY: &'static str;
    /// What of the [`Call`] it uses; front ends offer exactly that, and [`invoke`] refuses a
    /// credential given to an operation that would not use it (rather than ignore it).
    const USES: Uses;
    /// Option fields a front end may take as positional arguments, in this order
    /// (`push(source, destination, ...)`); every other field is keyword-only.
    const POSITIONAL: &'static [&'static str];
    type Options: Default + Serialize + DeserializeOwned + JsonSchema + 'static;
    type Output: Serialize + JsonSchema;
    fn run(store: Option<&Store>, opts: &Self::Options, call: &Call) -> Result<Self::Output>;
}

/// What of the [`Call`] an operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Uses {
    /// It emits progress or audit events.
    pub events: bool,
    /// It can be cancelled while it runs.
    pub cancel: bool,
    /// It takes the registry's credential (username and password, or a token).
    pub credential: bool,
    /// It takes a second credential for a source registry (`copy`).
    pub source_credential: bool,
}

impl Uses {
    pub const NOTHING: Uses = Uses {
        events: false,
        cancel: false,
        credential: false,
        source_credential: false,
    };
    pub const CANCEL: Uses = Uses {
        cancel: true,
        ..Uses::NOTHING
    };
    pub const EVENTS_CANCEL_CREDENTIAL: Uses = Uses {
        events: true,
        cancel: true,
        credential: true,
        source_credential: false,
    };
}

/// The store of a store operation, or a clear error when the front end passed none.
pub(crate) fn need_store<'a>(store: Option<&'a Store>, op: &str) -> Result<&'a Store> {
    store.ok_or_else(|| Error::invalid(format!("operation {op} works on a store; pass one")))
}

/// What the dynamic table knows of an operation.
pub struct OperationInfo {
    pub name: &'static str,
    pub needs_store: bool,
    pub summary: &'static str,
    pub uses: Uses,
    pub positional: &'static [&'static str],
    invoke: fn(Option<&Store>, Option<&str>, &Call) -> Result<String>,
    resolve: fn(Option<Value>) -> Result<Value>,
    schema: fn(&mut SchemaGenerator) -> (Value, Value, Value),
}

fn parse_typed<O: Operation>(json: Option<&str>) -> Result<O::Options> {
    match json {
        None => Ok(O::Options::default()),
        Some(text) => parse_options(text, "options"),
    }
}

fn resolve_typed<O: Operation>(options: Option<Value>) -> Result<Value> {
    let opts: O::Options = match options {
        None => O::Options::default(),
        Some(v) => parse_value(v, "options")?,
    };
    serde_json::to_value(&opts).map_err(|e| Error::internal(format!("options: {e}")))
}

fn invoke_typed<O: Operation>(
    store: Option<&Store>,
    json: Option<&str>,
    call: &Call,
) -> Result<String> {
    let opts = parse_typed::<O>(json)?;
    refuse_unused_credentials::<O>(call)?;
    let out = O::run(store, &opts, call).map_err(|e| call.redact(e))?;
    serde_json::to_string(&out).map_err(|e| Error::internal(format!("serializing the result: {e}")))
}

/// A credential given to an operation that takes none would be silently ignored (a login
/// from the cluster with a token that never goes anywhere): refused instead.
fn refuse_unused_credentials<O: Operation>(call: &Call) -> Result<()> {
    let extra = if call.credential().is_some() && !O::USES.credential {
        Some("credentials")
    } else if call.source_credential().is_some() && !O::USES.source_credential {
        Some("source credentials")
    } else {
        None
    };
    match extra {
        Some(what) => Err(Error::invalid(format!(
            "operation {} takes no {what}; leave them out",
            O::NAME
        ))),
        None => Ok(()),
    }
}

fn schema_typed<O: Operation>(g: &mut SchemaGenerator) -> (Value, Value, Value) {
    let options = g.subschema_for::<O::Options>().to_value();
    let output = g.subschema_for::<O::Output>().to_value();
    let defaults = serde_json::to_value(O::Options::default()).unwrap_or(Value::Null);
    (options, output, defaults)
}

const fn info<O: Operation>() -> OperationInfo {
    OperationInfo {
        name: O::NAME,
        needs_store: O::NEEDS_STORE,
        summary: O::SUMMARY,
        uses: O::USES,
        positional: O::POSITIONAL,
        invoke: invoke_typed::<O>,
        resolve: resolve_typed::<O>,
        schema: schema_typed::<O>,
    }
}

/// Every operation, in the order the generated front ends list them.
pub static OPERATIONS: &[OperationInfo] = &[
    info::<Build>(),
    info::<Images>(),
    info::<Tag>(),
    info::<Remove>(),
    info::<Inspect>(),
    info::<Gc>(),
    info::<Import>(),
    info::<Export>(),
    info::<Push>(),
    info::<Pull>(),
    info::<ListTags>(),
    info::<Catalog>(),
    info::<Copy>(),
    info::<Delete>(),
    info::<InspectRemote>(),
    info::<Login>(),
    info::<LoginFromCluster>(),
    info::<Logout>(),
    info::<TrustCheck>(),
    info::<TrustAdd>(),
    info::<TrustExtract>(),
    info::<SourceFetchArtifact>(),
    info::<SourceFetchFlux>(),
    info::<SourceFetchGit>(),
    info::<SourceFetchArgo>(),
    info::<SourceList>(),
    info::<SourceGc>(),
    info::<SourceWatchFlux>(),
    info::<SourceWatchArgo>(),
    info::<GitGuardCheck>(),
    info::<GitGuardHook>(),
    info::<SecretsDecrypt>(),
    info::<SecretsParse>(),
    info::<SecretsPush>(),
    info::<SandboxClone>(),
    info::<SandboxList>(),
    info::<SandboxRemove>(),
    info::<SandboxPlanOp>(),
    info::<SandboxComposeOp>(),
    info::<SandboxJobOp>(),
    info::<SandboxUp>(),
    info::<SandboxStatus>(),
    info::<SandboxEnvOp>(),
    info::<SandboxDown>(),
    info::<Run>(),
    info::<Doctor>(),
    info::<ResolveOptions>(),
];

/// Which operation's options to resolve, and the options as a front end would send them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ResolveOptionsOptions {
    pub operation: String,
    /// The options document (an object); absent: the operation's defaults.
    pub options: Option<Value>,
}

/// `resolve_options`: the options an operation would run with, defaults filled in, after the
/// strict parse. Shows what a front end's options mean to the core (a dry run of the
/// options, and how every front end's tests see each field arrive).
pub struct ResolveOptions;
impl Operation for ResolveOptions {
    const NAME: &'static str = "resolve_options";
    const NEEDS_STORE: bool = false;
    const SUMMARY: &'static str =
        "The options an operation would run with: strictly parsed, defaults filled in.";
    const USES: Uses = Uses::NOTHING;
    const POSITIONAL: &'static [&'static str] = &["operation", "options"];
    type Options = ResolveOptionsOptions;
    type Output = Value;
    fn run(_: Option<&Store>, o: &ResolveOptionsOptions, _: &Call) -> Result<Value> {
        (find(&o.operation)?.resolve)(o.options.clone())
    }
}

fn find(name: &str) -> Result<&'static OperationInfo> {
    OPERATIONS.iter().find(|o| o.name == name).ok_or_else(|| {
        let names: Vec<&str> = OPERATIONS.iter().map(|o| o.name).collect();
        Error::invalid(format!(
            "unknown operation {name:?}; the operations are {}",
            names.join(", ")
        ))
    })
}

/// Runs the operation `name` with `options_json` (`None`: its defaults) and returns its
/// result as JSON. The one entry point of the C ABI, Go, Python and Node.
pub fn invoke(
    name: &str,
    store: Option<&Store>,
    options_json: Option<&str>,
    call: &Call,
) -> Result<String> {
    // Events end with the call for every operation and every front end: whatever the
    // operation leaves running (a background supervisor, a pooled connection's handshake)
    // can no longer reach the caller's callback once this returns.
    let scope = crate::event::SinkScope::new(call.sink());
    let scoped = call.clone().with_sink(scope.sink().cloned());
    (find(name)?.invoke)(store, options_json, &scoped)
}

/// The whole contract as one JSON document: each operation's name, summary, options and
/// output schemas and default options, the event schema, the error kinds, and the shared
/// definitions. The generators of the front ends' types read this (`contract/idpkit.json`).
pub fn contract() -> Value {
    let mut g = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut ops = Vec::new();
    for op in OPERATIONS {
        let (options, output, defaults) = (op.schema)(&mut g);
        ops.push(json!({
            "name": op.name,
            "needs_store": op.needs_store,
            "summary": op.summary,
            "uses": op.uses,
            "positional": op.positional,
            "options": options,
            "output": output,
            "defaults": defaults,
        }));
    }
    let event = g.subschema_for::<crate::Event>().to_value();
    let kinds: Vec<Value> = crate::ErrorKind::ALL
        .iter()
        .map(|k| json!({"code": k.code(), "value": *k as u32}))
        .collect();
    let defs: Map<String, Value> = g.take_definitions(true).into_iter().collect();
    json!({
        "version": crate::VERSION,
        "operations": ops,
        "event": event,
        "error_kinds": kinds,
        "$defs": defs,
    })
}

#[cfg(test)]
mod tests;
