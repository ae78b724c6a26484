//! Following a sandbox Job to its end: its state from the API server, the main
//! container's log as `log_line` events, and the main container's exit status.

use crate::error::{Error, ErrorKind, Result};
use crate::event::{emit, Event, EventSink, SinkScope};
use crate::kube::KubeClient;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How a Job ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JobOutcome {
    /// Whether the Job completed (its `Complete` condition).
    pub succeeded: bool,
    /// The main container's exit code, from its pod; without a pod to read it from, 0 for
    /// a completed Job and 1 for a failed one.
    pub exit_code: i32,
    /// The Job's `Failed` condition's reason (`DeadlineExceeded`, `BackoffLimitExceeded`)
    /// or the container's termination reason.
    pub reason: Option<String>,
    /// The pod the exit code and the log came from.
    pub pod: Option<String>,
    /// Log lines read from the main container.
    pub log_lines: u64,
}

fn condition<'a>(
    job: &'a Job,
    kind: &str,
) -> Option<&'a k8s_openapi::api::batch::v1::JobCondition> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind && c.status == "True")
}

/// The main container's state in `pod`: started (running or ended), and its end.
fn main_state(pod: &Pod, container: &str) -> (bool, Option<(i32, Option<String>)>) {
    let status = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == container));
    let Some(state) = status.and_then(|s| s.state.as_ref()) else {
        return (false, None);
    };
    if let Some(t) = &state.terminated {
        return (true, Some((t.exit_code, t.reason.clone())));
    }
    (state.running.is_some(), None)
}

/// Waits until Job `ns/name` completes or fails, at most `timeout`, streaming the log of
/// its pod's `container` to `sink` as it runs.
pub fn wait(
    client: &KubeClient,
    ns: &str,
    name: &str,
    container: &str,
    timeout: Duration,
    cancel: Option<&crate::CancelToken>,
    sink: Option<&EventSink>,
) -> Result<JobOutcome> {
    // The log follower may outlive this call by a moment (it is given 10 s to drain);
    // whatever it reads after the call returned must not reach the caller's callback.
    let scope = SinkScope::new(sink);
    let sink = scope.sink();
    let start = Instant::now();
    let lines = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut follower: Option<std::thread::JoinHandle<()>> = None;
    let emit_line = {
        let sink = sink.cloned();
        let lines = lines.clone();
        let container = container.to_string();
        move |pod: &str, line: &str| {
            lines.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            emit(
                sink.as_ref(),
                Event::LogLine {
                    pod: pod.to_string(),
                    container: container.clone(),
                    line: line.to_string(),
                },
            );
        }
    };
    let emit_line = std::sync::Arc::new(emit_line);
    let (job, pod) = loop {
        crate::cancel::check(cancel)?;
        let job = client.job(ns, name)?.ok_or_else(|| {
            Error::not_found(format!(
                "Job {ns}/{name} is gone (deleted, or removed by its TTL) before it ended"
            ))
        })?;
        let pods = client.job_pods(ns, name)?;
        let pod = pods.last().cloned();
        if condition(&job, "Complete").is_some() || condition(&job, "Failed").is_some() {
            break (job, pod);
        }
        if let (None, Some(p)) = (&follower, &pod) {
            if main_state(p, container).0 {
                let (c, pod_name) = (client.clone(), p.metadata.name.clone().unwrap_or_default());
                let (ns, container, emit_line) =
                    (ns.to_string(), container.to_string(), emit_line.clone());
                let sink = sink.cloned();
                follower = Some(std::thread::spawn(move || {
                    let on = |l: &str| emit_line(&pod_name, l);
                    if let Err(e) = c.container_log(&ns, &pod_name, &container, true, &on) {
                        emit(
                            sink.as_ref(),
                            Event::Warning {
                                message: format!("no log from pod {pod_name}: {e}"),
                            },
                        );
                    }
                }));
            }
        }
        if start.elapsed() >= timeout {
            return Err(Error::new(
                ErrorKind::Network,
                format!(
                    "Job {ns}/{name} did not end within {} s; it keeps running (`kubectl \
                     get job -n {ns} {name}`), or wait longer",
                    timeout.as_secs()
                ),
            ));
        }
        sleep_cancellable(Duration::from_millis(500), cancel)?;
    };
    let pod_name = pod.as_ref().and_then(|p| p.metadata.name.clone());
    match follower {
        Some(handle) => {
            // The follow stream ends with the container; give it a moment to drain.
            let until = Instant::now() + Duration::from_secs(10);
            while !handle.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        None => {
            // It ended between two looks: read the whole log once.
            if let Some(p) = &pod_name {
                let on = |l: &str| emit_line(p, l);
                if let Err(e) = client.container_log(ns, p, container, false, &on) {
                    emit(
                        sink,
                        Event::Warning {
                            message: format!("no log from pod {p}: {e}"),
                        },
                    );
                }
            }
        }
    }
    let failed = condition(&job, "Failed");
    let ended = pod.as_ref().and_then(|p| main_state(p, container).1);
    let succeeded = condition(&job, "Complete").is_some() && failed.is_none();
    let (exit_code, reason) = match ended {
        Some((code, reason)) => (code, failed.and_then(|c| c.reason.clone()).or(reason)),
        None => (
            if succeeded { 0 } else { 1 },
            failed.and_then(|c| c.reason.clone()),
        ),
    };
    Ok(JobOutcome {
        succeeded,
        exit_code,
        reason,
        pod: pod_name,
        log_lines: lines.load(std::sync::atomic::Ordering::Relaxed),
    })
}

fn sleep_cancellable(d: Duration, cancel: Option<&crate::CancelToken>) -> Result<()> {
    let until = Instant::now() + d;
    while Instant::now() < until {
        crate::cancel::check(cancel)?;
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
