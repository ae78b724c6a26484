//! Sandbox provisioning (docs/sandbox.md): a fresh clone per run, project detection, and
//! the plan of services it leads to, rendered as Compose profiles or a Kubernetes Job.

pub mod config;
pub mod detect;
pub mod facade;
pub mod job_run;
pub mod local;
pub mod plan;
pub mod services;
pub mod workspace;
