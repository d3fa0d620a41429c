//! berth-image (see docs/architecture.md).
