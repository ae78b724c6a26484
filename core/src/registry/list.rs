//! Paginated lists (tags, catalog) and manifest deletion.

use super::client::{self, no_body, Client};
use super::{pull, registry_of, scope_pull, with_client, RegistryOptions};
use crate::error::{Error, Result};
use crate::event::EventSink;
use crate::oci::Reference;
use reqwest::header::{HeaderMap, LINK};
use reqwest::Method;

/// Follows `Link: <...>; rel="next"` pages of a list endpoint and collects `field`.
async fn paginate(client: &Client, first: String, scope: &str, field: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut url = Some(first);
    let mut pages = 0;
    while let Some(u) = url.take() {
        pages += 1;
        if pages > 10_000 {
            break;
        }
        let resp = client
            .send(Method::GET, &u, scope, HeaderMap::new(), &no_body, true)
            .await?;
        if !resp.status().is_success() {
            return Err(client.error_for(resp, &format!("GET {field}")).await);
        }
        url = match resp
            .headers()
            .get(LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_link)
        {
            Some(l) => Some(next_page(client, &l)?),
            None => None,
        };
        let body = client
            .read_limited(resp, client::LIST_PAGE_MAX, "list page", &u)
            .await?;
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| e.to_string())
            .map_err(|e| {
                Error::new(
                    crate::ErrorKind::Network,
                    format!("{}: list answer is not JSON: {e}", client.registry),
                )
            })?;
        if let Some(items) = v.get(field).and_then(|t| t.as_array()) {
            out.extend(items.iter().filter_map(|t| t.as_str().map(String::from)));
        }
    }
    Ok(out)
}

/// The URL of the next page: on the registry's own origin only. A page elsewhere would
/// print another host's tags as this registry's (and, before, received its credentials).
fn next_page(client: &Client, link: &str) -> Result<String> {
    let url = client.absolute(link)?;
    if !client.is_own_origin(&url) {
        return Err(Error::new(
            crate::ErrorKind::Policy,
            format!(
                "{}: its next-page Link points at another host ({}); refused, the list would mix \
                 in another server's answer",
                client.registry,
                reqwest::Url::parse(&url)
                    .map(|u| client::origin_of(&u))
                    .unwrap_or(url.clone())
            ),
        ));
    }
    Ok(url)
}

/// `<url>; rel="next"` → url.
fn next_link(h: &str) -> Option<String> {
    h.split(',').find_map(|part| {
        let (u, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            u.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// Tags of a repository (`host[:port]/path`), following `Link` pagination.
pub fn list_tags(
    repository: &str,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<Vec<String>> {
    let r = Reference::parse(repository)?;
    with_client(&r.registry, opts, sink, async |client| {
        let url = format!("{}/v2/{}/tags/list?n=1000", client.base, r.repository);
        paginate(client, url, &scope_pull(&r.repository), "tags").await
    })
}

/// Repositories of a registry (`/v2/_catalog`, paginated).
pub fn catalog(
    registry: &str,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<Vec<String>> {
    with_client(&registry_of(registry), opts, sink, async |client| {
        let url = format!("{}/v2/_catalog?n=1000", client.base);
        paginate(client, url, "registry:catalog:*", "repositories").await
    })
}

/// Other tags checked for sharing the manifest a tag deletion would remove.
const MAX_SHARING_CHECK: usize = 200;

/// Deletes a manifest by tag or digest; returns the digest deleted.
///
/// Registries delete manifests, not tags: deleting `app:v1` removes every tag that points at
/// the same manifest. Unless `force`, a deletion by tag first looks at the repository's
/// other tags and refuses (`CONFLICT`, naming them) when any shares the manifest.
pub fn delete(
    reference: &str,
    force: bool,
    opts: &RegistryOptions,
    sink: Option<&EventSink>,
) -> Result<String> {
    let r = Reference::parse(reference)?;
    with_client(&r.registry, opts, sink, async |client| {
        let scope = format!("repository:{}:pull,push,delete", r.repository);
        let digest = match &r.digest {
            Some(d) => d.clone(),
            None => {
                let tag = r.tag.clone().unwrap_or_default();
                pull::head_manifest(client, &r.repository, &tag, &scope)
                    .await?
                    .ok_or_else(|| {
                        Error::not_found(format!("{reference}: no such tag on {}", r.registry))
                    })?
            }
        };
        if let (Some(tag), false) = (&r.tag, force) {
            if r.digest.is_none() {
                refuse_shared(client, &r.repository, tag, &digest, &scope, reference).await?;
            }
        }
        let url = format!("{}/v2/{}/manifests/{digest}", client.base, r.repository);
        let resp = client
            .send(
                Method::DELETE,
                &url,
                &scope,
                HeaderMap::new(),
                &no_body,
                true,
            )
            .await?;
        if resp.status().is_success() {
            return Ok(digest);
        }
        let mut e = client.error_for(resp, "DELETE manifest").await;
        if e.kind == crate::ErrorKind::Policy {
            e.message.push_str("; the registry does not allow deletes (distribution: REGISTRY_STORAGE_DELETE_ENABLED=true)");
        }
        Err(e)
    })
}

/// `CONFLICT` when another tag of `repo` points at `digest`, which deleting `tag` would
/// remove with it.
async fn refuse_shared(
    client: &Client,
    repo: &str,
    tag: &str,
    digest: &str,
    scope: &str,
    reference: &str,
) -> Result<()> {
    let url = format!("{}/v2/{repo}/tags/list?n=1000", client.base);
    let tags = paginate(client, url, scope, "tags").await?;
    let others: Vec<&String> = tags.iter().filter(|t| t.as_str() != tag).collect();
    if others.len() > MAX_SHARING_CHECK {
        return Err(Error::new(
            crate::ErrorKind::Conflict,
            format!(
                "{reference}: the repository has {} other tags, more than idpkit checks ({MAX_SHARING_CHECK}) for \
                 sharing the manifest that would be deleted; delete by digest or pass force (--force)",
                others.len()
            ),
        ));
    }
    let mut sharing = Vec::new();
    for other in others {
        if pull::head_manifest(client, repo, other, scope)
            .await?
            .as_deref()
            == Some(digest)
        {
            sharing.push(other.as_str());
        }
    }
    if sharing.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        crate::ErrorKind::Conflict,
        format!(
            "{reference}: deleting it deletes manifest {digest}, which is also tagged {}; those tags \
             would go too. Pass force (--force) to delete them all, or re-tag them first",
            sharing.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        assert_eq!(
            next_link(r#"</v2/x/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/x/tags/list?n=2&last=b")
        );
        assert_eq!(next_link(r#"</a>; rel="prev""#), None);
    }
}
