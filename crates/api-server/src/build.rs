//! `POST /build` and `POST /build/prune`: the query of Docker's classic builder protocol
//! (moby's `newImageBuildOptions`), parsed into [`BuildOptions`].
//!
//! berth extensions, used only by `berth build` (Docker's clients never send them):
//! `berthprogress=1` asks for every builder event as a `{"id":"berth.build.event","aux":…}`
//! line (step times, cached marks, output per step) beside the classic `stream` lines;
//! `X-Berth-Build-Secrets` (base64 JSON `{id: base64 content}`) and `X-Berth-Build-Ssh`
//! (base64 JSON `{id: agent socket path}`) carry `--secret` and `--ssh`, which the classic
//! protocol has no room for.

use std::collections::BTreeMap;

use base64::Engine as _;
use hyper::HeaderMap;

use crate::error::{ApiError, ApiResult};
use crate::query::Query;

pub use berth_api_types::query::{BuildOptions, BuildPruneOptions, BUILD_EVENT_ID};

fn json_param<T: serde::de::DeserializeOwned + Default>(q: &Query, key: &str) -> ApiResult<T> {
    match q.get(key).map(str::trim) {
        None | Some("") => Ok(T::default()),
        Some(v) => berth_api_types::json::from_str(v)
            .map_err(|e| ApiError::invalid(format!("invalid {key} value {v:?}: {e}"))),
    }
}

fn b64_json<T: serde::de::DeserializeOwned + Default>(
    headers: &HeaderMap,
    name: &str,
) -> ApiResult<T> {
    let Some(raw) = headers.get(name).and_then(|v| v.to_str().ok()) else {
        return Ok(T::default());
    };
    let raw = raw.trim().trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(raw))
        .map_err(|e| ApiError::invalid(format!("invalid {name} header: {e}")))?;
    berth_api_types::json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid(format!("invalid {name} header: {e}")))
}

/// Parses the query and headers of `POST /build` as moby does.
pub fn parse_build_options(q: &Query, headers: &HeaderMap) -> ApiResult<BuildOptions> {
    if !q.all("securityopt").iter().all(|s| s.is_empty()) {
        return Err(ApiError::invalid(
            "The daemon on this platform does not support setting security options on build",
        ));
    }
    if q.get("version").is_some_and(|v| v == "2") {
        return Err(ApiError::invalid(
            "BuildKit is not supported by this daemon: use the classic builder (version 1)",
        ));
    }
    let remove = if q.bool("forcerm") || q.string("rm").is_none() {
        true
    } else {
        q.bool("rm")
    };
    let shm_size = q.int("shmsize")?;
    if shm_size.is_some_and(|s| s < 0) {
        return Err(ApiError::invalid("shmsize must be a positive number"));
    }
    let secrets: BTreeMap<String, String> = b64_json(headers, "x-berth-build-secrets")?;
    let secrets = secrets
        .into_iter()
        .map(|(k, v)| {
            base64::engine::general_purpose::STANDARD
                .decode(v.as_bytes())
                .map(|d| (k.clone(), d))
                .map_err(|e| ApiError::invalid(format!("invalid secret {k}: {e}")))
        })
        .collect::<ApiResult<_>>()?;
    Ok(BuildOptions {
        tags: q.all("t").into_iter().filter(|t| !t.is_empty()).collect(),
        dockerfile: q.string("dockerfile"),
        build_args: json_param(q, "buildargs")?,
        labels: json_param(q, "labels")?,
        target: q.string("target"),
        no_cache: q.bool("nocache"),
        pull: q.bool("pull"),
        remove,
        force_remove: q.bool("forcerm"),
        quiet: q.bool("q"),
        cache_from: json_param(q, "cachefrom")?,
        network_mode: q.string("networkmode"),
        extra_hosts: q
            .all("extrahosts")
            .iter()
            .flat_map(|h| h.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect(),
        shm_size,
        memory: q.int("memory")?,
        memory_swap: q.int("memswap")?,
        cpu_shares: q.int("cpushares")?,
        cpuset_cpus: q.string("cpusetcpus"),
        platform: q.string("platform"),
        remote: q.string("remote"),
        registry_config: headers
            .get("x-registry-config")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .filter(|v| !v.is_empty()),
        events: q.bool("berthprogress"),
        secrets,
        ssh: b64_json(headers, "x-berth-build-ssh")?,
    })
}

/// Parses the query of `POST /build/prune`; filters other than `until` and `id` are refused
/// (as Docker refuses unknown ones).
pub fn parse_build_prune_options(q: &Query) -> ApiResult<BuildPruneOptions> {
    let filters = q.filters()?;
    let mut until = None;
    let mut ids = Vec::new();
    for (key, values) in &filters.0 {
        let key = key.as_str();
        match key {
            "until" => {
                for v in values {
                    until = Some(parse_until(v)?);
                }
            }
            "id" => ids.extend(values.iter().cloned()),
            "type" | "description" | "inuse" | "shared" | "private" | "parent" => {
                return Err(ApiError::invalid(format!(
                    "filter {key:?} is not supported by berth's build cache"
                )))
            }
            other => {
                return Err(ApiError::invalid(format!("invalid filter '{other}'")));
            }
        }
    }
    let keep = q
        .int("keep-storage")?
        .or(q.int("reserved-space")?)
        .or(q.int("max-used-space")?);
    Ok(BuildPruneOptions {
        all: q.bool("all"),
        keep_storage: keep.filter(|k| *k > 0),
        until,
        ids,
    })
}

/// `until=` as Docker takes it for the build cache: a Go duration (`24h`, `1h30m`, `10s`),
/// in whole seconds; a negative one is refused.
fn parse_until(v: &str) -> ApiResult<u64> {
    berth_units::parse_go_duration(v.trim())
        .ok()
        .and_then(|nanos| u64::try_from(nanos / 1_000_000_000).ok())
        .ok_or_else(|| ApiError::invalid(format!("invalid until value {v:?}: not a duration")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_as_moby_reads_it() {
        let q = Query::parse(Some(
            "t=a:1&t=b&dockerfile=sub%2FDockerfile&buildargs=%7B%22A%22%3A%221%22%2C%22B%22%3Anull%7D&labels=%7B%22l%22%3A%22v%22%7D&q=1&cachefrom=%5B%22x%22%5D&extrahosts=h1%3A1.2.3.4&extrahosts=h2%3A5.6.7.8%2Ch3%3A9.9.9.9&shmsize=1024&version=1",
        ));
        let o = parse_build_options(&q, &HeaderMap::new()).unwrap();
        assert_eq!(o.tags, ["a:1", "b"]);
        assert_eq!(o.dockerfile.as_deref(), Some("sub/Dockerfile"));
        assert_eq!(o.build_args.get("A"), Some(&Some("1".into())));
        assert_eq!(o.build_args.get("B"), Some(&None));
        assert_eq!(o.labels.get("l").map(String::as_str), Some("v"));
        assert!(o.quiet && o.remove && !o.force_remove);
        assert_eq!(o.cache_from, ["x"]);
        assert_eq!(o.extra_hosts, ["h1:1.2.3.4", "h2:5.6.7.8", "h3:9.9.9.9"]);
        assert_eq!(o.shm_size, Some(1024));
        let o = parse_build_options(&Query::parse(Some("rm=0")), &HeaderMap::new()).unwrap();
        assert!(!o.remove);
        let o =
            parse_build_options(&Query::parse(Some("rm=0&forcerm=1")), &HeaderMap::new()).unwrap();
        assert!(o.remove && o.force_remove);
        assert!(
            parse_build_options(&Query::parse(Some("buildargs=nope")), &HeaderMap::new()).is_err()
        );
    }

    #[test]
    fn prune_query() {
        let q = Query::parse(Some(
            "all=1&keep-storage=1000&filters=%7B%22until%22%3A%7B%221h30m%22%3Atrue%7D%7D",
        ));
        let o = parse_build_prune_options(&q).unwrap();
        assert!(o.all);
        assert_eq!(o.keep_storage, Some(1000));
        assert_eq!(o.until, Some(5400));
        assert!(parse_until("10x").is_err());
        assert_eq!(parse_until("10s").unwrap(), 10);
    }
}
