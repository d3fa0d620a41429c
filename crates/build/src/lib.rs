//! Builds images from Dockerfiles.
//!
//! ```text
//! Context (tar, indexed) ─► request::prepare (Dockerfile, .dockerignore, target)
//!                          ─► builder::build: stage graph → stages in parallel → steps
//!                               each step: plan (substituted text, used args, content hash)
//!                                          → cache hit: the recorded state, nothing runs
//!                                          → miss: Backend (prepare, run, extract, commit)
//!                          ─► write_image, tag
//! ```
//! The engine is reached only through [`Backend`]; tests use a directory-backed fake.

mod backend;
mod builder;
pub mod cache;
pub mod cache_from;
pub mod classic;
mod compress;
mod config;
pub mod context;
mod copy_step;
mod error;
pub mod git;
pub mod glob;
pub mod graph;
mod plan;
pub mod progress;
pub mod remote;
mod request;
mod run_step;
pub mod scope;
pub mod select;
mod stage;
pub mod users;

pub use backend::{
    Backend, BaseImage, ImageState, Layer, OutputSink, ResolveOptions, RunMount, RunMountSource,
    RunSpec,
};
pub use builder::{build, reporting_stages, BuildResult};
pub use cache::{Cache, CacheRecord, PruneOptions, PruneReport};
pub use context::Context;
pub use error::{BuildError, Result};
pub use progress::{Event, Progress};
pub use request::{prepare, BuildRequest, Prepared};
pub use stage::state_id;
