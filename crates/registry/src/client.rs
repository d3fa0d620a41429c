//! [`Client`]: requests with authentication (anonymous, basic, bearer tokens), retries and
//! endpoint selection (mirrors, insecure registries). The verbs live in `pull`, `push` and
//! `catalog`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::{header, Method, Response, StatusCode};

use crate::challenge::Challenge;
use crate::credentials::{Anonymous, CredentialProvider, Credentials};
use crate::transport::{self, header_str, read_body, with_query, Req, Transport};
use crate::{Reference, RegistryConfig, RegistryError};

/// A registry client. Cheap to clone (shared connection pool and token cache); every
/// method is an independent future, so callers choose their own concurrency.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: RegistryConfig,
    transport: Transport,
    credentials: Arc<dyn CredentialProvider>,
    /// Per endpoint base URL: the challenge it answered with.
    schemes: Mutex<HashMap<String, Challenge>>,
    /// Per (endpoint, scopes): a bearer token and when to stop using it.
    tokens: Mutex<HashMap<(String, String), (String, Instant)>>,
}

/// Where to send requests for one registry: an API base URL and the host whose
/// credentials apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub base: String,
    pub credentials_host: String,
    pub is_mirror: bool,
}

impl Client {
    /// A client that uses no credentials.
    pub fn new(config: RegistryConfig) -> Result<Self, RegistryError> {
        Self::with_credentials(config, Arc::new(Anonymous))
    }

    /// A client that asks `credentials` for each registry's credentials.
    pub fn with_credentials(
        config: RegistryConfig,
        credentials: Arc<dyn CredentialProvider>,
    ) -> Result<Self, RegistryError> {
        let transport = Transport::new(&config.user_agent)?;
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                transport,
                credentials,
                schemes: Mutex::new(HashMap::new()),
                tokens: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &RegistryConfig {
        &self.inner.config
    }

    /// Checks credentials against a registry (`docker login`): `GET /v2/` must succeed with
    /// them (through the bearer-token flow when the registry asks for it).
    pub async fn login(
        &self,
        registry: &str,
        credentials: Credentials,
    ) -> Result<(), RegistryError> {
        let mut map = HashMap::new();
        map.insert(crate::credentials::config_key_host(registry), credentials);
        let probe = Client {
            inner: Arc::new(Inner {
                config: self.inner.config.clone(),
                transport: self.inner.transport.clone(),
                credentials: Arc::new(crate::credentials::StaticCredentials(map)),
                schemes: Mutex::new(HashMap::new()),
                tokens: Mutex::new(HashMap::new()),
            }),
        };
        let ep = probe.origin(registry);
        let url = format!("{}/v2/", ep.base);
        let (resp, url) = probe.request(&ep, &[], Req::new(Method::GET, url)).await?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(probe.error_for(resp, &url, registry).await)
    }

    /// The endpoints to try for a registry, mirrors first when `pull` and it is Docker Hub.
    pub(crate) fn endpoints(&self, registry: &str, pull: bool) -> Vec<Endpoint> {
        let mut out = Vec::new();
        if pull && registry == crate::reference::DOCKER_HUB {
            for m in &self.inner.config.mirrors {
                let base = m.trim_end_matches('/').to_owned();
                let host = transport::authority_of(&base)
                    .split("://")
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                out.push(Endpoint {
                    base,
                    credentials_host: host,
                    is_mirror: true,
                });
            }
        }
        out.push(self.origin(registry));
        out
    }

    pub(crate) fn origin(&self, registry: &str) -> Endpoint {
        Endpoint {
            base: self.inner.config.endpoint_base(registry),
            credentials_host: registry.to_owned(),
            is_mirror: false,
        }
    }

    /// Sends a request to an endpoint with authentication and retries; returns the final
    /// response (after redirects) and its URL. 401 is answered once by (re)authenticating.
    pub(crate) async fn request(
        &self,
        ep: &Endpoint,
        scopes: &[String],
        req: Req,
    ) -> Result<(Response<Incoming>, String), RegistryError> {
        let cfg = &self.inner.config;
        let mut attempt = 0;
        let mut reauthenticated = false;
        loop {
            attempt += 1;
            let auth = self.authorization(ep, scopes).await?;
            let result = self.inner.transport.send(&req, auth.as_deref()).await;
            let resp = match result {
                Err(e) if e.is_transient() && attempt < cfg.max_attempts => {
                    self.back_off(attempt, None).await;
                    continue;
                }
                Err(e) => return Err(e),
                Ok(r) => r,
            };
            let status = resp.0.status();
            if status == StatusCode::UNAUTHORIZED && !reauthenticated {
                reauthenticated = true;
                let challenges = header_str(&resp.0, header::WWW_AUTHENTICATE)
                    .map(|h| Challenge::parse(&h))
                    .unwrap_or_default();
                // Prefer bearer; fall back to basic.
                let chosen = challenges
                    .iter()
                    .find(|c| matches!(c, Challenge::Bearer { .. }))
                    .or_else(|| challenges.first())
                    .cloned();
                let Some(chosen) = chosen else {
                    return Ok(resp);
                };
                self.inner
                    .schemes
                    .lock()
                    .expect("schemes lock")
                    .insert(ep.base.clone(), chosen);
                self.inner
                    .tokens
                    .lock()
                    .expect("tokens lock")
                    .remove(&(ep.base.clone(), scopes.join(" ")));
                attempt -= 1;
                continue;
            }
            let transient = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
            if transient && attempt < cfg.max_attempts {
                let retry_after = header_str(&resp.0, header::RETRY_AFTER)
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s.min(10)));
                self.back_off(attempt, retry_after).await;
                continue;
            }
            return Ok(resp);
        }
    }

    pub(crate) async fn back_off(&self, attempt: u32, hint: Option<Duration>) {
        let base = self.inner.config.retry_delay;
        let delay = hint.unwrap_or_else(|| base.saturating_mul(1 << (attempt - 1).min(6)));
        tokio::time::sleep(delay).await;
    }

    /// Maps a non-success response to an error (401/403 → Unauthorized, 404 → NotFound).
    pub(crate) async fn error_for(
        &self,
        resp: Response<Incoming>,
        url: &str,
        what: &str,
    ) -> RegistryError {
        let status = resp.status();
        let err = transport::status_error(resp, url).await;
        let message = match &err {
            RegistryError::Status { message, .. } => message.clone(),
            _ => String::new(),
        };
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RegistryError::Unauthorized {
                registry: transport::authority_of(url),
                message: if message.is_empty() {
                    format!("{status} for {what}")
                } else {
                    message
                },
            },
            StatusCode::NOT_FOUND => RegistryError::NotFound {
                what: what.to_owned(),
            },
            _ => err,
        }
    }

    async fn credentials_for(&self, host: &str) -> Result<Option<Credentials>, RegistryError> {
        let provider = self.inner.credentials.clone();
        let host = host.to_owned();
        tokio::task::spawn_blocking(move || provider.get(&host))
            .await
            .map_err(|e| RegistryError::Credentials(format!("credential lookup: {e}")))?
    }

    /// The Authorization header for a request, if the endpoint asked for one before.
    async fn authorization(
        &self,
        ep: &Endpoint,
        scopes: &[String],
    ) -> Result<Option<String>, RegistryError> {
        let scheme = self
            .inner
            .schemes
            .lock()
            .expect("schemes lock")
            .get(&ep.base)
            .cloned();
        match scheme {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self
                .credentials_for(&ep.credentials_host)
                .await?
                .and_then(|c| c.basic_header())),
            Some(Challenge::Bearer { realm, service, .. }) => {
                let key = (ep.base.clone(), scopes.join(" "));
                if let Some((token, until)) =
                    self.inner.tokens.lock().expect("tokens lock").get(&key)
                {
                    if Instant::now() < *until {
                        return Ok(Some(format!("Bearer {token}")));
                    }
                }
                let (token, lifetime) = self
                    .fetch_token(ep, &realm, service.as_deref(), scopes)
                    .await?;
                // Stop using a token a little before it expires.
                let until = Instant::now() + lifetime.saturating_sub(Duration::from_secs(5));
                self.inner
                    .tokens
                    .lock()
                    .expect("tokens lock")
                    .insert(key, (token.clone(), until));
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// Asks a token server for a bearer token (Docker's token and OAuth2 refresh flows).
    async fn fetch_token(
        &self,
        ep: &Endpoint,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<(String, Duration), RegistryError> {
        let creds = self.credentials_for(&ep.credentials_host).await?;
        let req = match &creds {
            Some(Credentials::IdentityToken(refresh)) => {
                let mut form = format!(
                    "grant_type=refresh_token&client_id=berth&refresh_token={}",
                    transport::percent_encode(refresh)
                );
                if let Some(s) = service {
                    form.push_str(&format!("&service={}", transport::percent_encode(s)));
                }
                for s in scopes {
                    form.push_str(&format!("&scope={}", transport::percent_encode(s)));
                }
                Req::new(Method::POST, realm)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form)
            }
            _ => {
                let mut url = realm.to_owned();
                if let Some(s) = service {
                    url = with_query(&url, "service", s);
                }
                for s in scopes {
                    url = with_query(&url, "scope", s);
                }
                if let Some(Credentials::Basic { username, .. }) = &creds {
                    url = with_query(&url, "account", username);
                }
                let mut req = Req::new(Method::GET, url);
                if let Some(h) = creds.as_ref().and_then(Credentials::basic_header) {
                    req = req.header(header::AUTHORIZATION, h);
                }
                req
            }
        };
        let mut attempt = 0;
        let (resp, url) = loop {
            attempt += 1;
            match self.inner.transport.send(&req, None).await {
                Err(e) if e.is_transient() && attempt < self.inner.config.max_attempts => {
                    self.back_off(attempt, None).await;
                }
                Err(e) => return Err(e),
                Ok(r)
                    if r.0.status().is_server_error()
                        && attempt < self.inner.config.max_attempts =>
                {
                    self.back_off(attempt, None).await;
                }
                Ok(r) => break r,
            }
        };
        if !resp.status().is_success() {
            let status = resp.status();
            let body = read_body(resp, &url, 64 * 1024).await.unwrap_or_default();
            let detail = transport::registry_message(&body);
            return Err(RegistryError::Unauthorized {
                registry: ep.credentials_host.clone(),
                message: format!("token server {realm} answered {status}: {detail}"),
            });
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let body = read_body(resp, &url, 1 << 20).await?;
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
                url: url.clone(),
                message: format!("token response: {e}"),
            })?;
        let token = parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RegistryError::Protocol {
                url,
                message: "token response without a token".into(),
            })?;
        Ok((
            token,
            Duration::from_secs(parsed.expires_in.unwrap_or(60).max(10)),
        ))
    }
}

/// `repository:<repo>:<actions>`.
pub(crate) fn repo_scope(r: &Reference, actions: &str) -> String {
    format!("repository:{}:{actions}", r.repository())
}
