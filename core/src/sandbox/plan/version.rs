//! From the version a project asks for to the image series and exact version, through the
//! config's version map (`3.3` → `3.3.6`).

use super::super::detect::{Ecosystem, Project};
use std::collections::BTreeMap;

pub(super) struct Resolved {
    /// The image tag's series (`3.3`, `20`, `latest`).
    pub series: String,
    /// The exact version the image holds, when known.
    pub version: Option<String>,
    pub warning: Option<String>,
}

/// The numeric components of a version or a simple requirement (`>= 3.3.1p55` → [3, 3, 1]).
fn numbers(v: &str) -> Vec<u64> {
    crate::sandbox::detect::version::components(
        v.trim().trim_start_matches(['=', '~', '>', '<', '^', ' ']),
    )
}

/// How many leading components name an image series when the config has no map.
fn series_len(eco: Ecosystem) -> usize {
    match eco {
        Ecosystem::Node => 1,
        _ => 2,
    }
}

pub(super) fn resolve(p: &Project, map: Option<&BTreeMap<String, String>>) -> Resolved {
    let asked = p
        .version
        .as_deref()
        .filter(|v| !v.is_empty() && *v != "latest");
    let Some(map) = map else {
        // No map: the series comes from the request itself; the exact version is unknown.
        let n = asked.map(numbers).unwrap_or_default();
        let len = series_len(p.ecosystem);
        return if n.len() >= len {
            let series: Vec<String> = n[..len].iter().map(u64::to_string).collect();
            Resolved {
                series: series.join("."),
                version: asked.map(str::to_string),
                warning: None,
            }
        } else {
            Resolved {
                series: "latest".into(),
                version: asked.map(str::to_string),
                warning: None,
            }
        };
    };
    let newest = map
        .iter()
        .max_by(|a, b| numbers(a.0).cmp(&numbers(b.0)))
        .map(|(k, v)| (k.clone(), v.clone()));
    let Some((newest_series, newest_version)) = newest else {
        return Resolved {
            series: "latest".into(),
            version: None,
            warning: None,
        };
    };
    let Some(asked) = asked else {
        return Resolved {
            series: newest_series,
            version: Some(newest_version),
            warning: None,
        };
    };
    let n = numbers(asked);
    // The longest series the request starts with: 3.3.1 → 3.3.
    let hit = map
        .iter()
        .filter(|(k, _)| {
            let s = numbers(k);
            !s.is_empty() && n.len() >= s.len() && n[..s.len()] == s[..]
        })
        .max_by_key(|(k, _)| numbers(k).len());
    match hit {
        Some((series, version)) => Resolved {
            series: series.clone(),
            version: Some(version.clone()),
            warning: None,
        },
        None => {
            let known: Vec<&str> = map.keys().map(String::as_str).collect();
            Resolved {
                warning: Some(format!(
                    "{} ({} project) asks for {} {asked}, which the version map does not \
                     have ({}); the plan uses {newest_series} ({newest_version}). Add it to \
                     [versions.{}] in idpkit-sandbox.toml to build that image",
                    p.dir,
                    p.ecosystem.name(),
                    p.ecosystem.name(),
                    known.join(", "),
                    p.ecosystem.name(),
                )),
                series: newest_series,
                version: Some(newest_version),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(eco: Ecosystem, v: Option<&str>) -> Project {
        Project {
            dir: ".".into(),
            ecosystem: eco,
            framework: None,
            version: v.map(str::to_string),
            services: vec![],
            setup: vec![],
            evidence: vec![],
            warnings: vec![],
        }
    }

    fn ruby_map() -> BTreeMap<String, String> {
        [("3.2", "3.2.6"), ("3.3", "3.3.6"), ("3.4", "3.4.7")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_patch_version_gets_its_series_image() {
        let m = ruby_map();
        let r = resolve(&project(Ecosystem::Ruby, Some("3.3.1")), Some(&m));
        assert_eq!(
            (r.series.as_str(), r.version.as_deref()),
            ("3.3", Some("3.3.6"))
        );
        assert!(r.warning.is_none());
        let r = resolve(&project(Ecosystem::Ruby, Some("3.2")), Some(&m));
        assert_eq!(r.version.as_deref(), Some("3.2.6"));
    }

    #[test]
    fn none_latest_and_unknown_get_the_newest() {
        let m = ruby_map();
        for v in [None, Some("latest")] {
            let r = resolve(&project(Ecosystem::Ruby, v), Some(&m));
            assert_eq!(
                (r.series.as_str(), r.version.as_deref()),
                ("3.4", Some("3.4.7"))
            );
            assert!(r.warning.is_none());
        }
        let r = resolve(&project(Ecosystem::Ruby, Some("2.7.8")), Some(&m));
        assert_eq!(r.series, "3.4");
        let w = r.warning.unwrap();
        assert!(w.contains("2.7.8") && w.contains("3.2, 3.3, 3.4"), "{w}");
    }

    #[test]
    fn without_a_map_the_series_comes_from_the_request() {
        let r = resolve(&project(Ecosystem::Node, Some("v20.11.1")), None);
        assert_eq!(r.series, "20");
        let r = resolve(&project(Ecosystem::Python, Some("3.12")), None);
        assert_eq!(r.series, "3.12");
        let r = resolve(&project(Ecosystem::Node, Some("lts/*")), None);
        assert_eq!(r.series, "latest");
        let r = resolve(&project(Ecosystem::Go, None), None);
        assert_eq!(r.series, "latest");
    }
}
