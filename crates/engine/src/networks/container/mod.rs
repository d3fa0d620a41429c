//! The container side of networking: endpoint settings at create, the network files
//! (`/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`), connecting the container's netns
//! between the shim's `Created` and `START` (veths, published ports, embedded DNS), teardown
//! on exit and removal, `NetworkSettings` of inspect and ps, `network connect|disconnect`,
//! network inspect's `Containers`, and live restore of DNS listeners.

mod attach;
mod connect;
mod endpoints;
mod etc_files;
mod ports;
mod settings;
mod views;

pub(in crate::networks) use ports::exposed_keys;
pub use ports::port_mappings;

use endpoints::{requested_ip, requested_ip6, user_settings_check};
use etc_files::{dns_settings, embedded_resolv_conf};
use ports::ports_map;

/// Name of the default bridge network.
pub(super) const BRIDGE: &str = "bridge";

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}
