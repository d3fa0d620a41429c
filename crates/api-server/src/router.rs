//! Routing: version prefix → (method, path) → query/body parsing → engine call → response.

use std::sync::Arc;

use base64::Engine as _;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, SERVER};
use hyper::{Method, Request, Response, StatusCode};

use berth_api_types::{AuthConfig, ContainerCreateRequest, ExecStartConfig};

use crate::body::{ApiBody, RequestBody};
use crate::compat;
use crate::engine::*;
use crate::error::{ApiError, ApiResult};
use crate::hijack;
use crate::query::Query;
use crate::response::{self, empty, json, json_body, ok_json, optional_json_body};
use crate::swarm;
use crate::version::{negotiate, split_version};
use crate::ServerConfig;

/// Everything a handler needs about one request.
struct Call<'a> {
    engine: &'a dyn Engine,
    ctx: RequestContext,
    query: Query,
    method: Method,
    req: Request<Incoming>,
}

/// Handles one request end to end; never fails (errors become Docker error responses).
pub async fn handle(
    engine: Arc<dyn Engine>,
    config: Arc<ServerConfig>,
    req: Request<Incoming>,
) -> Response<ApiBody> {
    let path = req.uri().path().to_string();
    let (requested, rest) = split_version(&path);
    let mut resp = match negotiate(requested) {
        Err(e) => response::error(&e),
        Ok(version) => {
            let ctx = RequestContext {
                api_version: version,
                registry_auth: registry_auth(req.headers()),
            };
            let call = Call {
                engine: engine.as_ref(),
                ctx,
                query: Query::parse(req.uri().query()),
                method: req.method().clone(),
                req,
            };
            match route(call, rest, &config).await {
                Ok(r) => r,
                Err(e) => response::error(&e),
            }
        }
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&config.server_header) {
        h.insert(SERVER, v);
    }
    h.insert(
        HeaderName::from_static("api-version"),
        HeaderValue::from_static(berth_api_types::MAX_API_VERSION),
    );
    if let Ok(v) = HeaderValue::from_str(&config.os_type) {
        h.insert(HeaderName::from_static("ostype"), v);
    }
    resp
}

/// Decodes `X-Registry-Auth` (base64url JSON, padding optional); undecodable means none.
fn registry_auth(headers: &hyper::HeaderMap) -> Option<AuthConfig> {
    let raw = headers.get("x-registry-auth")?.to_str().ok()?.trim();
    if raw.is_empty() {
        return None;
    }
    let trimmed = raw.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .ok()?;
    berth_api_types::json::from_slice(&bytes).ok()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn not_found_page() -> ApiError {
    ApiError::not_found("page not found")
}

async fn route(call: Call<'_>, path: &str, config: &ServerConfig) -> ApiResult<Response<ApiBody>> {
    let trimmed = path.trim_end_matches('/');
    if let Some(rest) = trimmed.strip_prefix("/images/") {
        return images_named(call, rest).await;
    }
    let segs: Vec<String> = trimmed.split('/').skip(1).map(percent_decode).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = call.method.clone();
    match (m, segs.as_slice()) {
        (Method::GET | Method::HEAD, ["_ping"]) => Ok(ping(&call.method, config)),
        (Method::GET, ["version"]) => version(call, config).await,
        (Method::GET, ["info"]) => {
            let info = call.engine.info(&call.ctx).await?;
            ok_json(&compat::info(info, call.ctx.api_version))
        }
        (Method::GET, ["system", "df"]) => {
            let types = call.query.all("type");
            let df = call.engine.system_df(&call.ctx, types).await?;
            ok_json(&compat::system_df(df, call.ctx.api_version))
        }
        (Method::GET, ["events"]) => {
            let opts = EventsOptions {
                since: call.query.string("since"),
                until: call.query.string("until"),
                filters: call.query.filters()?,
            };
            let rx = call.engine.events(&call.ctx, opts).await?;
            Ok(response::stream_json(rx))
        }
        (Method::POST, ["auth"]) => {
            let auth: AuthConfig = json_body(call.req.into_body()).await?;
            ok_json(&call.engine.auth(&call.ctx, auth).await?)
        }
        (Method::POST, ["commit"]) => commit(call).await,
        (Method::POST, ["build"]) => {
            let opts = crate::build::parse_build_options(&call.query, call.req.headers())?;
            let body = RequestBody::new(call.req.into_body());
            let rx = call.engine.build(&call.ctx, opts, body).await?;
            Ok(response::stream_json(rx))
        }
        (Method::POST, ["build", "prune"]) => {
            let opts = crate::build::parse_build_prune_options(&call.query)?;
            ok_json(&call.engine.build_prune(&call.ctx, opts).await?)
        }
        (_, ["containers", ..]) => containers(call, &segs[1..]).await,
        (_, ["exec", id, action]) => exec(call, id, action).await,
        (_, ["volumes", ..]) => volumes(call, &segs[1..]).await,
        (_, ["networks", ..]) => networks(call, &segs[1..]).await,
        (m, [area, ..]) if swarm::is_swarm_area(area) => {
            Err(swarm::not_in_swarm(&m, &segs, &call.query))
        }
        _ => Err(not_found_page()),
    }
}

fn ping(method: &Method, config: &ServerConfig) -> Response<ApiBody> {
    let body = if method == Method::HEAD {
        ApiBody::Empty
    } else {
        ApiBody::full("OK")
    };
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        HeaderName::from_static("builder-version"),
        HeaderValue::from_str(&config.builder_version).unwrap_or(HeaderValue::from_static("1")),
    );
    h.insert(
        HeaderName::from_static("docker-experimental"),
        HeaderValue::from_static(if config.experimental { "true" } else { "false" }),
    );
    h.insert(
        HeaderName::from_static("swarm"),
        HeaderValue::from_static("inactive"),
    );
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

async fn version(call: Call<'_>, config: &ServerConfig) -> ApiResult<Response<ApiBody>> {
    let v = call.engine.version(&call.ctx).await?;
    ok_json(&crate::system::complete_version(v, config.experimental))
}

fn dimensions(q: &Query) -> ApiResult<(u16, u16)> {
    let dim = |k: &str| -> ApiResult<u16> {
        let v = q.int(k)?.unwrap_or(0);
        u16::try_from(v).map_err(|_| ApiError::invalid(format!("invalid {k}: {v}")))
    };
    Ok((dim("h")?, dim("w")?))
}

fn stop_options(q: &Query) -> ApiResult<StopOptions> {
    Ok(StopOptions {
        signal: q.string("signal"),
        timeout: q.int("t")?,
    })
}

async fn containers(call: Call<'_>, segs: &[&str]) -> ApiResult<Response<ApiBody>> {
    let e = call.engine;
    let ctx = &call.ctx;
    let q = &call.query;
    match (&call.method, segs) {
        (&Method::GET, ["json"]) => {
            let opts = ContainerListOptions {
                all: q.bool("all"),
                limit: q.int("limit")?,
                size: q.bool("size"),
                filters: q.filters()?,
            };
            ok_json(&compat::container_list(
                e.container_list(ctx, opts).await?,
                ctx.api_version,
            ))
        }
        (&Method::POST, ["create"]) => {
            let opts = ContainerCreateOptions {
                name: q.string("name"),
                platform: q.string("platform"),
            };
            let mut body: ContainerCreateRequest = json_body(call.req.into_body()).await?;
            compat::container_create(&mut body, ctx.api_version)?;
            let created = e.container_create(ctx, opts, body).await?;
            Ok(json(StatusCode::CREATED, &created))
        }
        (&Method::POST, ["prune"]) => ok_json(&e.container_prune(ctx, q.filters()?).await?),
        // Docker's route is `/containers/{name:.*}`: a legacy link's name has a slash
        // (`DELETE /containers/app/db?link=1`).
        (&Method::DELETE, [_, ..]) => {
            let opts = ContainerDeleteOptions {
                force: q.bool("force"),
                volumes: q.bool("v"),
                link: q.bool("link"),
            };
            e.container_delete(ctx, &segs.join("/"), opts).await?;
            empty(StatusCode::NO_CONTENT)
        }
        (&Method::GET, [id, "json"]) => {
            let c = e.container_inspect(ctx, id, q.bool("size")).await?;
            ok_json(&compat::container_inspect(c, ctx.api_version))
        }
        (&Method::GET, [id, "top"]) => {
            ok_json(&e.container_top(ctx, id, q.string("ps_args")).await?)
        }
        (&Method::GET, [id, "stats"]) => {
            let opts = StatsOptions {
                stream: q.bool_or("stream", true),
                one_shot: q.bool("one-shot"),
            };
            if opts.one_shot && opts.stream {
                return Err(ApiError::invalid(
                    "cannot have stream=true and one-shot=true",
                ));
            }
            let rx = e.container_stats(ctx, id, opts).await?;
            Ok(response::stream_json(rx))
        }
        (&Method::GET, [id, "changes"]) => ok_json(&e.container_changes(ctx, id).await?),
        (&Method::GET, [id, "export"]) => {
            let rx = e.container_export(ctx, id).await?;
            Ok(response::stream_bytes("application/octet-stream", rx))
        }
        (&Method::GET, [id, "logs"]) => {
            let opts = LogsOptions {
                follow: q.bool("follow"),
                stdout: q.bool("stdout"),
                stderr: q.bool("stderr"),
                since: q.string("since"),
                until: q.string("until"),
                timestamps: q.bool("timestamps"),
                tail: q.string("tail"),
            };
            if !opts.stdout && !opts.stderr {
                return Err(ApiError::invalid(
                    "Bad parameters: you must choose at least one stream",
                ));
            }
            let logs = e.container_logs(ctx, id, opts).await?;
            Ok(response::stream_logs(logs, ctx.api_version.at_least(42)))
        }
        (&Method::POST, [id, "resize"]) => {
            let (h, w) = dimensions(q)?;
            e.container_resize(ctx, id, h, w).await?;
            empty(StatusCode::OK)
        }
        (&Method::POST, [id, "start"]) => {
            e.container_start(ctx, id, q.string("detachKeys")).await?;
            empty(StatusCode::NO_CONTENT)
        }
        (&Method::POST, [id, "stop"]) => {
            e.container_stop(ctx, id, stop_options(q)?).await?;
            empty(StatusCode::NO_CONTENT)
        }
        (&Method::POST, [id, "restart"]) => {
            e.container_restart(ctx, id, stop_options(q)?).await?;
            empty(StatusCode::NO_CONTENT)
        }
        (&Method::POST, [id, "kill"]) => {
            e.container_kill(ctx, id, q.string("signal")).await?;
            empty(StatusCode::NO_CONTENT)
        }
        (&Method::POST, [id, "pause"]) => {
            e.container_pause(ctx, id).await?;
            empty(StatusCode::NO_CONTENT)
        }
        (&Method::POST, [id, "unpause"]) => {
            e.container_unpause(ctx, id).await?;
            empty(StatusCode::NO_CONTENT)
        }
        (&Method::POST, [id, "rename"]) => {
            let name = q
                .string("name")
                .ok_or_else(|| ApiError::invalid("name is required"))?;
            e.container_rename(ctx, id, &name).await?;
            empty(StatusCode::NO_CONTENT)
        }
        (&Method::POST, [id, "update"]) => {
            let id = id.to_string();
            let mut update = json_body(call.req.into_body()).await?;
            compat::container_update(&mut update, ctx.api_version);
            ok_json(&e.container_update(ctx, &id, update).await?)
        }
        (&Method::POST, [id, "wait"]) => {
            let condition = match q.get("condition").unwrap_or("") {
                "" | "not-running" => WaitCondition::NotRunning,
                "next-exit" => WaitCondition::NextExit,
                "removed" => WaitCondition::Removed,
                other => return Err(ApiError::invalid(format!("invalid condition: \"{other}\""))),
            };
            let fut = e.container_wait(ctx, id, condition).await?;
            let (tx, body) = ApiBody::channel();
            tokio::spawn(async move {
                let result = fut.await;
                let _ = tx.send(Ok(crate::stream::json_line(&result))).await;
            });
            let mut resp = Response::new(body);
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Ok(resp)
        }
        (&Method::POST, [id, "attach"]) => {
            let opts = AttachOptions {
                stream: q.bool("stream"),
                logs: q.bool("logs"),
                stdin: q.bool("stdin"),
                stdout: q.bool("stdout"),
                stderr: q.bool("stderr"),
                detach_keys: q.string("detachKeys"),
            };
            let id = id.to_string();
            let mut req = call.req;
            let upgrade =
                hijack::wants_upgrade(req.headers()).then(|| hyper::upgrade::on(&mut req));
            let session = e.container_attach(ctx, &id, opts).await?;
            Ok(hijack::respond(
                session,
                upgrade,
                RequestBody::new(req.into_body()),
                ctx.api_version.at_least(42),
            ))
        }
        (&Method::POST, [id, "exec"]) => {
            let id = id.to_string();
            let mut config = json_body(call.req.into_body()).await?;
            compat::exec_create(&mut config, ctx.api_version);
            Ok(json(
                StatusCode::CREATED,
                &e.exec_create(ctx, &id, config).await?,
            ))
        }
        (&Method::HEAD, [id, "archive"]) => {
            let path = q
                .string("path")
                .ok_or_else(|| ApiError::invalid("path is required"))?;
            let stat = e.container_archive_stat(ctx, id, &path).await?;
            let mut resp = empty(StatusCode::OK)?;
            insert_path_stat(&mut resp, &stat);
            Ok(resp)
        }
        (&Method::GET, [id, "archive"]) => {
            let path = q
                .string("path")
                .ok_or_else(|| ApiError::invalid("path is required"))?;
            let (stat, rx) = e.container_archive_get(ctx, id, &path).await?;
            let mut resp = response::stream_bytes("application/x-tar", rx);
            insert_path_stat(&mut resp, &stat);
            Ok(resp)
        }
        (&Method::PUT, [id, "archive"]) => {
            let opts = ArchivePutOptions {
                path: q
                    .string("path")
                    .ok_or_else(|| ApiError::invalid("path is required"))?,
                no_overwrite_dir_non_dir: q.bool("noOverwriteDirNonDir"),
                copy_uid_gid: q.bool("copyUIDGID"),
            };
            let id = id.to_string();
            let body = RequestBody::new(call.req.into_body());
            e.container_archive_put(ctx, &id, opts, body).await?;
            empty(StatusCode::OK)
        }
        _ => Err(not_found_page()),
    }
}

fn insert_path_stat(resp: &mut Response<ApiBody>, stat: &berth_api_types::ContainerPathStat) {
    let json = serde_json::to_vec(stat).unwrap_or_default();
    let encoded = base64::engine::general_purpose::STANDARD.encode(json);
    if let Ok(v) = HeaderValue::from_str(&encoded) {
        resp.headers_mut()
            .insert(HeaderName::from_static("x-docker-container-path-stat"), v);
    }
}

async fn exec(call: Call<'_>, id: &str, action: &str) -> ApiResult<Response<ApiBody>> {
    let e = call.engine;
    let ctx = &call.ctx;
    match (&call.method, action) {
        (&Method::GET, "json") => ok_json(&e.exec_inspect(ctx, id).await?),
        (&Method::POST, "resize") => {
            let (h, w) = dimensions(&call.query)?;
            e.exec_resize(ctx, id, h, w).await?;
            empty(StatusCode::OK)
        }
        (&Method::POST, "start") => {
            let mut req = call.req;
            let upgrade =
                hijack::wants_upgrade(req.headers()).then(|| hyper::upgrade::on(&mut req));
            // The start config is the body; a non-upgrade client's remaining body is stdin,
            // so only the JSON document is read when the request is an upgrade.
            let config: ExecStartConfig = optional_json_body(req.into_body())
                .await?
                .unwrap_or_default();
            match e.exec_start(ctx, id, config).await? {
                None => empty(StatusCode::OK),
                Some(session) => Ok(hijack::respond(
                    session,
                    upgrade,
                    RequestBody::empty(),
                    ctx.api_version.at_least(42),
                )),
            }
        }
        _ => Err(not_found_page()),
    }
}

async fn commit(call: Call<'_>) -> ApiResult<Response<ApiBody>> {
    let q = &call.query;
    let opts = CommitOptions {
        container: q
            .string("container")
            .ok_or_else(|| ApiError::invalid("container is required"))?,
        repo: q.string("repo"),
        tag: q.string("tag"),
        comment: q.string("comment"),
        author: q.string("author"),
        pause: q.bool_or("pause", true),
        changes: q
            .all("changes")
            .into_iter()
            .filter(|c| !c.is_empty())
            .collect(),
    };
    let config = optional_json_body(call.req.into_body()).await?;
    let id = call.engine.image_commit(&call.ctx, opts, config).await?;
    Ok(json(StatusCode::CREATED, &id))
}

/// Everything under `/images/`: fixed endpoints first, then `{name}` (which may contain '/').
async fn images_named(call: Call<'_>, rest: &str) -> ApiResult<Response<ApiBody>> {
    let e = call.engine;
    let ctx = &call.ctx;
    let q = &call.query;
    let method = call.method.clone();
    match (&method, rest) {
        (&Method::GET, "json") => {
            let opts = ImageListOptions {
                all: q.bool("all"),
                filters: q.filters()?,
                shared_size: q.bool("shared-size"),
                digests: q.bool("digests"),
            };
            let list = e.image_list(ctx, opts).await?;
            return ok_json(&compat::image_list(list, ctx.api_version));
        }
        (&Method::POST, "create") => {
            let opts = ImageCreateOptions {
                from_image: q.string("fromImage"),
                from_src: q.string("fromSrc"),
                repo: q.string("repo"),
                tag: q.string("tag"),
                message: q.string("message"),
                changes: q
                    .all("changes")
                    .into_iter()
                    .filter(|c| !c.is_empty())
                    .collect(),
                platform: q.string("platform"),
            };
            if opts.from_image.is_none() && opts.from_src.is_none() {
                return Err(ApiError::invalid("fromImage or fromSrc is required"));
            }
            let body = RequestBody::new(call.req.into_body());
            let rx = e.image_create(ctx, opts, body).await?;
            return Ok(response::stream_json(rx));
        }
        (&Method::GET, "search") => {
            let opts = ImageSearchOptions {
                term: q
                    .string("term")
                    .ok_or_else(|| ApiError::invalid("term is required"))?,
                limit: q.int("limit")?,
                filters: q.filters()?,
            };
            return ok_json(&e.image_search(ctx, opts).await?);
        }
        (&Method::POST, "prune") => return ok_json(&e.image_prune(ctx, q.filters()?).await?),
        (&Method::GET, "get") => {
            let names = q.all("names");
            let rx = e.image_save(ctx, names).await?;
            return Ok(response::stream_bytes("application/x-tar", rx));
        }
        (&Method::POST, "load") => {
            let body = RequestBody::new(call.req.into_body());
            let rx = e.image_load(ctx, q.bool("quiet"), body).await?;
            return Ok(response::stream_json(rx));
        }
        _ => {}
    }
    if method == Method::DELETE {
        let name = percent_decode(rest);
        let opts = ImageDeleteOptions {
            force: q.bool("force"),
            noprune: q.bool("noprune"),
        };
        return ok_json(&e.image_delete(ctx, &name, opts).await?);
    }
    let Some((name, action)) = rest.rsplit_once('/') else {
        return Err(not_found_page());
    };
    let name = percent_decode(name);
    match (&method, action) {
        (&Method::GET, "json") => {
            let i = e.image_inspect(ctx, &name).await?;
            ok_json(&compat::image_inspect(i, ctx.api_version))
        }
        (&Method::GET, "history") => ok_json(&e.image_history(ctx, &name).await?),
        (&Method::POST, "push") => {
            let rx = e.image_push(ctx, &name, q.string("tag")).await?;
            Ok(response::stream_json(rx))
        }
        (&Method::POST, "tag") => {
            let repo = q
                .string("repo")
                .ok_or_else(|| ApiError::invalid("repo is required"))?;
            e.image_tag(ctx, &name, &repo, q.string("tag")).await?;
            empty(StatusCode::CREATED)
        }
        (&Method::GET, "get") => {
            let rx = e.image_save(ctx, vec![name]).await?;
            Ok(response::stream_bytes("application/x-tar", rx))
        }
        _ => Err(not_found_page()),
    }
}

async fn volumes(call: Call<'_>, segs: &[&str]) -> ApiResult<Response<ApiBody>> {
    let e = call.engine;
    let ctx = &call.ctx;
    let q = &call.query;
    match (&call.method, segs) {
        (&Method::GET, []) => ok_json(&e.volume_list(ctx, q.filters()?).await?),
        (&Method::POST, ["create"]) => {
            let opts = json_body(call.req.into_body()).await?;
            Ok(json(
                StatusCode::CREATED,
                &e.volume_create(ctx, opts).await?,
            ))
        }
        (&Method::POST, ["prune"]) => ok_json(&e.volume_prune(ctx, q.filters()?).await?),
        (&Method::GET, [name]) => ok_json(&e.volume_inspect(ctx, name).await?),
        (&Method::DELETE, [name]) => {
            e.volume_delete(ctx, name, q.bool("force")).await?;
            empty(StatusCode::NO_CONTENT)
        }
        _ => Err(not_found_page()),
    }
}

async fn networks(call: Call<'_>, segs: &[&str]) -> ApiResult<Response<ApiBody>> {
    let e = call.engine;
    let ctx = &call.ctx;
    let q = &call.query;
    match (&call.method, segs) {
        (&Method::GET, []) => ok_json(&e.network_list(ctx, q.filters()?).await?),
        (&Method::POST, ["create"]) => {
            let req = json_body(call.req.into_body()).await?;
            Ok(json(
                StatusCode::CREATED,
                &e.network_create(ctx, req).await?,
            ))
        }
        (&Method::POST, ["prune"]) => ok_json(&e.network_prune(ctx, q.filters()?).await?),
        (&Method::GET, [id]) => ok_json(&e.network_inspect(ctx, id).await?),
        (&Method::DELETE, [id]) => {
            e.network_delete(ctx, id).await?;
            empty(StatusCode::NO_CONTENT)
        }
        (&Method::POST, [id, "connect"]) => {
            let id = id.to_string();
            let req = json_body(call.req.into_body()).await?;
            e.network_connect(ctx, &id, req).await?;
            empty(StatusCode::OK)
        }
        (&Method::POST, [id, "disconnect"]) => {
            let id = id.to_string();
            let req = json_body(call.req.into_body()).await?;
            e.network_disconnect(ctx, &id, req).await?;
            empty(StatusCode::OK)
        }
        _ => Err(not_found_page()),
    }
}
