//! Volume models (served by issue 5; defined here so client and server share them).

use serde::{Deserialize, Serialize};

use crate::common::Labels;

/// Disk usage of a volume (`-1` when not computed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeUsageData {
    /// Bytes used.
    #[serde(rename = "Size")]
    pub size: i64,
    /// Containers referencing it.
    #[serde(rename = "RefCount")]
    pub ref_count: i64,
}

/// A volume (fields in Docker's order, which is alphabetical).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Volume {
    /// Creation time.
    #[serde(rename = "CreatedAt", skip_serializing_if = "String::is_empty")]
    pub created_at: String,
    /// Driver ("local").
    #[serde(rename = "Driver")]
    pub driver: String,
    /// Labels.
    #[serde(rename = "Labels")]
    pub labels: Labels,
    /// Host path.
    #[serde(rename = "Mountpoint")]
    pub mountpoint: String,
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Driver options.
    #[serde(rename = "Options")]
    pub options: Labels,
    /// "local".
    #[serde(rename = "Scope")]
    pub scope: String,
    /// Driver status.
    #[serde(rename = "Status", skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Map<String, serde_json::Value>>,
    /// Usage (system df only).
    #[serde(rename = "UsageData", skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<VolumeUsageData>,
}

/// Body of `POST /volumes/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeCreateOptions {
    /// Name ("" = generated).
    #[serde(rename = "Name")]
    pub name: String,
    /// Driver.
    #[serde(rename = "Driver")]
    pub driver: String,
    /// Driver options.
    #[serde(rename = "DriverOpts")]
    pub driver_opts: Labels,
    /// Labels.
    #[serde(rename = "Labels")]
    pub labels: Labels,
}

/// Response of `GET /volumes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeListResponse {
    /// Volumes.
    #[serde(rename = "Volumes")]
    pub volumes: Vec<Volume>,
    /// Warnings.
    #[serde(rename = "Warnings")]
    pub warnings: Vec<String>,
}

/// Response of `POST /volumes/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumePruneResponse {
    /// Deleted names.
    #[serde(rename = "VolumesDeleted")]
    pub volumes_deleted: Option<Vec<String>>,
    /// Bytes freed.
    #[serde(rename = "SpaceReclaimed")]
    pub space_reclaimed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_from_spec_example() {
        let j = r#"{"Name":"tardis","Driver":"custom","Mountpoint":"/var/lib/docker/volumes/tardis",
          "CreatedAt":"2016-06-07T20:31:11.853781916Z","Status":{"hello":"world"},
          "Labels":{"com.example.some-label":"some-value"},"Scope":"local",
          "Options":{"device":"tmpfs","o":"size=100m,uid=1000","type":"tmpfs"},
          "UsageData":{"Size":10920104,"RefCount":2}}"#;
        let v: Volume = crate::json::from_str(j).unwrap();
        assert_eq!(v.usage_data.as_ref().unwrap().ref_count, 2);
        assert_eq!(v.options["type"], "tmpfs");
        let back = serde_json::to_value(&v).unwrap();
        assert_eq!(back, crate::json::from_str::<serde_json::Value>(j).unwrap());
    }
}
