//! `--network` modes.

/// How a container is networked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkMode {
    /// The default bridge (`bridge`, `default` or empty).
    Bridge,
    /// The host's namespace: no netns, no veth, host's resolv.conf and hosts.
    Host,
    /// Own netns with only `lo` up.
    None,
    /// Join another container's netns (the engine passes its netns path).
    Container(String),
    /// A user-defined network by name or id.
    Named(String),
}

impl NetworkMode {
    /// Parses a `--network` value.
    pub fn parse(s: &str) -> Self {
        match s {
            "" | "bridge" | "default" => NetworkMode::Bridge,
            "host" => NetworkMode::Host,
            "none" => NetworkMode::None,
            _ => match s.strip_prefix("container:") {
                Some(c) => NetworkMode::Container(c.to_string()),
                None => NetworkMode::Named(s.to_string()),
            },
        }
    }

    /// True when berth creates a netns and a veth for the container.
    pub fn needs_endpoint(&self) -> bool {
        matches!(self, NetworkMode::Bridge | NetworkMode::Named(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(NetworkMode::parse(""), NetworkMode::Bridge);
        assert_eq!(NetworkMode::parse("host"), NetworkMode::Host);
        assert_eq!(NetworkMode::parse("none"), NetworkMode::None);
        assert_eq!(
            NetworkMode::parse("container:abc"),
            NetworkMode::Container("abc".into())
        );
        assert_eq!(
            NetworkMode::parse("mynet"),
            NetworkMode::Named("mynet".into())
        );
        assert!(!NetworkMode::parse("host").needs_endpoint());
    }
}
