//! What an Argo CD Application (argoproj.io/v1alpha1) says about its sources: `spec.source`
//! or `spec.sources`, each with the revision to fetch (the resolved `status.sync.revision`
//! or `revisions[i]` before `targetRevision`).

use crate::error::{Error, Result};
use serde_json::Value;

pub const GROUP: &str = "argoproj.io";
pub const VERSIONS: [&str; 1] = ["v1alpha1"];
pub const PLURAL: &str = "applications";

/// One source of an Application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSource {
    pub index: usize,
    pub repo_url: String,
    /// The directory in the repository (`""` for its root), checked to stay inside it.
    pub path: String,
    /// `ref` of a multi-source Application (a source others refer to as `$ref`).
    pub ref_name: Option<String>,
    /// The revision to fetch: the resolved one from the status, else `targetRevision`,
    /// else `None` (the repository's HEAD).
    pub revision: Option<String>,
    /// A Helm repository source (`chart` set): not a git repository, not fetched.
    pub helm_chart: Option<String>,
}

/// The sources of `app` (`Application ns/name` in `what`, for messages).
pub fn sources_of(app: &Value, what: &str) -> Result<Vec<AppSource>> {
    let spec = &app["spec"];
    let (list, multi): (Vec<&Value>, bool) = match (&spec["sources"], &spec["source"]) {
        (Value::Array(s), _) if !s.is_empty() => (s.iter().collect(), true),
        (_, s) if s.is_object() => (vec![s], false),
        _ => {
            return Err(Error::invalid(format!(
                "{what} has neither spec.source nor spec.sources"
            )))
        }
    };
    let sync = &app["status"]["sync"];
    let resolved = |i: usize| -> Option<String> {
        let v = if multi {
            &sync["revisions"][i]
        } else {
            &sync["revision"]
        };
        v.as_str()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
    };
    list.into_iter()
        .enumerate()
        .map(|(index, s)| {
            let field = |name: &str| {
                s[name]
                    .as_str()
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            };
            let repo_url = field("repoURL")
                .ok_or_else(|| Error::invalid(format!("{what}: source {index} has no repoURL")))?;
            let path = field("path").unwrap_or_default();
            let path = clean_path(&path).map_err(|reason| {
                Error::new(
                    crate::error::ErrorKind::UnsafeArchive,
                    format!("{what}: source {index} path {path:?} {reason}; refused"),
                )
            })?;
            Ok(AppSource {
                index,
                repo_url,
                path,
                ref_name: field("ref"),
                revision: resolved(index).or_else(|| field("targetRevision")),
                helm_chart: field("chart"),
            })
        })
        .collect()
}

/// A source's `path` as a relative path that stays inside the checkout: `.` and empty
/// parts dropped, `..`, absolute paths, backslashes and NUL refused (an Application is
/// input from whoever may write one).
fn clean_path(path: &str) -> std::result::Result<String, &'static str> {
    if path.starts_with('/') {
        return Err("is absolute");
    }
    if path.contains(['\\', '\0']) {
        return Err("holds a backslash or NUL");
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("leaves the repository"),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const C1: &str = "1111111111111111111111111111111111111111";
    const C2: &str = "2222222222222222222222222222222222222222";

    #[test]
    fn a_single_source_prefers_the_synced_revision() {
        let app = json!({"spec": {"source": {"repoURL": "https://h/r.git", "path": "./apps/",
            "targetRevision": "main"}}, "status": {"sync": {"revision": C1}}});
        let s = sources_of(&app, "Application a/b").unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].revision.as_deref(), Some(C1));
        assert_eq!(s[0].path, "apps");
        let app =
            json!({"spec": {"source": {"repoURL": "https://h/r.git", "targetRevision": "v1"}}});
        assert_eq!(
            sources_of(&app, "x").unwrap()[0].revision.as_deref(),
            Some("v1")
        );
    }

    #[test]
    fn multi_source_revisions_follow_the_sources() {
        let app = json!({"spec": {"sources": [
            {"repoURL": "https://h/a.git", "ref": "values", "targetRevision": "main"},
            {"repoURL": "https://charts.example", "chart": "nginx", "targetRevision": "1.2.3"},
            {"repoURL": "https://h/b.git", "path": "deploy"},
        ]}, "status": {"sync": {"revisions": [C1, "1.2.3", C2]}}});
        let s = sources_of(&app, "x").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].ref_name.as_deref(), Some("values"));
        assert_eq!(s[0].revision.as_deref(), Some(C1));
        assert_eq!(s[1].helm_chart.as_deref(), Some("nginx"));
        assert_eq!(s[2].revision.as_deref(), Some(C2));
        assert_eq!(s[2].path, "deploy");
    }

    #[test]
    fn paths_that_leave_the_repository_are_refused() {
        for bad in ["../../etc", "/etc", "apps/../../x", "a\\..\\b"] {
            let app = json!({"spec": {"source": {"repoURL": "https://h/r.git", "path": bad}}});
            let e = sources_of(&app, "Application ns/evil").unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::UnsafeArchive, "{bad}");
            assert!(e.message.contains("Application ns/evil"), "{e}");
        }
    }

    #[test]
    fn an_application_without_sources_says_so() {
        let e = sources_of(&json!({"spec": {}}), "Application ns/a").unwrap_err();
        assert!(e.message.contains("spec.source"), "{e}");
    }
}
