//! berth-content (see docs/architecture.md).
