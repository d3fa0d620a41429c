//! What a build reports while it runs. Stages that run in parallel report interleaved; each
//! event names its stage, and [`crate::classic::ClassicStream`] puts them back in order for
//! Docker's classic stream.

/// One thing that happened. Serialized (berth's `berth.build.event` stream lines) with a
/// `type` tag; output bytes travel as (lossy) text.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A step starts: `Step 2/5 : RUN make`. `label` is BuildKit's name for it
    /// (`[build 2/3]`, `[2/3]` in a one-stage Dockerfile).
    Step {
        /// The stage's index.
        stage: usize,
        /// The step's number, counted over the whole build (1-based).
        number: usize,
        /// The number of steps of the build.
        total: usize,
        /// The instruction as Docker prints it.
        text: String,
        /// BuildKit's label for the step.
        #[serde(default)]
        label: String,
    },
    /// The step's result is in the cache.
    Cached {
        /// The stage's index.
        stage: usize,
    },
    /// A RUN container starts (its short id).
    Running {
        /// The stage's index.
        stage: usize,
        /// The container's short id.
        container: String,
    },
    /// Output of a RUN (or of a pull).
    Output {
        /// The stage's index.
        stage: usize,
        /// The bytes written.
        #[serde(with = "lossy_text")]
        data: Vec<u8>,
    },
    /// The step is done; the id of the image state it produced.
    StepDone {
        /// The stage's index.
        stage: usize,
        /// The id of the image state after the step.
        id: String,
        /// How long the step took.
        millis: u64,
        /// It came from the cache.
        cached: bool,
    },
    /// The stage has no more events.
    StageDone {
        /// The stage's index.
        stage: usize,
    },
    /// Something worth telling (unused build args).
    Warning(String),
}

impl Event {
    /// The stage an event belongs to (none for a warning).
    pub fn stage(&self) -> Option<usize> {
        match self {
            Event::Step { stage, .. }
            | Event::Cached { stage }
            | Event::Running { stage, .. }
            | Event::Output { stage, .. }
            | Event::StepDone { stage, .. }
            | Event::StageDone { stage } => Some(*stage),
            Event::Warning(_) => None,
        }
    }
}

/// Receives events (must not block for long).
pub trait Progress: Send + Sync {
    /// Called for each event, in order.
    fn event(&self, event: Event);
}

impl<F: Fn(Event) + Send + Sync> Progress for F {
    fn event(&self, event: Event) {
        self(event)
    }
}

/// The first 12 hex digits of an id (`sha256:` dropped), as Docker prints ids.
pub fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

mod lossy_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(data))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(String::deserialize(d)?.into_bytes())
    }
}
