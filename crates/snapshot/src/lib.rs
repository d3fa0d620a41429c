//! berth-snapshot (see docs/architecture.md).
