//! Image models: list, inspect, history, delete, prune, search, commit.

use serde::{Deserialize, Serialize};

use crate::common::Labels;
use crate::container::{ContainerConfig, DriverData};

/// One item of `GET /images/json` (`docker images`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageSummary {
    /// Containers using the image (-1 when not computed).
    #[serde(rename = "Containers")]
    pub containers: i64,
    /// Creation time, unix seconds.
    #[serde(rename = "Created")]
    pub created: i64,
    /// "sha256:<hex>".
    #[serde(rename = "Id")]
    pub id: String,
    /// Labels.
    #[serde(rename = "Labels")]
    pub labels: Labels,
    /// Parent id ("" for pulled images).
    #[serde(rename = "ParentId")]
    pub parent_id: String,
    /// "name@sha256:..." digests.
    #[serde(rename = "RepoDigests")]
    pub repo_digests: Vec<String>,
    /// "name:tag" tags.
    #[serde(rename = "RepoTags")]
    pub repo_tags: Vec<String>,
    /// Bytes shared with other images (-1 when not computed).
    #[serde(rename = "SharedSize")]
    pub shared_size: i64,
    /// Total size.
    #[serde(rename = "Size")]
    pub size: i64,
    /// `Size` again, below API 1.44 (set by the server for old clients).
    #[serde(rename = "VirtualSize", skip_serializing_if = "Option::is_none")]
    pub virtual_size: Option<i64>,
}

/// `RootFS` of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RootFs {
    /// "layers".
    #[serde(rename = "Type")]
    pub kind: String,
    /// Diff ids.
    #[serde(rename = "Layers", skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
}

/// `Metadata` of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageMetadata {
    /// Last tag time (RFC 3339) or "".
    #[serde(rename = "LastTagTime", skip_serializing_if = "String::is_empty")]
    pub last_tag_time: String,
}

/// Response of `GET /images/{name}/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageInspect {
    /// "sha256:<hex>".
    #[serde(rename = "Id")]
    pub id: String,
    /// Tags.
    #[serde(rename = "RepoTags")]
    pub repo_tags: Vec<String>,
    /// Digests.
    #[serde(rename = "RepoDigests")]
    pub repo_digests: Vec<String>,
    /// Parent id.
    #[serde(rename = "Parent")]
    pub parent: String,
    /// Commit message.
    #[serde(rename = "Comment")]
    pub comment: String,
    /// Creation time (RFC 3339); omitted when the image config has none.
    #[serde(rename = "Created", skip_serializing_if = "String::is_empty")]
    pub created: String,
    /// Id of the container committed into this image (the config's `container`); the server
    /// shows it below API 1.45 only.
    #[serde(rename = "Container", skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// That container's config (the image config's `container_config`); below API 1.45 only.
    #[serde(rename = "ContainerConfig", skip_serializing_if = "Option::is_none")]
    pub container_config: Option<ContainerConfig>,
    /// Builder version.
    #[serde(rename = "DockerVersion")]
    pub docker_version: String,
    /// Author.
    #[serde(rename = "Author")]
    pub author: String,
    /// Default container config.
    #[serde(rename = "Config")]
    pub config: ContainerConfig,
    /// "amd64".
    #[serde(rename = "Architecture")]
    pub architecture: String,
    /// CPU variant.
    #[serde(rename = "Variant", skip_serializing_if = "String::is_empty")]
    pub variant: String,
    /// "linux".
    #[serde(rename = "Os")]
    pub os: String,
    /// OS version.
    #[serde(rename = "OsVersion", skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    /// Size in bytes.
    #[serde(rename = "Size")]
    pub size: i64,
    /// `Size` again, below API 1.44 (set by the server for old clients).
    #[serde(rename = "VirtualSize", skip_serializing_if = "Option::is_none")]
    pub virtual_size: Option<i64>,
    /// Storage driver data.
    #[serde(rename = "GraphDriver")]
    pub graph_driver: DriverData,
    /// Layers.
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    /// Local metadata.
    #[serde(rename = "Metadata")]
    pub metadata: ImageMetadata,
}

/// One layer of `GET /images/{name}/history`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryItem {
    /// Image id of this step or "<missing>".
    #[serde(rename = "Id")]
    pub id: String,
    /// Unix seconds.
    #[serde(rename = "Created")]
    pub created: i64,
    /// Instruction.
    #[serde(rename = "CreatedBy")]
    pub created_by: String,
    /// Tags of this step's image.
    #[serde(rename = "Tags")]
    pub tags: Vec<String>,
    /// Layer size.
    #[serde(rename = "Size")]
    pub size: i64,
    /// Comment.
    #[serde(rename = "Comment")]
    pub comment: String,
}

/// One item of `DELETE /images/{name}`: exactly one of the fields is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageDeleteResponseItem {
    /// Removed tag.
    #[serde(rename = "Untagged", skip_serializing_if = "Option::is_none")]
    pub untagged: Option<String>,
    /// Removed image id.
    #[serde(rename = "Deleted", skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
}

/// Response of `POST /images/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImagePruneResponse {
    /// Removed tags and images.
    #[serde(rename = "ImagesDeleted")]
    pub images_deleted: Option<Vec<ImageDeleteResponseItem>>,
    /// Bytes freed.
    #[serde(rename = "SpaceReclaimed")]
    pub space_reclaimed: u64,
}

/// One item of `GET /images/search`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageSearchResult {
    /// Description.
    pub description: String,
    /// Official image.
    pub is_official: bool,
    /// Deprecated, always false.
    pub is_automated: bool,
    /// Repository name.
    pub name: String,
    /// Stars.
    pub star_count: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_summary_and_history_names() {
        let j = r#"{"Id":"sha256:ec3f0931a6e6b6855d76b2d7b0be30e81860baccd891b2e243280bf1cd8ad710",
          "ParentId":"","RepoTags":["example:1.0","example:latest"],
          "RepoDigests":["example@sha256:afcc7f1ac1b49db317a7196c902e61c6c3c4607d63599ee1a82d702d249a0ccb"],
          "Created":1644009612,"Size":172064416,"SharedSize":1239828,"VirtualSize":172064416,
          "Labels":{"com.example.some-label":"some-value"},"Containers":2}"#;
        let s: ImageSummary = crate::json::from_str(j).unwrap();
        assert_eq!(s.repo_tags.len(), 2);
        assert_eq!(s.containers, 2);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["ParentId"], "");
        // Kept as decoded; the server sets it per API version (compat.rs).
        assert_eq!(v["VirtualSize"], 172064416);
        let h: Vec<HistoryItem> = crate::json::from_str(
            r#"[{"Id":"3db9c44f4520","Created":1398108230,"CreatedBy":"/bin/sh -c #(nop) CMD [\"sh\"]",
               "Tags":["ubuntu:lucid"],"Size":0,"Comment":""},{"Id":"<missing>","Created":1,"CreatedBy":"x",
               "Tags":null,"Size":7,"Comment":""}]"#,
        )
        .unwrap();
        assert_eq!(h[0].tags, vec!["ubuntu:lucid"]);
        assert!(h[1].tags.is_empty());
        let d = vec![
            ImageDeleteResponseItem {
                untagged: Some("busybox:latest".into()),
                deleted: None,
            },
            ImageDeleteResponseItem {
                untagged: None,
                deleted: Some("sha256:x".into()),
            },
        ];
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"[{"Untagged":"busybox:latest"},{"Deleted":"sha256:x"}]"#
        );
    }

    #[test]
    fn image_inspect_round_trip() {
        let mut i = ImageInspect {
            id: "sha256:abc".into(),
            repo_tags: vec!["busybox:latest".into()],
            os: "linux".into(),
            architecture: "amd64".into(),
            ..Default::default()
        };
        i.root_fs.kind = "layers".into();
        i.root_fs.layers = vec!["sha256:l1".into()];
        let v = serde_json::to_value(&i).unwrap();
        assert_eq!(v["RootFS"]["Layers"][0], "sha256:l1");
        assert_eq!(v["Config"]["Cmd"], serde_json::Value::Null);
        assert!(v.get("Variant").is_none());
        assert_eq!(serde_json::from_value::<ImageInspect>(v).unwrap(), i);
        let s: Vec<ImageSearchResult> = crate::json::from_str(
            r#"[{"description":"d","is_official":true,"is_automated":false,"name":"busybox","star_count":3}]"#,
        )
        .unwrap();
        assert!(s[0].is_official);
    }
}
