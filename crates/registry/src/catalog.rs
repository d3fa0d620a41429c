//! Listing: tags of a repository, the registry catalog, and v1 search.

use hyper::{header, Method};
use serde::{Deserialize, Serialize};

use crate::client::{repo_scope, Endpoint};
use crate::transport::{header_str, read_body, resolve_url, with_query, Req};
use crate::{Client, Reference, RegistryError};

/// One result of `GET /v1/search` (Docker Hub's search API shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    /// Repository name (`library/busybox` or `busybox`).
    pub name: String,
    /// Short description.
    #[serde(default)]
    pub description: String,
    /// Number of stars.
    #[serde(default)]
    pub star_count: u64,
    /// Docker official image.
    #[serde(default)]
    pub is_official: bool,
    /// Automated build (deprecated, still reported).
    #[serde(default)]
    pub is_automated: bool,
}

/// The whole search answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    /// The query as the server understood it.
    #[serde(default)]
    pub query: String,
    /// Total matches on the server.
    #[serde(default)]
    pub num_results: u64,
    /// The results returned.
    #[serde(default)]
    pub results: Vec<SearchResult>,
}

const LIST_LIMIT: usize = 16 << 20;

impl Client {
    /// All tags of `r`'s repository (following `Link: <…>; rel="next"` pages).
    pub async fn tags(&self, r: &Reference) -> Result<Vec<String>, RegistryError> {
        #[derive(Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let ep = self.origin(r.registry());
        let first = format!("{}/v2/{}/tags/list?n=1000", ep.base, r.repository());
        let mut out = Vec::new();
        for page in self
            .paged(
                &ep,
                &[repo_scope(r, "pull")],
                first,
                &format!("tags of {}", r.familiar_name()),
            )
            .await?
        {
            let list: TagList =
                serde_json::from_slice(&page).map_err(|e| RegistryError::Protocol {
                    url: r.to_string(),
                    message: format!("tag list: {e}"),
                })?;
            out.extend(list.tags.unwrap_or_default());
        }
        Ok(out)
    }

    /// The repositories of a registry (`GET /v2/_catalog`, where the registry allows it).
    pub async fn catalog(&self, registry: &str) -> Result<Vec<String>, RegistryError> {
        #[derive(Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Vec<String>,
        }
        let ep = self.origin(registry);
        let first = format!("{}/v2/_catalog?n=1000", ep.base);
        let mut out = Vec::new();
        for page in self
            .paged(&ep, &["registry:catalog:*".to_owned()], first, "catalog")
            .await?
        {
            let c: Catalog =
                serde_json::from_slice(&page).map_err(|e| RegistryError::Protocol {
                    url: registry.to_owned(),
                    message: format!("catalog: {e}"),
                })?;
            out.extend(c.repositories);
        }
        Ok(out)
    }

    /// Searches a registry's v1 search API (`docker search`): Docker Hub's index for
    /// `docker.io`, else `<registry>/v1/search`.
    pub async fn search(
        &self,
        registry: &str,
        term: &str,
        limit: u32,
    ) -> Result<SearchResults, RegistryError> {
        let mut ep = self.origin(registry);
        if registry == crate::reference::DOCKER_HUB {
            ep.base = self
                .inner
                .config
                .docker_hub_index
                .trim_end_matches('/')
                .to_owned();
        }
        let url = with_query(&format!("{}/v1/search", ep.base), "q", term);
        let url = with_query(&url, "n", &limit.to_string());
        let (resp, url) = self.request(&ep, &[], Req::new(Method::GET, url)).await?;
        if !resp.status().is_success() {
            return Err(self
                .error_for(resp, &url, &format!("search {term:?}"))
                .await);
        }
        let body = read_body(resp, &url, LIST_LIMIT).await?;
        let mut results: SearchResults =
            serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
                url,
                message: format!("search results: {e}"),
            })?;
        results.results.truncate(limit as usize);
        Ok(results)
    }

    async fn paged(
        &self,
        ep: &Endpoint,
        scopes: &[String],
        first: String,
        what: &str,
    ) -> Result<Vec<Vec<u8>>, RegistryError> {
        let mut pages = Vec::new();
        let mut next = Some(first);
        while let Some(url) = next.take() {
            if pages.len() > 1000 {
                break;
            }
            let (resp, url) = self.request(ep, scopes, Req::new(Method::GET, url)).await?;
            if !resp.status().is_success() {
                return Err(self.error_for(resp, &url, what).await);
            }
            next = header_str(&resp, header::LINK).and_then(|l| next_link(&url, &l));
            pages.push(read_body(resp, &url, LIST_LIMIT).await?);
        }
        Ok(pages)
    }
}

/// The `rel="next"` target of a Link header, resolved against `base`.
fn next_link(base: &str, link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.contains("rel=\"next\"") && !params.contains("rel=next") {
            return None;
        }
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        Some(resolve_url(base, target))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_link_headers() {
        assert_eq!(
            super::next_link(
                "http://h/v2/x/tags/list?n=2",
                "</v2/x/tags/list?n=2&last=b>; rel=\"next\""
            ),
            Some("http://h/v2/x/tags/list?n=2&last=b".to_owned())
        );
        assert_eq!(
            super::next_link("http://h/", "<http://o/p>; rel=\"prev\""),
            None
        );
    }
}
