//! Which ref to fetch for a revision, from the server's reference advertisement, in Argo CD's
//! order (`util/git/client.go` `lsRemote`): a full commit id as such, then an exact ref name,
//! a branch, a tag, HEAD (through its symref), then an abbreviated commit id.

use crate::error::{Error, Result};
use git2::Oid;

/// One advertised ref (`refs/tags/v1^{}` is a peeled annotated tag).
#[derive(Debug, Clone)]
pub(crate) struct Advertised {
    pub(crate) name: String,
    pub(crate) oid: Oid,
    pub(crate) symref: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Fetch `remote` into `local`, then check out what it peels to.
    Ref {
        remote: String,
        local: String,
        /// The advertised object id (a tag object for an annotated tag).
        oid: Oid,
        resolved_ref: Option<String>,
    },
    /// A commit no ref points at: by id where the server allows it, else everything.
    Commit(Oid),
    /// An abbreviated id no ref points at: everything is fetched, then it is looked up.
    Abbreviated(String),
}

/// Where a fetched ref is kept locally: branches as remote-tracking refs, tags as tags.
pub(crate) fn local_ref(remote: &str) -> String {
    if let Some(b) = remote.strip_prefix("refs/heads/") {
        format!("refs/remotes/origin/{b}")
    } else if remote.starts_with("refs/tags/") {
        remote.to_string()
    } else if let Some(r) = remote.strip_prefix("refs/") {
        format!("refs/remotes/origin/{r}")
    } else {
        format!("refs/remotes/origin/{remote}")
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(crate) fn plan(heads: &[Advertised], revision: Option<&str>, url: &str) -> Result<Plan> {
    let rev = revision.map(str::trim).unwrap_or("");
    let real: Vec<&Advertised> = heads.iter().filter(|h| !h.name.ends_with("^{}")).collect();
    let by_name = |n: &str| real.iter().find(|h| h.name == n).copied();
    let as_ref = |h: &Advertised, resolved: bool| Plan::Ref {
        remote: h.name.clone(),
        local: local_ref(&h.name),
        oid: h.oid,
        resolved_ref: resolved.then(|| h.name.clone()),
    };
    // A ref whose tip (or peeled tip) is `matches`, branches first: fetched by name, so the
    // fetch can be shallow on any server.
    let at_tip = |matches: &dyn Fn(&Oid) -> bool| -> Option<Plan> {
        let mut hits: Vec<&Advertised> = heads
            .iter()
            .filter(|h| h.name != "HEAD" && matches(&h.oid))
            .collect();
        hits.sort_by_key(|h| (!h.name.starts_with("refs/heads/"), h.name.clone()));
        hits.first().map(|h| {
            let name = h.name.trim_end_matches("^{}");
            let oid = by_name(name).map_or(h.oid, |r| r.oid);
            Plan::Ref {
                remote: name.to_string(),
                local: local_ref(name),
                oid,
                resolved_ref: None,
            }
        })
    };

    if real.is_empty() {
        return Err(Error::not_found(format!(
            "{url} has no commits yet (an empty repository); push to it first"
        )));
    }
    if (rev.len() == 40 || rev.len() == 64) && is_hex(rev) {
        let oid =
            Oid::from_str(rev).map_err(|e| Error::invalid(format!("revision {rev:?}: {e}")))?;
        return Ok(at_tip(&|o: &Oid| *o == oid).unwrap_or(Plan::Commit(oid)));
    }
    if rev.is_empty() || rev == "HEAD" {
        let head = by_name("HEAD").ok_or_else(|| {
            Error::not_found(format!(
                "{url} advertises no HEAD; name a branch or tag as the revision"
            ))
        })?;
        if let Some(target) = head.symref.as_deref().and_then(by_name) {
            return Ok(as_ref(target, true));
        }
        return Ok(as_ref(head, false));
    }
    for candidate in [
        rev.to_string(),
        format!("refs/heads/{rev}"),
        format!("refs/tags/{rev}"),
    ] {
        if candidate.starts_with("refs/") {
            if let Some(h) = by_name(&candidate) {
                return Ok(as_ref(h, true));
            }
        }
    }
    if rev.len() >= 4 && rev.len() < 40 && is_hex(rev) {
        let lower = rev.to_ascii_lowercase();
        return Ok(at_tip(&|o: &Oid| o.to_string().starts_with(&lower))
            .unwrap_or_else(|| Plan::Abbreviated(lower.clone())));
    }
    let mut branches: Vec<&str> = real
        .iter()
        .filter_map(|h| h.name.strip_prefix("refs/heads/"))
        .collect();
    branches.sort_unstable();
    let shown = branches
        .iter()
        .take(10)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    Err(Error::not_found(format!(
        "revision {rev:?} is not a branch, tag or commit of {url} (its branches: {shown}{})",
        if branches.len() > 10 { ", ..." } else { "" }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).unwrap()
    }

    fn heads() -> Vec<Advertised> {
        let h = |name: &str, n: u8| Advertised {
            name: name.into(),
            oid: oid(n),
            symref: None,
        };
        let mut head = h("HEAD", 1);
        head.symref = Some("refs/heads/main".into());
        vec![
            head,
            h("refs/heads/main", 1),
            h("refs/heads/develop", 2),
            h("refs/tags/v0.1.0", 3),
            h("refs/tags/v0.1.0^{}", 4),
            h("refs/tags/develop", 5),
        ]
    }

    #[test]
    fn names_resolve_in_argo_cds_order() {
        let p = |r: Option<&str>| plan(&heads(), r, "u").unwrap();
        let main = Plan::Ref {
            remote: "refs/heads/main".into(),
            local: "refs/remotes/origin/main".into(),
            oid: oid(1),
            resolved_ref: Some("refs/heads/main".into()),
        };
        assert_eq!(p(None), main);
        assert_eq!(p(Some("HEAD")), main);
        assert_eq!(p(Some("main")), main);
        // A branch wins over a tag of the same name, as in Argo CD.
        assert!(matches!(p(Some("develop")), Plan::Ref { oid: o, .. } if o == oid(2)));
        assert!(matches!(p(Some("refs/tags/develop")), Plan::Ref { oid: o, .. } if o == oid(5)));
        assert!(
            matches!(p(Some("v0.1.0")), Plan::Ref { ref local, .. } if local == "refs/tags/v0.1.0")
        );
    }

    #[test]
    fn commit_ids_at_a_tip_are_fetched_by_that_ref() {
        let p = |r: &str| plan(&heads(), Some(r), "u").unwrap();
        let peeled = oid(4).to_string();
        assert!(
            matches!(p(&peeled), Plan::Ref { ref remote, oid: o, resolved_ref: None, .. }
            if remote == "refs/tags/v0.1.0" && o == oid(3))
        );
        assert_eq!(p(&oid(9).to_string()), Plan::Commit(oid(9)));
        assert_eq!(p("0909090"), Plan::Abbreviated("0909090".into()));
        assert!(
            matches!(p("0202020"), Plan::Ref { ref remote, .. } if remote == "refs/heads/develop")
        );
    }

    #[test]
    fn unknown_names_and_empty_repositories_are_not_found() {
        let e = plan(&heads(), Some("nope"), "https://h/r.git").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::NotFound);
        assert!(e.message.contains("develop, main"), "{}", e.message);
        let e = plan(&[], None, "https://h/r.git").unwrap_err();
        assert!(e.message.contains("empty repository"), "{}", e.message);
    }
}
