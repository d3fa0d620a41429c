//! berth-registry (see docs/architecture.md).
