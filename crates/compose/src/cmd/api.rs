//! The Engine API calls compose makes, over berth's client (`berth-client`): the endpoint
//! comes from `DOCKER_HOST`, `DOCKER_CONTEXT` or config.json's current context, with TLS as
//! the docker CLI, so any Docker-API daemon (berth's or Docker's) works.

use std::path::PathBuf;

use berth_client::error::CliError;
use berth_client::host::{self, HostInputs};
use berth_client::transport::{query, seg, Client};
use hyper::Method;
use serde_json::{json, Value};

use super::labels::{ONEOFF, PROJECT};
use super::Failure;

impl From<CliError> for Failure {
    fn from(e: CliError) -> Self {
        Failure::msg(e)
    }
}

/// The API, with the negotiated client.
#[derive(Clone, Debug)]
pub struct Api {
    /// The client.
    pub client: Client,
    /// The docker config dir (auths, plugins).
    pub config_dir: PathBuf,
    /// The context name.
    pub context: String,
}

/// Result of API calls.
pub type ApiResult<T> = Result<T, CliError>;

impl Api {
    /// Connects as the docker CLI would (and negotiates the API version).
    pub async fn connect() -> Result<Api, Failure> {
        let config_dir = host::default_config_dir();
        let inputs = HostInputs {
            hosts: Vec::new(),
            context: None,
            env_host: std::env::var("DOCKER_HOST").ok(),
            env_context: std::env::var("DOCKER_CONTEXT").ok(),
            config_dir: config_dir.clone(),
        };
        let endpoint = host::resolve(&inputs)?;
        let tls = berth_client::tls::settings(&berth_client::tls::TlsInputs {
            tls: false,
            tlsverify: None,
            ca: None,
            cert: None,
            key: None,
            env_tls_verify: std::env::var("DOCKER_TLS_VERIFY").ok(),
            env_cert_path: std::env::var("DOCKER_CERT_PATH").ok(),
            config_dir: config_dir.clone(),
        });
        let mut client = Client::with_tls(&endpoint.host, tls.as_ref())?;
        match std::env::var("DOCKER_API_VERSION") {
            Ok(v) if !v.is_empty() => client.set_version(&v),
            _ => client.negotiate().await?,
        }
        Ok(Api {
            client,
            config_dir,
            context: endpoint.context,
        })
    }

    /// `GET` JSON.
    pub async fn get(&self, path: &str) -> ApiResult<Value> {
        self.client.get_json(path).await
    }

    /// `POST` a JSON body, JSON answer (`{}` for an empty one).
    pub async fn post(&self, path: &str, body: &Value) -> ApiResult<Value> {
        let b = self.client.call(Method::POST, path, Some(body)).await?;
        if b.is_empty() {
            return Ok(json!({}));
        }
        Ok(serde_json::from_slice(&b).unwrap_or(json!({})))
    }

    /// `POST` without body.
    pub async fn post_empty(&self, path: &str) -> ApiResult<()> {
        self.client.post(path).await
    }

    /// `DELETE`.
    pub async fn delete(&self, path: &str) -> ApiResult<()> {
        self.client
            .call(Method::DELETE, path, None)
            .await
            .map(|_| ())
    }

    /// Containers of a project (all states), optionally only one-off ones or not.
    pub async fn containers(
        &self,
        project: &str,
        oneoff: Option<bool>,
        all: bool,
    ) -> ApiResult<Vec<Value>> {
        let mut labels = vec![format!("{PROJECT}={project}")];
        match oneoff {
            Some(true) => labels.push(format!("{ONEOFF}=True")),
            Some(false) => labels.push(format!("{ONEOFF}=False")),
            None => {}
        }
        let filters = json!({ "label": labels }).to_string();
        let q = query(&[("all", all.to_string()), ("filters", filters)]);
        let v = self.get(&format!("/containers/json{q}")).await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// `GET /containers/{id}/json`.
    pub async fn inspect(&self, id: &str) -> ApiResult<Value> {
        self.get(&format!("/containers/{}/json", seg(id))).await
    }

    /// Networks with a label filter.
    pub async fn networks(&self, label: &str) -> ApiResult<Vec<Value>> {
        let filters = json!({ "label": [label] }).to_string();
        let v = self
            .get(&format!("/networks{}", query(&[("filters", filters)])))
            .await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// `GET /networks/{name}`, None when missing.
    pub async fn network(&self, name: &str) -> ApiResult<Option<Value>> {
        match self.get(&format!("/networks/{}", seg(name))).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /volumes/{name}`, None when missing.
    pub async fn volume(&self, name: &str) -> ApiResult<Option<Value>> {
        match self.get(&format!("/volumes/{}", seg(name))).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Volumes with a label filter.
    pub async fn volumes(&self, label: &str) -> ApiResult<Vec<Value>> {
        let filters = json!({ "label": [label] }).to_string();
        let v = self
            .get(&format!("/volumes{}", query(&[("filters", filters)])))
            .await?;
        Ok(v.get("Volumes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// `GET /images/{name}/json`, None when missing.
    pub async fn image(&self, name: &str) -> ApiResult<Option<Value>> {
        match self.get(&format!("/images/{}/json", seg(name))).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Pulls an image (`POST /images/create`), reading the progress stream to its end;
    /// an error message in the stream is an error.
    pub async fn pull(&self, image: &str, platform: &str) -> ApiResult<()> {
        let (name, tag) = split_tag(image);
        let mut q = vec![("fromImage", name.to_string()), ("tag", tag.to_string())];
        if !platform.is_empty() {
            q.push(("platform", platform.to_string()));
        }
        let headers = vec![(
            "X-Registry-Auth",
            berth_client::auth::registry_auth_header(&self.config_dir, image),
        )];
        let resp = self
            .client
            .request(
                Method::POST,
                &format!("/images/create{}", query(&q)),
                None,
                false,
                &headers,
            )
            .await?;
        let body = berth_client::transport::read_all(resp).await?;
        match berth_client::transport::stream_error(&body) {
            Some(message) => Err(CliError::Daemon {
                status: 500,
                message,
            }),
            None => Ok(()),
        }
    }
}

/// `name[:tag]` (a digest stays with the name; no tag is `latest`).
pub fn split_tag(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => (&image[..i], &image[i + 1..]),
        _ => (image, "latest"),
    }
}
