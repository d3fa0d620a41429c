//! Network models (served by issue 5; defined here so client and server share them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::common::Labels;

/// Static IP request of an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointIpamConfig {
    /// IPv4 address.
    #[serde(rename = "IPv4Address", skip_serializing_if = "String::is_empty")]
    pub ipv4_address: String,
    /// IPv6 address.
    #[serde(rename = "IPv6Address", skip_serializing_if = "String::is_empty")]
    pub ipv6_address: String,
    /// Link-local addresses.
    #[serde(rename = "LinkLocalIPs", skip_serializing_if = "Option::is_none")]
    pub link_local_ips: Option<Vec<String>>,
}

/// A container's endpoint on one network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointSettings {
    /// Requested addresses.
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    /// Legacy links.
    #[serde(rename = "Links")]
    pub links: Option<Vec<String>>,
    /// MAC address.
    #[serde(rename = "MacAddress")]
    pub mac_address: String,
    /// DNS aliases.
    #[serde(rename = "Aliases")]
    pub aliases: Option<Vec<String>>,
    /// Driver options.
    #[serde(rename = "DriverOpts")]
    pub driver_opts: Option<Labels>,
    /// Network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Endpoint id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// Gateway.
    #[serde(rename = "Gateway")]
    pub gateway: String,
    /// IPv4 address.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// IPv4 prefix length.
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    /// IPv6 gateway.
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    /// IPv6 address.
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    /// IPv6 prefix length.
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: i64,
    /// Names the embedded DNS resolves to this endpoint.
    #[serde(rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
}

/// `NetworkingConfig` of a create request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkingConfig {
    /// Network name → endpoint settings.
    #[serde(rename = "EndpointsConfig")]
    pub endpoints_config: BTreeMap<String, EndpointSettings>,
}

/// One IPAM pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpamConfig {
    /// Subnet CIDR.
    #[serde(rename = "Subnet", skip_serializing_if = "String::is_empty")]
    pub subnet: String,
    /// Allocation range CIDR.
    #[serde(rename = "IPRange", skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
    /// Gateway.
    #[serde(rename = "Gateway", skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// Reserved addresses.
    #[serde(rename = "AuxiliaryAddresses", skip_serializing_if = "Option::is_none")]
    pub auxiliary_addresses: Option<Labels>,
}

/// IP address management of a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ipam {
    /// Driver ("default").
    #[serde(rename = "Driver")]
    pub driver: String,
    /// Pools.
    #[serde(rename = "Config")]
    pub config: Option<Vec<IpamConfig>>,
    /// Options.
    #[serde(rename = "Options")]
    pub options: Option<Labels>,
}

/// A container attached to a network (in network inspect).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkContainer {
    /// Container name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Endpoint id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// MAC.
    #[serde(rename = "MacAddress")]
    pub mac_address: String,
    /// "172.18.0.2/16".
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    /// IPv6 CIDR.
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// A network (`GET /networks`, `/networks/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Network {
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Creation time.
    #[serde(rename = "Created")]
    pub created: String,
    /// "local".
    #[serde(rename = "Scope")]
    pub scope: String,
    /// "bridge", "host", "null".
    #[serde(rename = "Driver")]
    pub driver: String,
    /// IPv4 enabled.
    #[serde(rename = "EnableIPv4")]
    pub enable_ipv4: bool,
    /// IPv6 enabled.
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// IPAM.
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    /// No external connectivity.
    #[serde(rename = "Internal")]
    pub internal: bool,
    /// Attachable.
    #[serde(rename = "Attachable")]
    pub attachable: bool,
    /// Swarm ingress.
    #[serde(rename = "Ingress")]
    pub ingress: bool,
    /// Config-only network.
    #[serde(rename = "ConfigOnly")]
    pub config_only: bool,
    /// Attached containers by id.
    #[serde(rename = "Containers")]
    pub containers: BTreeMap<String, NetworkContainer>,
    /// Driver options.
    #[serde(rename = "Options")]
    pub options: Labels,
    /// Labels.
    #[serde(rename = "Labels")]
    pub labels: Labels,
}

/// Body of `POST /networks/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkCreateRequest {
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Driver.
    #[serde(rename = "Driver")]
    pub driver: String,
    /// Internal.
    #[serde(rename = "Internal")]
    pub internal: bool,
    /// Attachable.
    #[serde(rename = "Attachable")]
    pub attachable: bool,
    /// IPv6.
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: Option<bool>,
    /// IPAM.
    #[serde(rename = "IPAM")]
    pub ipam: Option<Ipam>,
    /// Driver options.
    #[serde(rename = "Options")]
    pub options: Option<Labels>,
    /// Labels.
    #[serde(rename = "Labels")]
    pub labels: Option<Labels>,
}

/// Response of `POST /networks/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkCreateResponse {
    /// Id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Warning.
    #[serde(rename = "Warning")]
    pub warning: String,
}

/// Body of `POST /networks/{id}/connect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkConnectRequest {
    /// Container id or name.
    #[serde(rename = "Container")]
    pub container: String,
    /// Endpoint settings.
    #[serde(rename = "EndpointConfig")]
    pub endpoint_config: Option<EndpointSettings>,
}

/// Body of `POST /networks/{id}/disconnect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkDisconnectRequest {
    /// Container id or name.
    #[serde(rename = "Container")]
    pub container: String,
    /// Force.
    #[serde(rename = "Force")]
    pub force: bool,
}

/// Response of `POST /networks/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkPruneResponse {
    /// Deleted names.
    #[serde(rename = "NetworksDeleted")]
    pub networks_deleted: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_from_spec_example() {
        let j = r#"{"Name":"my_network","Id":"7d86d31b1478e7cca9ebed7e73aa0fdeec46c5ca29497431d3007d2d9e15ed99",
          "Created":"2016-10-19T04:33:30.360899459Z","Scope":"local","Driver":"bridge","EnableIPv6":false,
          "IPAM":{"Driver":"default","Config":[{"Subnet":"172.19.0.0/16","Gateway":"172.19.0.1"}],"Options":{"foo":"bar"}},
          "Internal":false,"Attachable":false,"Ingress":false,
          "Containers":{"19a4d5d687db25203351ed79d478946f861258f018fe384f229f2efa4b23513c":{"Name":"test",
            "EndpointID":"628cadb8bcb92de107b2a1e516cbffe463e321f548feb37697cce00ad694f21a",
            "MacAddress":"02:42:ac:13:00:02","IPv4Address":"172.19.0.2/16","IPv6Address":""}},
          "Options":{"com.docker.network.bridge.default_bridge":"true"},"Labels":{"com.example.some-label":"some-value"}}"#;
        let n: Network = crate::json::from_str(j).unwrap();
        assert_eq!(n.ipam.config.as_ref().unwrap()[0].gateway, "172.19.0.1");
        assert_eq!(
            n.containers.values().next().unwrap().ipv4_address,
            "172.19.0.2/16"
        );
        let v = serde_json::to_value(&n).unwrap();
        assert_eq!(v["IPAM"]["Config"][0]["Subnet"], "172.19.0.0/16");
        assert!(v["IPAM"]["Config"][0].get("IPRange").is_none());
        assert_eq!(serde_json::from_value::<Network>(v).unwrap(), n);
    }
}
