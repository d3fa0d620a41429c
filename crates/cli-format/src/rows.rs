//! The per-row fields docker's list commands expose to `--format` (`{{.ID}}`, `{{.Names}}`,
//! ...), their column titles, and the default table formats.

use std::time::SystemTime;

use serde_json::{json, Value};

use berth_api_types::{ContainerSummary, HistoryItem, ImageSummary, Port};

use crate::time::ago;
use crate::units::{docker_size, ellipsis, truncate_id};

/// `docker ps` default format.
pub const PS_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
/// `docker images` default format.
pub const IMAGES_TABLE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
/// `docker history` default format.
pub const HISTORY_TABLE: &str =
    "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

/// Column titles of `docker ps`.
pub fn ps_headers() -> Value {
    json!({"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
        "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
        "LocalVolumes": "LOCAL VOLUMES", "Platform": "PLATFORM"})
}

/// Column titles of `docker images`.
pub fn images_headers() -> Value {
    json!({"Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID",
        "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
        "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE"})
}

/// Column titles of `docker history`.
pub fn history_headers() -> Value {
    json!({"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"})
}

/// docker's port list: "0.0.0.0:8080->80/tcp, 443/tcp" (ranges are not collapsed).
pub fn display_ports(ports: &[Port]) -> String {
    let mut sorted: Vec<&Port> = ports.iter().collect();
    // docker's comparePorts: private port, public port, type, IP.
    sorted.sort_by(|a, b| {
        (a.private_port, a.public_port, &a.kind, &a.ip).cmp(&(
            b.private_port,
            b.public_port,
            &b.kind,
            &b.ip,
        ))
    });
    let mut items: Vec<String> = sorted
        .into_iter()
        .map(|p| {
            let text = if p.public_port != 0 {
                let ip = if p.ip.contains(':') {
                    format!("[{}]", p.ip)
                } else {
                    p.ip.clone()
                };
                format!("{ip}:{}->{}/{}", p.public_port, p.private_port, p.kind)
            } else {
                format!("{}/{}", p.private_port, p.kind)
            };
            text
        })
        .collect();
    items.dedup();
    items.join(", ")
}

fn labels_text(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The `docker ps` fields of one container. `trunc` is false with `--no-trunc`.
pub fn container_row(c: &ContainerSummary, now: SystemTime, trunc: bool) -> Value {
    let id = if trunc {
        truncate_id(&c.id)
    } else {
        c.id.clone()
    };
    let mut image = c.image.clone();
    if trunc && image.starts_with("sha256:") {
        image = truncate_id(&image);
    }
    let command = if trunc {
        ellipsis(&c.command, 20)
    } else {
        c.command.clone()
    };
    // Link names ("/a/b") are not shown; names lose their slash.
    let names: Vec<&str> = c
        .names
        .iter()
        .filter(|n| n.matches('/').count() <= 1)
        .map(|n| n.trim_start_matches('/'))
        .collect();
    let size = match (c.size_rw, c.size_root_fs) {
        (Some(rw), Some(root)) => format!("{} (virtual {})", docker_size(rw), docker_size(root)),
        (Some(rw), None) => docker_size(rw),
        _ => "0B".to_string(),
    };
    let mounts: Vec<String> = c
        .mounts
        .iter()
        .map(|m| {
            if m.name.is_empty() {
                m.source.clone()
            } else {
                m.name.clone()
            }
        })
        .map(|m| if trunc { ellipsis(&m, 15) } else { m })
        .collect();
    let networks: Vec<&str> = c
        .network_settings
        .networks
        .keys()
        .map(String::as_str)
        .collect();
    let local_volumes = c.mounts.iter().filter(|m| m.driver == "local").count();
    json!({
        "ID": id,
        "Image": image,
        "Command": serde_json::to_string(&command).unwrap_or_default(),
        "CreatedAt": crate::time::format_rfc3339(crate::time::unix_time(c.created)),
        "RunningFor": ago(c.created, now),
        "Ports": display_ports(&c.ports),
        "State": c.state,
        "Status": c.status,
        "Size": size,
        "Names": names.join(","),
        "Labels": labels_text(&c.labels),
        "Mounts": mounts.join(","),
        "Networks": networks.join(","),
        "LocalVolumes": local_volumes.to_string(),
    })
}

fn split_ref(r: &str) -> (String, String) {
    match r.rfind(':') {
        Some(i) if !r[i..].contains('/') => (r[..i].to_string(), r[i + 1..].to_string()),
        _ => (r.to_string(), "<none>".to_string()),
    }
}

/// The `docker images` rows of one image: one per tag ("<none>" when untagged).
pub fn image_rows(img: &ImageSummary, now: SystemTime, trunc: bool) -> Vec<Value> {
    let id = if trunc {
        truncate_id(&img.id)
    } else {
        img.id.clone()
    };
    let digest = img
        .repo_digests
        .first()
        .and_then(|d| d.split_once('@'))
        .map(|(_, d)| d.to_string())
        .unwrap_or_else(|| "<none>".into());
    let mut tags: Vec<(String, String)> = img.repo_tags.iter().map(|t| split_ref(t)).collect();
    if tags.is_empty() {
        tags.push(("<none>".into(), "<none>".into()));
    }
    let unique = if img.shared_size >= 0 {
        img.size - img.shared_size
    } else {
        -1
    };
    // docker's imageContext prints SharedSize and UniqueSize with units.HumanSize (four
    // significant digits), unlike Size.
    let size_or_na = |v: i64| {
        if v < 0 {
            "N/A".to_string()
        } else {
            crate::units::human_size(v as f64)
        }
    };
    tags.into_iter()
        .map(|(repo, tag)| {
            json!({
                "Repository": repo,
                "Tag": tag,
                "Digest": digest,
                "ID": id,
                "CreatedSince": ago(img.created, now),
                "CreatedAt": crate::time::format_rfc3339(crate::time::unix_time(img.created)),
                "Size": docker_size(img.size),
                "VirtualSize": docker_size(img.size),
                "SharedSize": size_or_na(img.shared_size),
                "UniqueSize": size_or_na(unique),
                "Containers": if img.containers < 0 { "N/A".to_string() } else { img.containers.to_string() },
            })
        })
        .collect()
}

/// The `docker history` fields of one layer.
pub fn history_row(h: &HistoryItem, now: SystemTime, trunc: bool) -> Value {
    let id = if h.id.starts_with('<') || !trunc {
        h.id.clone()
    } else {
        truncate_id(&h.id)
    };
    let created_by = h.created_by.replace('\t', " ");
    json!({
        "ID": id,
        "CreatedSince": ago(h.created, now),
        "CreatedAt": crate::time::format_rfc3339(crate::time::unix_time(h.created)),
        "CreatedBy": if trunc { ellipsis(&created_by, 45) } else { created_by },
        "Size": docker_size(h.size),
        "Comment": h.comment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Format;

    fn now() -> SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_039)
    }

    #[test]
    fn ps_table_matches_docker_output() {
        let c = ContainerSummary {
            id: "1161506f27e5b3d3f5a4b0a7a2f9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8".into(),
            names: vec!["/quirky_name".into()],
            image: "busybox".into(),
            command: "echo Ciao !".into(),
            created: 1_700_000_000,
            state: "exited".into(),
            status: "Exited (0) 39 seconds ago".into(),
            ..Default::default()
        };
        let rows = vec![container_row(&c, now(), true)];
        let out = Format::parse("", PS_TABLE)
            .unwrap()
            .render(&rows, &ps_headers())
            .unwrap();
        assert_eq!(
            out,
            "CONTAINER ID   IMAGE     COMMAND         CREATED          STATUS                      PORTS     NAMES\n\
             1161506f27e5   busybox   \"echo Ciao !\"   39 seconds ago   Exited (0) 39 seconds ago             quirky_name\n"
        );
    }

    #[test]
    fn ps_fields() {
        let c = ContainerSummary {
            id: "abcdef0123456789".into(),
            names: vec!["/web".into(), "/other/alias".into()],
            image: "sha256:0123456789abcdef0123".into(),
            command: "sh -c 'while true; do sleep 1; done'".into(),
            ports: vec![
                Port {
                    ip: "0.0.0.0".into(),
                    private_port: 80,
                    public_port: 8080,
                    kind: "tcp".into(),
                },
                Port {
                    ip: String::new(),
                    private_port: 443,
                    public_port: 0,
                    kind: "tcp".into(),
                },
            ],
            size_rw: Some(0),
            size_root_fs: Some(4_261_550),
            ..Default::default()
        };
        let r = container_row(&c, now(), true);
        assert_eq!(r["Names"], "web");
        assert_eq!(r["Image"], "0123456789ab");
        assert_eq!(r["Command"], "\"sh -c 'while true; …\"");
        assert_eq!(r["Ports"], "0.0.0.0:8080->80/tcp, 443/tcp");
        assert_eq!(r["Size"], "0B (virtual 4.26MB)");
        let full = container_row(&c, now(), false);
        assert_eq!(full["ID"], "abcdef0123456789");
    }

    #[test]
    fn images_table_matches_docker_output() {
        let img = ImageSummary {
            id: "sha256:beae173ccac6ad749f76713cf4440fe3d21d1043fe616dfbe30775815d1d0f6a".into(),
            repo_tags: vec!["busybox:latest".into(), "localhost:5000/busybox:1".into()],
            created: 1_700_000_039 - 3 * 7 * 86400,
            size: 4_261_550,
            ..Default::default()
        };
        let none = ImageSummary {
            id: "sha256:0011223344556677".into(),
            created: 1_700_000_039 - 3600,
            size: 1000,
            ..Default::default()
        };
        let mut rows = image_rows(&img, now(), true);
        rows.extend(image_rows(&none, now(), true));
        let out = Format::parse("", IMAGES_TABLE)
            .unwrap()
            .render(&rows, &images_headers())
            .unwrap();
        assert_eq!(
            out,
            "REPOSITORY               TAG       IMAGE ID       CREATED             SIZE\n\
             busybox                  latest    beae173ccac6   3 weeks ago         4.26MB\n\
             localhost:5000/busybox   1         beae173ccac6   3 weeks ago         4.26MB\n\
             <none>                   <none>    001122334455   About an hour ago   1kB\n"
        );
    }

    #[test]
    fn history_rows() {
        let h = HistoryItem {
            id: "<missing>".into(),
            created: 1_700_000_000,
            created_by: "/bin/sh -c #(nop)  CMD [\"sh\"]".into(),
            size: 0,
            ..Default::default()
        };
        let out = Format::parse("", HISTORY_TABLE)
            .unwrap()
            .render(&[history_row(&h, now(), true)], &history_headers())
            .unwrap();
        assert_eq!(
            out,
            "IMAGE       CREATED          CREATED BY                      SIZE      COMMENT\n\
             <missing>   39 seconds ago   /bin/sh -c #(nop)  CMD [\"sh\"]   0B        \n"
        );
    }
}
