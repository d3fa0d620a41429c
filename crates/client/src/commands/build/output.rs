//! `-o type=docker|local|tar|oci[,dest=…]`: where the built image goes. `docker` keeps it in
//! the daemon (with `dest=`, also `docker save`s it to a file); `oci` writes the daemon's
//! save (an OCI image layout tar); `local` and `tar` export the image's filesystem (a
//! created-not-started container's export), into a directory or a tar file (`-` = stdout).
//! For the non-docker outputs an untagged image is removed from the daemon afterwards.

use hyper::Method;

use super::progress::Renderer;
use super::Ctx;
use crate::error::{CliError, CliResult};
use crate::transport::{next_chunk, seg};

/// One parsed `--output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Docker { dest: Option<String> },
    Local { dest: String },
    Tar { dest: String },
    Oci { dest: String },
}

/// Parses the `--output` flags (one at most, as the docker driver allows).
pub fn parse(list: &[String], load: bool) -> CliResult<Output> {
    if list.len() > 1 {
        return Err(CliError::msg(
            "multiple outputs are not supported by the docker driver",
        ));
    }
    let Some(spec) = list.first() else {
        return Ok(Output::Docker { dest: None });
    };
    if load {
        return Err(CliError::msg("--load conflicts with --output"));
    }
    if !spec.contains('=') {
        return Ok(if spec == "-" {
            Output::Tar { dest: "-".into() }
        } else {
            Output::Local { dest: spec.clone() }
        });
    }
    let mut kind = None;
    let mut dest = None;
    for part in spec.split(',') {
        match part.split_once('=') {
            Some(("type", v)) => kind = Some(v.to_string()),
            Some(("dest", v)) => dest = Some(v.to_string()),
            Some(("name", _)) => {}
            _ => return Err(CliError::msg(format!("invalid output {spec:?}"))),
        }
    }
    let need = |dest: Option<String>, t: &str| {
        dest.ok_or_else(|| CliError::msg(format!("dest is required for {t} exporter")))
    };
    match kind.as_deref().unwrap_or("local") {
        "docker" => Ok(Output::Docker { dest }),
        "local" => Ok(Output::Local {
            dest: need(dest, "local")?,
        }),
        "tar" => Ok(Output::Tar {
            dest: need(dest, "tar")?,
        }),
        "oci" => Ok(Output::Oci {
            dest: need(dest, "oci")?,
        }),
        other => Err(CliError::msg(format!(
            "output type {other:?} is not supported by berth build (docker, local, tar, oci)"
        ))),
    }
}

async fn write_stream(resp: hyper::Response<hyper::body::Incoming>, dest: &str) -> CliResult<()> {
    use std::io::Write;
    let mut w: Box<dyn Write> = if dest == "-" {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::fs::File::create(dest).map_err(|e| CliError::msg(format!("{dest}: {e}")))?)
    };
    let mut body = resp.into_body();
    while let Some(c) = next_chunk(&mut body).await? {
        w.write_all(&c)?;
    }
    w.flush()?;
    Ok(())
}

/// Sends the built image `id` where `output` says.
pub async fn export(
    ctx: &Ctx,
    output: &Output,
    id: &str,
    tags: &[String],
    r: &mut Renderer,
    vertex: usize,
) -> CliResult<()> {
    match output {
        Output::Docker { dest: None } => Ok(()),
        Output::Docker { dest: Some(dest) } | Output::Oci { dest } => {
            r.note(vertex, format!("exporting to {dest}"));
            let name = tags.first().cloned().unwrap_or_else(|| id.to_string());
            let resp = ctx
                .client
                .request(
                    Method::GET,
                    &format!("/images/{}/get", seg(&name)),
                    None,
                    false,
                    &[],
                )
                .await?;
            write_stream(resp, dest).await?;
            drop_untagged(ctx, id, tags, output).await;
            Ok(())
        }
        Output::Local { dest } | Output::Tar { dest } => {
            r.note(vertex, format!("copying files to {dest}"));
            let created: serde_json::Value = ctx
                .client
                .post_json(
                    "/containers/create",
                    &serde_json::json!({"Image": id, "Cmd": ["/"], "Entrypoint": [], "NetworkDisabled": true}),
                )
                .await?;
            let cid = created
                .get("Id")
                .and_then(|v| v.as_str())
                .ok_or_else(|| CliError::msg("container create gave no id"))?
                .to_string();
            let result = async {
                let resp = ctx
                    .client
                    .request(
                        Method::GET,
                        &format!("/containers/{cid}/export"),
                        None,
                        false,
                        &[],
                    )
                    .await?;
                if matches!(output, Output::Tar { .. }) {
                    return write_stream(resp, dest).await;
                }
                let data = crate::transport::read_all(resp).await?;
                std::fs::create_dir_all(dest).map_err(|e| CliError::msg(format!("{dest}: {e}")))?;
                let dir = std::fs::canonicalize(dest)?;
                crate::commands::cp::extract_into(&dir, &data[..])
            }
            .await;
            let _ = ctx
                .client
                .call(Method::DELETE, &format!("/containers/{cid}?force=1"), None)
                .await;
            drop_untagged(ctx, id, tags, output).await;
            result
        }
    }
}

async fn drop_untagged(ctx: &Ctx, id: &str, tags: &[String], output: &Output) {
    if tags.is_empty() && !matches!(output, Output::Docker { .. }) {
        let _ = ctx
            .client
            .call(Method::DELETE, &format!("/images/{}", seg(id)), None)
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_specs() {
        assert_eq!(parse(&[], false).unwrap(), Output::Docker { dest: None });
        assert_eq!(
            parse(&["out".into()], false).unwrap(),
            Output::Local { dest: "out".into() }
        );
        assert_eq!(
            parse(&["type=tar,dest=-".into()], false).unwrap(),
            Output::Tar { dest: "-".into() }
        );
        assert_eq!(
            parse(&["type=oci,dest=x.tar".into()], false).unwrap(),
            Output::Oci {
                dest: "x.tar".into()
            }
        );
        assert!(parse(&["type=registry".into()], false).is_err());
        assert!(parse(&["type=local".into()], false).is_err());
    }
}
