//! Registry access for the image actions: a client per request with the credentials the
//! docker CLI sent (`X-Registry-Auth`, or the `/auth` body), `/auth` (login check) and
//! `/images/search`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{EngineError, Result};
use base64::Engine as _;
use berth_api_types::query::ImageSearchOptions;
use berth_api_types::{AuthConfig, AuthResponse, ImageSearchResult};
use berth_registry::{config_key_host, Client, Credentials, StaticCredentials, DOCKER_HUB};

use super::ImageService;

/// The credentials in an auth config: user/password, base64 `auth`, or an identity token.
pub(crate) fn credentials(a: &AuthConfig) -> Option<Credentials> {
    if !a.identitytoken.is_empty() {
        return Some(Credentials::IdentityToken(a.identitytoken.clone()));
    }
    if !a.username.is_empty() {
        return Some(Credentials::basic(&a.username, &a.password));
    }
    if !a.auth.is_empty() {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(a.auth.trim())
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (user, pass) = text.split_once(':')?;
        return Some(Credentials::basic(user, pass));
    }
    None
}

/// The registry host an auth config is for (`docker.io` when empty or Docker Hub's index).
pub(crate) fn server_host(a: &AuthConfig) -> String {
    if a.serveraddress.is_empty() {
        DOCKER_HUB.to_string()
    } else {
        config_key_host(&a.serveraddress)
    }
}

impl ImageService {
    /// A registry client carrying the request's credentials (applied to `registry` and to
    /// the host the credentials name).
    pub(crate) fn client(&self, auth: Option<&AuthConfig>, registry: &str) -> Result<Client> {
        let mut map = HashMap::new();
        if let Some(a) = auth {
            if let Some(c) = credentials(a) {
                map.insert(config_key_host(registry), c.clone());
                map.insert(server_host(a), c);
            }
        }
        Client::with_credentials(self.registry_config(), Arc::new(StaticCredentials(map)))
            .map_err(EngineError::from)
    }

    /// `POST /auth`: checks the credentials against the registry (`GET /v2/`). The CLI
    /// stores them itself on success.
    pub async fn auth(&self, auth: AuthConfig) -> Result<AuthResponse> {
        let host = server_host(&auth);
        let creds = credentials(&auth)
            .ok_or_else(|| EngineError::invalid("username and password are required"))?;
        let client = Client::new(self.registry_config()).map_err(EngineError::from)?;
        client.login(&host, creds).await.map_err(|e| {
            if e.is_unauthorized() || matches!(&e, berth_registry::RegistryError::Status { status, .. } if *status == 401) {
                EngineError::unauthorized(format!("login attempt to {host} failed: {e}"))
            } else {
                EngineError::from(e)
            }
        })?;
        Ok(AuthResponse {
            status: "Login Succeeded".into(),
            identity_token: String::new(),
        })
    }

    /// `GET /images/search`: `term` may name a registry (`127.0.0.1:5000/busy`), else
    /// Docker Hub; filters `is-official`, `stars`.
    pub async fn image_search(
        &self,
        auth: Option<&AuthConfig>,
        opts: ImageSearchOptions,
    ) -> Result<Vec<ImageSearchResult>> {
        if let Some(bad) = opts
            .filters
            .keys()
            .find(|k| !["is-official", "is-automated", "stars"].contains(k))
        {
            return Err(EngineError::invalid(format!("invalid filter '{bad}'")));
        }
        let (registry, term) = match opts.term.split_once('/') {
            Some((host, rest))
                if host.contains('.') || host.contains(':') || host == "localhost" =>
            {
                (host.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), opts.term.clone()),
        };
        let limit = opts.limit.filter(|l| *l > 0).unwrap_or(25);
        if limit > 100 {
            return Err(EngineError::invalid(format!(
                "limit {limit} is outside the range of [1, 100]"
            )));
        }
        let client = self.client(auth, &registry)?;
        let found = client
            .search(&registry, &term, u32::try_from(limit).unwrap_or(25))
            .await
            .map_err(EngineError::from)?;
        let min_stars: i64 = match opts.filters.get("stars") {
            [] => 0,
            [v, ..] => v
                .parse()
                .map_err(|_| EngineError::invalid(format!("invalid filter 'stars={v}'")))?,
        };
        let official = opts
            .filters
            .get("is-official")
            .first()
            .map(|v| v == "true" || v == "1");
        Ok(found
            .results
            .into_iter()
            .filter(|r| i64::try_from(r.star_count).unwrap_or(i64::MAX) >= min_stars)
            .filter(|r| official.is_none_or(|o| r.is_official == o))
            .map(|r| ImageSearchResult {
                description: r.description,
                is_official: r.is_official,
                is_automated: r.is_automated,
                name: if registry == DOCKER_HUB {
                    r.name
                } else {
                    format!("{registry}/{}", r.name)
                },
                star_count: i64::try_from(r.star_count).unwrap_or(i64::MAX),
            })
            .collect())
    }
}
