//! Jobs and their pods: create (or dry-run) a Job, read it and its pods, read a
//! container's log line by line. What `sandbox_job --apply --wait` is made of.

use super::KubeClient;
use crate::error::{Error, Result};
use ::kube::api::{Api, ListParams, LogParams, PostParams};
use futures_util::{AsyncBufReadExt as _, TryStreamExt as _};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

impl KubeClient {
    /// Creates `job` in its namespace; with `dry_run` the API server validates and admits
    /// it (defaults filled in, every admission check run) without storing it. Returns the
    /// Job as the server has (or would have) it. An existing Job of that name is CONFLICT.
    pub fn create_job(&self, job: &Job, dry_run: bool) -> Result<Job> {
        let ns = job.metadata.namespace.as_deref().unwrap_or("default");
        let name = job.metadata.name.as_deref().unwrap_or("");
        let api: Api<Job> = Api::namespaced(self.client.clone(), ns);
        let params = PostParams {
            dry_run,
            field_manager: Some("idpkit".into()),
        };
        self.run_write(&format!("Job {ns}/{name}"), api.create(&params, job))
    }

    /// Job `ns/name`, or `None` when there is none.
    pub fn job(&self, ns: &str, name: &str) -> Result<Option<Job>> {
        let api: Api<Job> = Api::namespaced(self.client.clone(), ns);
        self.run(&format!("Job {ns}/{name}"), api.get_opt(name))
    }

    /// The pods of Job `ns/name` (by the `batch.kubernetes.io/job-name` label the Job
    /// controller sets), oldest first.
    pub fn job_pods(&self, ns: &str, name: &str) -> Result<Vec<Pod>> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let lp = ListParams::default().labels(&format!("batch.kubernetes.io/job-name={name}"));
        let mut pods = self
            .run(&format!("the pods of Job {ns}/{name}"), api.list(&lp))?
            .items;
        pods.sort_by(|a, b| {
            a.metadata
                .creation_timestamp
                .cmp(&b.metadata.creation_timestamp)
        });
        Ok(pods)
    }

    /// Reads the log of `container` in pod `ns/pod`, calling `on_line` for each line; with
    /// `follow`, until the container ends. Returns how many lines it read.
    pub fn container_log(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        follow: bool,
        on_line: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<u64> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let lp = LogParams {
            container: Some(container.into()),
            follow,
            ..LogParams::default()
        };
        let what = format!("the log of {container} in pod {ns}/{pod}");
        let stream = self.run(&what, api.log_stream(pod, &lp))?;
        crate::runtime::block_on_cancellable(self.cancel.as_ref(), async {
            let mut lines = stream.lines();
            let mut n = 0u64;
            while let Some(line) = lines
                .try_next()
                .await
                .map_err(|e| Error::io("read", std::path::Path::new(&what), e))?
            {
                on_line(&line);
                n += 1;
            }
            Ok(n)
        })
    }
}
