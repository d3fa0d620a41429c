//! The fake builder: each Dockerfile line is a step.

use crate::build::BuildOptions;
use crate::types::{ErrorDetail, JsonMessage};
use crate::{ApiError, ApiResult};

/// Reads the context tar and answers its entry names and the messages of the build.
pub(super) fn run(
    context: &[u8],
    opts: &BuildOptions,
) -> ApiResult<(Vec<String>, Vec<JsonMessage>)> {
    let invalid = |e: std::io::Error| ApiError::invalid(e.to_string());
    let mut names = Vec::new();
    let mut dockerfile = String::new();
    let wanted = opts.dockerfile.as_deref().unwrap_or("Dockerfile");
    let mut ar = tar::Archive::new(context);
    for e in ar.entries().map_err(invalid)? {
        let mut e = e.map_err(invalid)?;
        let name = e.path().map_err(invalid)?.display().to_string();
        if name == wanted {
            std::io::Read::read_to_string(&mut e, &mut dockerfile).map_err(invalid)?;
        }
        names.push(name);
    }
    if dockerfile.contains("FORM") {
        return Err(ApiError::invalid(
            "dockerfile parse error on line 1: unknown instruction: FORM (did you mean FROM?)",
        ));
    }
    Ok((names, messages(&dockerfile, opts)))
}

/// `RUN exit N` fails with N after printing `boom`. Classic `stream` lines always,
/// berth's events when asked (`berthprogress=1`).
fn messages(dockerfile: &str, opts: &BuildOptions) -> Vec<JsonMessage> {
    let lines: Vec<&str> = dockerfile
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let total = lines.len();
    let mut out = Vec::new();
    let stream = |s: String| JsonMessage {
        stream: Some(s),
        ..Default::default()
    };
    let event = |v: serde_json::Value| JsonMessage {
        id: Some("berth.build.event".into()),
        aux: Some(v),
        ..Default::default()
    };
    let id = "sha256:5f0c2a7d1ce6c3d8b4e9a1f2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f";
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if !opts.quiet {
            out.push(stream(format!("Step {n}/{total} : {line}\n")));
        }
        if opts.events {
            out.push(event(serde_json::json!({"type": "step", "stage": 0, "number": n, "total": total, "text": line, "label": format!("[{n}/{total}]")})));
        }
        if let Some(code) = line.strip_prefix("RUN exit ") {
            let code: i64 = code.trim().parse().unwrap_or(1);
            if opts.events {
                out.push(event(
                    serde_json::json!({"type": "output", "stage": 0, "data": "boom\n"}),
                ));
            }
            out.push(stream("boom\n".into()));
            let message =
                format!("The command '/bin/sh -c exit {code}' returned a non-zero code: {code}");
            out.push(JsonMessage {
                error_detail: Some(ErrorDetail {
                    code: Some(code),
                    message: message.clone(),
                }),
                error: Some(message),
                ..Default::default()
            });
            return out;
        }
        if opts.events {
            out.push(event(serde_json::json!({"type": "step_done", "stage": 0, "id": id, "millis": 12, "cached": n > 1})));
        }
        if !opts.quiet {
            out.push(stream(format!(" ---> {}\n", &id[7..19])));
        }
    }
    out.push(JsonMessage {
        aux: Some(serde_json::json!({"ID": id})),
        ..Default::default()
    });
    if opts.quiet {
        out.push(stream(format!("{id}\n")));
    } else {
        out.push(stream(format!("Successfully built {}\n", &id[7..19])));
        for t in &opts.tags {
            out.push(stream(format!("Successfully tagged {t}\n")));
        }
    }
    out
}
