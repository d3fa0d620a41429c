//! berth-cgroups (see docs/architecture.md).
