//! A project found by its name alone, as Compose v2 does when a command gets `-p NAME` and
//! no `-f` (its `projectOrName`/`toProjectName`): the services are rebuilt from the
//! containers carrying `com.docker.compose.project=NAME` (service label, image, labels,
//! `depends_on` from its label), the networks and volumes from those carrying the label
//! (`projectFromName` and `getProjectWithResources` in Compose's `pkg/compose`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cli::{Cli, Cmd};
use crate::file::model::{Dependency, Network, Project, Service, Volume};
use crate::file::Loaded;

use super::api::Api;
use super::labels::*;
use super::state::Container;
use super::Failure;

/// Which project a command works on: loaded from the compose files, or only its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Load the compose files.
    Files,
    /// Find the project on the daemon by this name.
    Name(String),
}

/// How a command finds its project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Only the name (Compose's `toProjectName`): `-p`, else `COMPOSE_PROJECT_NAME`, else
    /// the files.
    NameOnly,
    /// The file when there is one (Compose's `projectOrName`): with `-p` and no `-f`, the
    /// name alone; a file that does not load falls back to `COMPOSE_PROJECT_NAME`.
    ProjectOrName,
    /// Always the files (`up`, `run`, `build`, …).
    Files,
}

impl Group {
    /// The group of a command, as in Compose v2.40's `cmd/compose`.
    pub fn of(cmd: &Cmd) -> Group {
        match cmd {
            Cmd::Attach(_)
            | Cmd::Commit(_)
            | Cmd::Cp(_)
            | Cmd::Events(_)
            | Cmd::Exec(_)
            | Cmd::Export(_)
            | Cmd::Images { .. }
            | Cmd::Port { .. }
            | Cmd::Stats(_)
            | Cmd::Top { .. } => Group::NameOnly,
            Cmd::Down(_)
            | Cmd::Kill { .. }
            | Cmd::Logs(_)
            | Cmd::Pause { .. }
            | Cmd::Unpause { .. }
            | Cmd::Ps(_)
            | Cmd::Rm { .. }
            | Cmd::Restart { .. }
            | Cmd::Start { .. }
            | Cmd::Stop { .. }
            | Cmd::Volumes(_)
            | Cmd::Wait { .. } => Group::ProjectOrName,
            _ => Group::Files,
        }
    }

    /// Where the project comes from, given `-p`, `-f` and `COMPOSE_PROJECT_NAME`.
    pub fn source(self, cli: &Cli, env_name: Option<&str>) -> Source {
        self.source_of(cli.project_name.as_deref(), !cli.files.is_empty(), env_name)
    }

    fn source_of(
        self,
        project_name: Option<&str>,
        has_files: bool,
        env_name: Option<&str>,
    ) -> Source {
        let name = match self {
            Group::NameOnly => project_name.or(env_name),
            Group::ProjectOrName => project_name.filter(|_| !has_files),
            Group::Files => None,
        };
        match name.filter(|n| !n.is_empty()) {
            Some(n) => Source::Name(n.to_lowercase()),
            None => Source::Files,
        }
    }
}

/// The project as the daemon has it.
pub async fn load(api: &Api, name: &str) -> Result<Loaded, Failure> {
    let containers: Vec<Container> = api
        .containers(name, Some(false), true)
        .await?
        .iter()
        .map(Container::from_summary)
        .collect();
    let mut project = Project {
        name: name.to_string(),
        ..Project::default()
    };
    project.services = services(&containers);
    for v in api.networks(&format!("{PROJECT}={name}")).await? {
        let key = label(&v, NETWORK);
        let net = Network {
            name: str_of(&v, "Name"),
            driver: str_of(&v, "Driver"),
            labels: labels(&v),
            ..Network::default()
        };
        project.networks.insert(key, net);
    }
    for v in api.volumes(&format!("{PROJECT}={name}")).await? {
        let key = label(&v, VOLUME);
        let vol = Volume {
            name: str_of(&v, "Name"),
            driver: str_of(&v, "Driver"),
            labels: labels(&v),
            ..Volume::default()
        };
        project.volumes.insert(key, vol);
    }
    Ok(Loaded {
        project,
        unresolved: BTreeMap::new(),
        disabled: BTreeMap::new(),
        files: Vec::new(),
        working_dir: std::env::current_dir().unwrap_or_default(),
        env: BTreeMap::new(),
        profiles: Vec::new(),
        warnings: Vec::new(),
    })
}

/// One service per service label (a container without one is its own service, named as
/// the container), `depends_on` from the label (`svc:condition:restart`, not required).
fn services(containers: &[Container]) -> BTreeMap<String, Service> {
    let mut out: BTreeMap<String, Service> = BTreeMap::new();
    for c in containers {
        let name = if c.service.is_empty() {
            c.name.clone()
        } else {
            c.service.clone()
        };
        let s = out.entry(name.clone()).or_insert_with(|| Service {
            name: name.clone(),
            image: c.image.clone(),
            labels: c.labels.clone(),
            depends_on: depends_on(c.labels.get(DEPENDS_ON).map(String::as_str)),
            ..Service::default()
        });
        s.scale = Some(s.scale.unwrap_or(0) + 1);
    }
    out
}

/// `com.docker.compose.depends_on`: `a:service_started:false,b:service_healthy:true`.
fn depends_on(label: Option<&str>) -> BTreeMap<String, Dependency> {
    let mut out = BTreeMap::new();
    for dep in label
        .unwrap_or_default()
        .split(',')
        .filter(|d| !d.is_empty())
    {
        let mut parts = dep.split(':');
        let name = parts.next().unwrap_or_default().to_string();
        let condition = parts.next().unwrap_or("running_or_healthy").to_string();
        let restart = parts.next().is_none_or(|r| r == "true");
        out.insert(
            name,
            Dependency {
                condition,
                restart,
                required: false,
            },
        );
    }
    out
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.get("Labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn label(v: &Value, key: &str) -> String {
    labels(v).remove(key).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_commands_use_the_name() {
        let n = |s: &str| Source::Name(s.into());
        assert_eq!(Group::NameOnly.source_of(Some("App"), true, None), n("app"));
        assert_eq!(
            Group::NameOnly.source_of(None, false, Some("env")),
            n("env")
        );
        assert_eq!(Group::NameOnly.source_of(None, false, None), Source::Files);
        assert_eq!(
            Group::ProjectOrName.source_of(Some("x"), false, None),
            n("x")
        );
        assert_eq!(
            Group::ProjectOrName.source_of(Some("x"), true, None),
            Source::Files
        );
        assert_eq!(
            Group::ProjectOrName.source_of(None, false, Some("e")),
            Source::Files
        );
        assert_eq!(
            Group::Files.source_of(Some("x"), false, None),
            Source::Files
        );
    }

    #[test]
    fn depends_on_label() {
        let d = depends_on(Some("db:service_healthy:false,cache:service_started:true"));
        assert_eq!(d["db"].condition, "service_healthy");
        assert!(!d["db"].restart);
        assert!(d["cache"].restart);
        assert!(!d["cache"].required);
        assert!(depends_on(Some("")).is_empty());
    }
}
