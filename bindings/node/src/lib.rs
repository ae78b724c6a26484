//! Node bindings of idpkit (napi-rs).
//!
//! `Store` mirrors the Python package. Every method returns a Promise: the blocking core call
//! runs on libuv's thread pool as an `AsyncTask`, so the event loop keeps turning. Options and
//! results cross as JSON values with their keys converted between camelCase and the core's
//! snake_case (see `keys`); progress events reach JavaScript through a threadsafe function,
//! and an `AbortSignal` cancels a build or a registry call through the core's `CancelToken`.
//!
//! Calls that need no store (`listTags`, `copy`, `catalog`, `deleteManifest`, `login`,
//! `loginFromCluster`, `logout`, `trustCheck`, `trustAdd`, `extractCa`) are module functions
//! built the same way. Credentials are never part of the JSON options: `username`,
//! `password` and `token` are set on the core's options directly, and `login` takes them as
//! arguments.
//!
//! Errors are JavaScript `Error`s whose `code` is the core's `ErrorKind` code
//! (`'NOT_FOUND'`, `'INVALID_INPUT'`, `'CANCELLED'`, ...) and whose message is the core's.

mod keys;
pub mod typings;

use idpkit::registry::{self, Credential, RegistryOptions};
use idpkit::trust::{self, ClusterOptions, TrustOptions};
use idpkit::{CancelToken, Event, EventSink};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;

/// The idpkit version (the core library's).
#[napi]
#[allow(non_upper_case_globals)]
pub const version: &str = idpkit::VERSION;

/// A JavaScript `Error` with `code` set to the kind's code and the core's message.
fn js_error(env: &Env, e: idpkit::Error) -> napi::Error {
    let err = napi::Error::new(e.kind.code().to_string(), e.message);
    napi::Error::from(JsError::from(err).into_unknown(*env))
}

/// A napi conversion failure (wrong argument type) as an idpkit input error.
fn invalid(what: &str, e: napi::Error) -> idpkit::Error {
    idpkit::Error::invalid(format!("{what}: {}", e.reason))
}

type ProgressFn = ThreadsafeFunction<Value, Unknown<'static>, Value, Status, false>;

/// One blocking core call, run on the libuv thread pool.
pub struct Op {
    /// `None` for calls that need no store (`listTags`, `copy`, `login`, `trustCheck`, ...).
    store: Option<idpkit::Store>,
    job: Job,
    cancel: CancelToken,
    sink: Option<EventSink>,
    /// The listener this call added to the caller's `AbortSignal`, removed when it ends.
    signal: Option<SignalHook>,
}

enum Job {
    Build(Box<idpkit::BuildOptions>),
    Images,
    Tag(String, String),
    Remove(String),
    Inspect(String),
    Gc,
    Import {
        layout: PathBuf,
        tag: Option<String>,
        name: Option<String>,
    },
    Export {
        reference: String,
        layout: PathBuf,
        tag: Option<String>,
    },
    Push {
        source: String,
        destination: Option<String>,
        opts: Box<RegistryOptions>,
    },
    Pull {
        reference: String,
        opts: Box<RegistryOptions>,
    },
    ListTags {
        repository: String,
        opts: Box<RegistryOptions>,
    },
    Copy {
        source: String,
        destination: String,
        opts: Box<RegistryOptions>,
    },
    Catalog {
        registry: String,
        opts: Box<RegistryOptions>,
    },
    Delete {
        reference: String,
        opts: Box<RegistryOptions>,
    },
    /// The password stays here, on the Rust side: no `Debug`, never serialized.
    Login {
        registry: String,
        username: String,
        password: String,
        opts: Box<RegistryOptions>,
    },
    LoginFromCluster {
        registry: String,
        cluster: Box<ClusterOptions>,
        opts: Box<RegistryOptions>,
    },
    Logout(String),
    TrustCheck {
        host: String,
        opts: Box<TrustOptions>,
    },
    TrustAdd {
        host: String,
        ca_file: PathBuf,
        certs_d: Option<PathBuf>,
    },
    ExtractCa(Box<ClusterOptions>),
    /// The arguments were already found wrong: reject with this error.
    Fail(idpkit::Error),
}

fn json<T: serde::Serialize>(value: T) -> idpkit::Result<Value> {
    serde_json::to_value(value)
        .map_err(|e| idpkit::Error::internal(format!("serializing a result: {e}")))
}

impl Op {
    fn store(&self) -> idpkit::Result<&idpkit::Store> {
        self.store
            .as_ref()
            .ok_or_else(|| idpkit::Error::internal("a store call without a store"))
    }

    fn run(&self) -> idpkit::Result<Value> {
        let sink = self.sink.as_ref();
        match &self.job {
            Job::Build(opts) => {
                self.cancel.check()?;
                json(self.store()?.build(opts, sink, Some(&self.cancel))?)
            }
            Job::Images => json(self.store()?.images()?),
            Job::Tag(src, dst) => json(self.store()?.tag(src, dst)?),
            Job::Remove(reference) => json(self.store()?.remove(reference)?),
            Job::Inspect(reference) => json(self.store()?.inspect(reference)?),
            Job::Gc => json(self.store()?.gc()?),
            Job::Import { layout, tag, name } => json(self.store()?.import(
                layout,
                tag.as_deref(),
                name.as_deref(),
            )?),
            Job::Export {
                reference,
                layout,
                tag,
            } => json(self.store()?.export(reference, layout, tag.as_deref())?),
            Job::Push {
                source,
                destination,
                opts,
            } => json(
                self.store()?
                    .push(source, destination.as_deref(), opts, sink)?,
            ),
            Job::Pull { reference, opts } => json(self.store()?.pull(reference, opts, sink)?),
            Job::ListTags { repository, opts } => {
                json(registry::list_tags(repository, opts, sink)?)
            }
            Job::Copy {
                source,
                destination,
                opts,
            } => json(registry::copy(source, destination, opts, sink)?),
            Job::Catalog { registry, opts } => json(registry::catalog(registry, opts, sink)?),
            Job::Delete { reference, opts } => json(registry::delete(reference, opts, sink)?),
            Job::Login {
                registry,
                username,
                password,
                opts,
            } => json(registry::login(registry, username, password, opts, sink)?),
            Job::LoginFromCluster {
                registry,
                cluster,
                opts,
            } => {
                self.cancel.check()?;
                json(registry::login_from_cluster(registry, cluster, opts, sink)?)
            }
            Job::Logout(registry) => json(registry::logout(registry)?),
            Job::TrustCheck { host, opts } => json(trust::check(host, opts, Some(&self.cancel))?),
            Job::TrustAdd {
                host,
                ca_file,
                certs_d,
            } => json(trust::add(host, ca_file, certs_d.as_deref())?),
            Job::ExtractCa(opts) => json(trust::extract_ca(opts, Some(&self.cancel))?),
            Job::Fail(e) => Err(e.clone()),
        }
    }
}

/// A result as a plain JavaScript value (object, array, ...).
pub struct Json(Value);

impl TypeName for Json {
    fn type_name() -> &'static str {
        "Json"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for Json {
    unsafe fn to_napi_value(
        env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        Value::to_napi_value(env, val.0)
    }
}

impl Task for Op {
    type Output = idpkit::Result<Value>;
    type JsValue = Json;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let out = std::panic::catch_unwind(AssertUnwindSafe(|| self.run())).unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(idpkit::Error::internal(format!(
                "idpkit panicked: {msg}; this is a bug, please report it"
            )))
        });
        Ok(out)
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Json> {
        // Release the progress callback and the abort listener now, on the JS thread.
        self.sink = None;
        if let Some(hook) = self.signal.take() {
            hook.remove(&env);
        }
        match output {
            Ok(v) => Ok(Json(keys::to_js(v))),
            Err(e) => Err(js_error(&env, e)),
        }
    }
}

/// A local OCI image-layout store.
#[napi]
pub struct Store {
    inner: idpkit::Store,
}

#[napi]
impl Store {
    /// Opens the store at `path`, creating an empty layout when the directory is missing or
    /// empty; without `path`, the default store (`$IDPKIT_STORE`, else the XDG data dir).
    /// Throws (synchronously) with `code` `'INVALID_INPUT'` when `path` is not a store.
    #[napi(constructor)]
    pub fn new(env: Env, path: Option<String>) -> napi::Result<Self> {
        let opened = match path {
            Some(p) => idpkit::Store::open(p),
            None => idpkit::Store::open_default(),
        };
        opened
            .map(|inner| Store { inner })
            .map_err(|e| js_error(&env, e))
    }

    /// The store's root directory.
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.inner.root().display().to_string()
    }

    fn op(&self, job: Job) -> AsyncTask<Op> {
        AsyncTask::new(Op {
            store: Some(self.inner.clone()),
            job,
            cancel: CancelToken::new(),
            sink: None,
            signal: None,
        })
    }

    /// Builds an image from the directory `context` and tags it with `options.tags`.
    #[napi(ts_return_type = "Promise<BuildResult>")]
    pub fn build(
        &self,
        context: String,
        #[napi(ts_arg_type = "BuildOptions")] options: Option<Unknown<'_>>,
    ) -> AsyncTask<Op> {
        let cancel = CancelToken::new();
        let mut signal = None;
        let parsed = options_object(options)
            .and_then(|o| build_options(context, o.as_ref(), &cancel, &mut signal));
        let (job, sink) = match parsed {
            Ok((opts, sink)) => (Job::Build(Box::new(opts)), sink),
            Err(e) => (Job::Fail(e), None),
        };
        AsyncTask::new(Op {
            store: Some(self.inner.clone()),
            job,
            cancel,
            sink,
            signal,
        })
    }

    /// Every image in the store, one row per tag (untagged images once, by digest).
    #[napi(ts_return_type = "Promise<ImageSummary[]>")]
    pub fn images(&self) -> AsyncTask<Op> {
        self.op(Job::Images)
    }

    /// Points `target` at the image `source` names. No blob is copied.
    #[napi(ts_return_type = "Promise<ImageSummary>")]
    pub fn tag(&self, source: String, target: String) -> AsyncTask<Op> {
        self.op(Job::Tag(source, target))
    }

    /// Removes a tag, or every entry of a digest; resolves to the removed references.
    /// Blobs stay until `gc`.
    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn remove(&self, reference: String) -> AsyncTask<Op> {
        self.op(Job::Remove(reference))
    }

    /// The manifest and config of an image.
    #[napi(ts_return_type = "Promise<ImageInspect>")]
    pub fn inspect(&self, reference: String) -> AsyncTask<Op> {
        self.op(Job::Inspect(reference))
    }

    /// Deletes blobs no tag or untagged image reaches, and leftovers of killed builds.
    #[napi(ts_return_type = "Promise<GcReport>")]
    pub fn gc(&self) -> AsyncTask<Op> {
        self.op(Job::Gc)
    }

    /// Copies images from the OCI image layout at `path` into the store: every tagged entry,
    /// or the one tagged `options.tag`; a bare tag becomes `localhost/<dir>:<tag>` unless
    /// `options.name` gives the reference. Every blob is verified on the way in.
    #[napi(ts_return_type = "Promise<ImageSummary[]>")]
    pub fn import_layout(
        &self,
        path: String,
        #[napi(ts_arg_type = "ImportOptions")] options: Option<Unknown<'_>>,
    ) -> AsyncTask<Op> {
        let job = options_object(options)
            .and_then(|o| string_options(o.as_ref(), &["tag", "name"]))
            .map(|mut o| Job::Import {
                layout: PathBuf::from(path),
                tag: o.remove("tag"),
                name: o.remove("name"),
            })
            .unwrap_or_else(Job::Fail);
        self.op(job)
    }

    /// Copies one image into the OCI image layout at `path` (created when missing), tagged
    /// `options.tag`, by default the reference's own tag.
    #[napi(ts_return_type = "Promise<ImageSummary>")]
    pub fn export(
        &self,
        reference: String,
        path: String,
        #[napi(ts_arg_type = "ExportOptions")] options: Option<Unknown<'_>>,
    ) -> AsyncTask<Op> {
        let job = options_object(options)
            .and_then(|o| string_options(o.as_ref(), &["tag"]))
            .map(|mut o| Job::Export {
                reference,
                layout: PathBuf::from(path),
                tag: o.remove("tag"),
            })
            .unwrap_or_else(Job::Fail);
        self.op(job)
    }

    /// Pushes `source` (an image in the store) to `destination` (default: `source` itself,
    /// which then must name a registry). Blobs the registry has are skipped, the rest go up
    /// in parallel.
    #[napi(ts_return_type = "Promise<PushResult>")]
    pub fn push(
        &self,
        source: String,
        destination: Option<String>,
        #[napi(ts_arg_type = "RegistryOptions")] options: Option<Unknown<'_>>,
    ) -> AsyncTask<Op> {
        self.registry_op(options, |opts| Job::Push {
            source,
            destination,
            opts,
        })
    }

    /// Pulls `reference` into the store, verifying every blob against its digest. An index
    /// resolves to the manifest of `options.platform` (default: this machine's).
    #[napi(ts_return_type = "Promise<PullResult>")]
    pub fn pull(
        &self,
        reference: String,
        #[napi(ts_arg_type = "RegistryOptions")] options: Option<Unknown<'_>>,
    ) -> AsyncTask<Op> {
        self.registry_op(options, |opts| Job::Pull { reference, opts })
    }

    fn registry_op(
        &self,
        options: Option<Unknown<'_>>,
        job: impl FnOnce(Box<RegistryOptions>) -> Job,
    ) -> AsyncTask<Op> {
        registry_task(Some(self.inner.clone()), options, job)
    }
}

/// A registry call: its options parsed (with `onProgress` and `signal` hooked up), or the
/// parse error as a rejection.
fn registry_task(
    store: Option<idpkit::Store>,
    options: Option<Unknown<'_>>,
    job: impl FnOnce(Box<RegistryOptions>) -> Job,
) -> AsyncTask<Op> {
    let cancel = CancelToken::new();
    let mut signal = None;
    let (job, sink) = match options_object(options)
        .and_then(|o| registry_options(o.as_ref(), &cancel, &mut signal))
    {
        Ok((opts, sink)) => (job(Box::new(opts)), sink),
        Err(e) => (Job::Fail(e), None),
    };
    AsyncTask::new(Op {
        store,
        job,
        cancel,
        sink,
        signal,
    })
}

/// A store-less call taking a core options type `T` (`what` names it in errors) plus a
/// `signal` hooked up to the call's token, or the parse error as a rejection.
fn signal_task<T: Default + Serialize + DeserializeOwned>(
    what: &str,
    options: Option<Unknown<'_>>,
    job: impl FnOnce(T) -> Job,
) -> AsyncTask<Op> {
    let cancel = CancelToken::new();
    let mut signal = None;
    let job = options_object(options).and_then(|o| {
        let o = o.as_ref();
        core_options::<T>(what, o, &["signal"], |_| {
            o.map_or(Ok(()), |obj| watch_signal(obj, &cancel, &mut signal))
        })
        .map(job)
    });
    AsyncTask::new(Op {
        store: None,
        job: job.unwrap_or_else(Job::Fail),
        cancel,
        sink: None,
        signal,
    })
}

/// A call with no options the binding has to hook up (no progress, no signal).
fn plain_task(job: idpkit::Result<Job>) -> AsyncTask<Op> {
    AsyncTask::new(Op {
        store: None,
        job: job.unwrap_or_else(Job::Fail),
        cancel: CancelToken::new(),
        sink: None,
        signal: None,
    })
}

/// `login` takes its credentials as arguments: credentials in the options as well would be
/// ambiguous, so they are refused.
fn without_credentials(opts: &RegistryOptions, call: &str) -> idpkit::Result<()> {
    if opts.credential.is_some() {
        return Err(idpkit::Error::invalid(format!(
            "{call}: the options take no `username`, `password` or `token`; {}",
            if call == "login" {
                "pass the user name and password as the arguments of login()"
            } else {
                "the credentials come from the cluster"
            }
        )));
    }
    Ok(())
}

/// Tags of a registry repository (`host[:port]/path`), following pagination.
#[napi(ts_return_type = "Promise<string[]>")]
pub fn list_tags(
    repository: String,
    #[napi(ts_arg_type = "RegistryOptions")] options: Option<Unknown<'_>>,
) -> AsyncTask<Op> {
    registry_task(None, options, |opts| Job::ListTags { repository, opts })
}

/// Copies an image between repositories or registries. Within one registry (a re-tag
/// included) blobs are mounted or already there, so only manifests move; across registries
/// the image goes through a temporary store (an index resolves to `options.platform`).
/// `options`' trust applies to both ends, its credentials to the destination (across
/// registries the source is read with its own stored login).
#[napi(ts_return_type = "Promise<PushResult>")]
pub fn copy(
    source: String,
    destination: String,
    #[napi(ts_arg_type = "RegistryOptions")] options: Option<Unknown<'_>>,
) -> AsyncTask<Op> {
    registry_task(None, options, |opts| Job::Copy {
        source,
        destination,
        opts,
    })
}

/// The repositories of a registry (`host[:port]`, `/v2/_catalog`, following pagination).
#[napi(ts_return_type = "Promise<string[]>")]
pub fn catalog(
    registry: String,
    #[napi(ts_arg_type = "RegistryOptions")] options: Option<Unknown<'_>>,
) -> AsyncTask<Op> {
    registry_task(None, options, |opts| Job::Catalog { registry, opts })
}

/// Deletes a manifest from a registry by tag or digest (`host/repo:tag`, `host/repo@sha256:…`)
/// and resolves to the digest deleted. Every tag pointing at that manifest goes with it.
/// (`delete` is a reserved word in JavaScript, hence the name.)
#[napi(ts_return_type = "Promise<string>")]
pub fn delete_manifest(
    reference: String,
    #[napi(ts_arg_type = "RegistryOptions")] options: Option<Unknown<'_>>,
) -> AsyncTask<Op> {
    registry_task(None, options, |opts| Job::Delete { reference, opts })
}

/// Checks `username` and `password` (or a token used as password) against `registry` and
/// stores them in Docker's format: `$REGISTRY_AUTH_FILE`, else `$DOCKER_CONFIG/config.json`
/// (`~/.docker/config.json`), or the credential helper that file names. Later calls without
/// credentials use them. The password never appears in a message or an event.
#[napi(ts_return_type = "Promise<LoginResult>")]
pub fn login(
    registry: String,
    username: String,
    #[napi(ts_arg_type = "string")] password: Unknown<'_>,
    #[napi(ts_arg_type = "RegistryOptions")] options: Option<Unknown<'_>>,
) -> napi::Result<AsyncTask<Op>> {
    let password = secret_arg(password, "login", "password")?;
    Ok(registry_task(
        None,
        options,
        |opts| match without_credentials(&opts, "login") {
            Ok(()) => Job::Login {
                registry,
                username,
                password,
                opts,
            },
            Err(e) => Job::Fail(e),
        },
    ))
}

/// A secret argument as a string. napi's own conversion error would quote a non-string
/// value (`Number 42`), so the type is checked here and the error names only the argument;
/// like napi's, it is thrown synchronously with `code` `'StringExpected'`.
fn secret_arg(value: Unknown<'_>, call: &str, name: &str) -> napi::Result<String> {
    if value.get_type()? != ValueType::String {
        return Err(napi::Error::new(
            Status::StringExpected,
            format!("{call}: `{name}` must be a string"),
        ));
    }
    // SAFETY: the value was just checked to be a string.
    unsafe { value.cast::<String>() }
        .map_err(|_| napi::Error::new(Status::StringExpected, format!("{call}: `{name}`")))
}

/// `login` with Gitea's admin credentials read from the cluster of a kubeconfig context
/// (Secret `gitea/gitea-credential`, token preferred), as idpbuilder creates them. Only
/// `cluster.kubeconfig` and `cluster.context` are used. The secret never reaches JavaScript.
#[napi(ts_return_type = "Promise<LoginResult>")]
pub fn login_from_cluster(
    registry: String,
    #[napi(ts_arg_type = "ClusterOptions")] cluster: Option<Unknown<'_>>,
    #[napi(ts_arg_type = "RegistryOptions")] options: Option<Unknown<'_>>,
) -> AsyncTask<Op> {
    let cluster = options_object(cluster).and_then(|o| cluster_options(o.as_ref()));
    registry_task(None, options, |opts| {
        match cluster.and_then(|c| without_credentials(&opts, "loginFromCluster").map(|()| c)) {
            Ok(cluster) => Job::LoginFromCluster {
                registry,
                cluster: Box::new(cluster),
                opts,
            },
            Err(e) => Job::Fail(e),
        }
    })
}

/// Removes the stored credentials of `registry` from every auth file idpkit reads; resolves
/// to `false` when there were none.
#[napi(ts_return_type = "Promise<boolean>")]
pub fn logout(registry: String) -> AsyncTask<Op> {
    plain_task(Ok(Job::Logout(registry)))
}

/// Runs a TLS handshake with `host[:port]` (443 by default) using the trust `options`
/// assemble for it, and reports the presented chain and a verdict. Never skips
/// verification; a host that is not trusted resolves (with `trusted: false` and a
/// `message` saying how to fix it), it does not reject. `options.signal` aborts it.
#[napi(ts_return_type = "Promise<TrustReport>")]
pub fn trust_check(
    host: String,
    #[napi(ts_arg_type = "TrustOptions")] options: Option<Unknown<'_>>,
) -> AsyncTask<Op> {
    signal_task("trust options", options, |opts: TrustOptions| {
        Job::TrustCheck {
            host,
            opts: Box::new(opts),
        }
    })
}

/// Installs the CA certificate(s) of the PEM file `caFile` for `host[:port]` as
/// `CERTS_D/HOST/ca.crt` (idpkit's `~/.config/idpkit/certs.d` unless `options.certsD`), where
/// every later call finds it; resolves to the path written.
#[napi(ts_return_type = "Promise<string>")]
pub fn trust_add(
    host: String,
    ca_file: String,
    #[napi(ts_arg_type = "TrustAddOptions")] options: Option<Unknown<'_>>,
) -> AsyncTask<Op> {
    plain_task(
        options_object(options)
            .and_then(|o| string_options(o.as_ref(), &["certsD"]))
            .map(|mut o| Job::TrustAdd {
                host,
                ca_file: PathBuf::from(ca_file),
                certs_d: o.remove("certsD").map(PathBuf::from),
            }),
    )
}

/// Reads the cluster's CA (idpbuilder's Secret `default/idpbuilder-cert`, else
/// `ingress-nginx/idpbuilder-cert`) through a kubeconfig context, checks it, and installs it
/// for `options.host` (default `gitea.cnoe.localtest.me:8443`) in `options.certsD`.
/// `options.signal` aborts it before anything is installed.
#[napi(ts_return_type = "Promise<ExtractResult>")]
pub fn extract_ca(
    #[napi(ts_arg_type = "ClusterOptions")] options: Option<Unknown<'_>>,
) -> AsyncTask<Op> {
    signal_task("cluster options", options, |o: ClusterOptions| {
        Job::ExtractCa(Box::new(o))
    })
}

fn cluster_options(options: Option<&Object>) -> idpkit::Result<ClusterOptions> {
    core_options("cluster options", options, &[], |_| Ok(()))
}

/// A core options type from a camelCase object, converted generically (so a field the core
/// gains works at once). The core's types accept unknown fields, so they are refused here
/// against the serialized default, naming the fields in camelCase; `extra` keys are the
/// binding's own (`onProgress`, credentials, ...) and go to `on_extra` instead.
fn core_options<T: Default + Serialize + DeserializeOwned>(
    what: &str,
    options: Option<&Object>,
    extra: &[&str],
    mut on_extra: impl FnMut(&str) -> idpkit::Result<()>,
) -> idpkit::Result<T> {
    let known = match json(T::default())? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut map = Map::new();
    if let Some(obj) = options {
        for key in Object::keys(obj).map_err(|e| invalid("options", e))? {
            if extra.contains(&key.as_str()) {
                on_extra(&key)?;
                continue;
            }
            let snake = keys::camel_to_snake(&key);
            if !known.contains_key(&snake) {
                let names: Vec<String> = known
                    .keys()
                    .map(|k| keys::snake_to_camel(k))
                    .chain(extra.iter().map(|k| k.to_string()))
                    .map(|k| format!("`{k}`"))
                    .collect();
                return Err(idpkit::Error::invalid(format!(
                    "{what}: unknown field `{key}`, expected one of {}",
                    names.join(", ")
                )));
            }
            if let Some(v) = obj.get::<Value>(&key).map_err(|e| invalid(&key, e))? {
                map.insert(snake, keys::from_js(v));
            }
        }
    }
    serde_json::from_value(Value::Object(map)).map_err(|e| {
        idpkit::Error::invalid(format!("{what}: {}", keys::camel_message(&e.to_string())))
    })
}

/// The core's `RegistryOptions` from a camelCase object (see `core_options`), plus
/// `username` and `password` or `token` (set on the options directly, never through JSON,
/// so they cannot end up in a message), `onProgress` and `signal`.
fn registry_options(
    options: Option<&Object>,
    cancel: &CancelToken,
    signal: &mut Option<SignalHook>,
) -> idpkit::Result<(RegistryOptions, Option<EventSink>)> {
    let mut sink = None;
    let (mut username, mut password, mut token) = (None, None, None);
    let extra = ["username", "password", "token", "onProgress", "signal"];
    let mut opts: RegistryOptions = core_options("registry options", options, &extra, |key| {
        // `extra` keys only come from a present object.
        let Some(obj) = options else {
            return Ok(());
        };
        let secret = |name: &str| -> idpkit::Result<Option<String>> {
            match obj.get::<Value>(name).map_err(|e| invalid(name, e))? {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(idpkit::Error::invalid(format!(
                    "option `{name}`: expected a string"
                ))),
            }
        };
        match key {
            "onProgress" => sink = progress_sink(obj)?,
            "signal" => watch_signal(obj, cancel, signal)?,
            "username" => username = secret("username")?,
            "password" => password = secret("password")?,
            _ => token = secret("token")?,
        }
        Ok(())
    })?;
    opts.credential =
        Credential::from_arguments(username, password, token, "the credential options")?;
    opts.cancel = Some(cancel.clone());
    Ok((opts, sink))
}

/// An options argument: absent, `undefined`, `null` or an object.
fn options_object(value: Option<Unknown<'_>>) -> idpkit::Result<Option<Object<'_>>> {
    let Some(v) = value else {
        return Ok(None);
    };
    match v.get_type() {
        Ok(ValueType::Undefined | ValueType::Null) => Ok(None),
        // SAFETY: the value was just checked to be an object.
        Ok(ValueType::Object) => unsafe { v.cast::<Object>() }
            .map(Some)
            .map_err(|e| invalid("options", e)),
        _ => Err(idpkit::Error::invalid("options: expected an object")),
    }
}

/// Reads a small options object whose fields are all optional strings.
fn string_options(
    options: Option<&Object>,
    allowed: &[&str],
) -> idpkit::Result<std::collections::HashMap<String, String>> {
    let mut out = std::collections::HashMap::new();
    let Some(obj) = options else {
        return Ok(out);
    };
    for key in Object::keys(obj).map_err(|e| invalid("options", e))? {
        if !allowed.contains(&key.as_str()) {
            return Err(idpkit::Error::invalid(format!(
                "unknown option `{key}`, expected one of {}",
                allowed
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        match obj.get::<Value>(&key).map_err(|e| invalid(&key, e))? {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                out.insert(key, s);
            }
            Some(other) => {
                return Err(idpkit::Error::invalid(format!(
                    "option `{key}`: expected a string, got {other}"
                )))
            }
        }
    }
    Ok(out)
}

/// Turns `build(context, options)` into the core's `BuildOptions`, the progress sink and the
/// abort hookup. Keys are converted generically, so an option the core gains works here at
/// once, and an unknown option fails with the core's own "unknown field" message.
fn build_options(
    context: String,
    options: Option<&Object>,
    cancel: &CancelToken,
    signal: &mut Option<SignalHook>,
) -> idpkit::Result<(idpkit::BuildOptions, Option<EventSink>)> {
    let mut map = Map::new();
    let mut sink = None;
    if let Some(obj) = options {
        for key in Object::keys(obj).map_err(|e| invalid("options", e))? {
            match key.as_str() {
                "onProgress" => sink = progress_sink(obj)?,
                "signal" => watch_signal(obj, cancel, signal)?,
                _ => {
                    if let Some(v) = obj.get::<Value>(&key).map_err(|e| invalid(&key, e))? {
                        map.insert(keys::camel_to_snake(&key), keys::from_js(v));
                    }
                }
            }
        }
    }
    if map.contains_key("context") {
        return Err(idpkit::Error::invalid(
            "option `context`: pass the build context as the first argument of build()",
        ));
    }
    map.insert("context".into(), Value::String(context));
    let opts = parse_build_options(map)?;
    Ok((opts, sink))
}

fn parse_build_options(map: Map<String, Value>) -> idpkit::Result<idpkit::BuildOptions> {
    match serde_json::from_value(Value::Object(map.clone())) {
        Ok(opts) => Ok(opts),
        Err(e) => {
            // serde_json names no field in a type error; find the option that is wrong.
            let culprit = map.iter().find(|(k, v)| {
                let one: Map<String, Value> = [((*k).clone(), (*v).clone())].into_iter().collect();
                serde_json::from_value::<idpkit::BuildOptions>(Value::Object(one)).is_err()
            });
            let msg = keys::camel_message(&e.to_string());
            Err(idpkit::Error::invalid(match culprit {
                Some((k, _)) if !msg.starts_with("unknown field") => {
                    format!("build option `{}`: {msg}", keys::snake_to_camel(k))
                }
                _ => format!("build options: {msg}"),
            }))
        }
    }
}

/// `onProgress`: each core event becomes a non-blocking call on the event loop.
fn progress_sink(obj: &Object) -> idpkit::Result<Option<EventSink>> {
    let Some(value) = obj
        .get::<Unknown>("onProgress")
        .map_err(|e| invalid("onProgress", e))?
    else {
        return Ok(None);
    };
    if value.get_type().ok() != Some(ValueType::Function) {
        return Err(idpkit::Error::invalid(
            "option `onProgress`: expected a function",
        ));
    }
    let tsfn: ProgressFn = obj
        .get::<ProgressFn>("onProgress")
        .map_err(|e| invalid("onProgress", e))?
        .ok_or_else(|| idpkit::Error::invalid("option `onProgress`: expected a function"))?;
    let tsfn = Arc::new(tsfn);
    let sink: EventSink = Arc::new(move |event: &Event| {
        if let Ok(v) = serde_json::to_value(event) {
            tsfn.call(keys::to_js(v), ThreadsafeFunctionCallMode::NonBlocking);
        }
    });
    Ok(Some(sink))
}

/// `signal`: aborting it cancels the core's token; an already-aborted signal cancels at once.
/// The listener is added with `addEventListener` (the caller's own `onabort` and other
/// listeners stay), and removed when the call ends (`SignalHook`), so a long-lived signal
/// shared by many calls does not collect one listener per call.
fn watch_signal(
    obj: &Object,
    cancel: &CancelToken,
    hook: &mut Option<SignalHook>,
) -> idpkit::Result<()> {
    let expected = || idpkit::Error::invalid("option `signal`: expected an AbortSignal");
    let Some(signal) = obj
        .get::<Object>("signal")
        .map_err(|e| invalid("option `signal` (expected an AbortSignal)", e))?
    else {
        return Ok(());
    };
    let aborted = signal.get::<bool>("aborted").ok().flatten();
    let add = signal
        .get::<Function<FnArgs<(String, Function<(), ()>)>, ()>>("addEventListener")
        .ok()
        .flatten();
    let (Some(aborted), Some(add)) = (aborted, add) else {
        return Err(expected());
    };
    if aborted {
        cancel.cancel();
        return Ok(());
    }
    let env = Env::from_raw(signal.value().env);
    let token = cancel.clone();
    let listener = env
        .create_function_from_closure::<(), (), _>("idpkitAbort", move |_| {
            token.cancel();
            Ok(())
        })
        .map_err(|e| invalid("option `signal`", e))?;
    add.apply(signal, ("abort".to_string(), listener).into())
        .map_err(|e| invalid("option `signal`", e))?;
    *hook = Some(SignalHook {
        signal: signal
            .create_ref()
            .map_err(|e| invalid("option `signal`", e))?,
        listener: listener
            .create_ref()
            .map_err(|e| invalid("option `signal`", e))?,
    });
    Ok(())
}

/// A listener one call added to the caller's `AbortSignal`.
pub struct SignalHook {
    signal: ObjectRef<false>,
    listener: FunctionRef<(), ()>,
}

impl SignalHook {
    /// Removes the listener (on the JS thread, when the call ends) and drops the references.
    fn remove(self, env: &Env) {
        if let (Ok(signal), Ok(listener)) =
            (self.signal.get_value(env), self.listener.borrow_back(env))
        {
            if let Ok(Some(remove)) = signal
                .get::<Function<FnArgs<(String, Function<(), ()>)>, ()>>("removeEventListener")
            {
                let _ = remove.apply(signal, ("abort".to_string(), listener).into());
            }
        }
        let _ = self.signal.unref(env);
    }
}
