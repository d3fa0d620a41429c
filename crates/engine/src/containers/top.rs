//! `GET /containers/{id}/top`: the processes of a container, as `ps` shows them.

use crate::error::{EngineError, Result};
use berth_api_types::*;

use super::Containers;

impl Containers {
    /// `GET /containers/{id}/top`: host `ps -ef` rows of the container's processes.
    pub async fn top(
        &self,
        reference: &str,
        ps_args: Option<String>,
    ) -> Result<ContainerTopResponse> {
        let rec = self.lookup(reference)?;
        if !rec.state.running {
            return Err(EngineError::conflict(format!(
                "container {} is not running",
                rec.id
            )));
        }
        let out = self
            .helpers
            .runtime
            .command()
            .arg("--root")
            .arg(self.exec_root.join("runtime"))
            .args(["ps", "--format", "json", &rec.id])
            .output()
            .await
            .map_err(|e| EngineError::internal(e.to_string()))?;
        let pids: Vec<i64> =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| vec![rec.state.pid]);
        let args = ps_args
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "-ef".into());
        let ps = tokio::process::Command::new("ps")
            .args(args.split_whitespace())
            .output()
            .await
            .map_err(|e| EngineError::internal(format!("ps: {e}")))?;
        let text = String::from_utf8_lossy(&ps.stdout);
        let mut lines = text.lines();
        let header = lines.next().unwrap_or("");
        let titles: Vec<String> = header.split_whitespace().map(str::to_string).collect();
        let pid_col = titles
            .iter()
            .position(|t| t == "PID")
            .ok_or_else(|| EngineError::internal("Couldn't find PID field in ps output"))?;
        let mut processes = Vec::new();
        for l in lines {
            let fields: Vec<&str> = l.split_whitespace().collect();
            if fields.len() < titles.len() {
                continue;
            }
            if fields[pid_col]
                .parse::<i64>()
                .is_ok_and(|p| pids.contains(&p))
            {
                let mut row: Vec<String> = fields[..titles.len() - 1]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                row.push(fields[titles.len() - 1..].join(" "));
                processes.push(row);
            }
        }
        Ok(ContainerTopResponse { titles, processes })
    }
}
