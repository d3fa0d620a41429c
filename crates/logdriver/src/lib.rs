//! berth's container log drivers, as Docker has them: `json-file` (the default), `local`
//! (Docker's compact protobuf-framed files, rotated and compressed), `journald` (the native
//! journal socket, read back with `journalctl`), `syslog` (unix, udp or tcp; rfc3164 and
//! rfc5424) and `none`.
//!
//! - [`LogDriver`] is the one writer trait; [`open`] builds the driver a [`LogConfig`] names.
//!   `berth-shim` holds one per running container and feeds it every output line.
//! - [`LogReader`] reads a container's log back for `logs` and `attach --logs`; [`reader`]
//!   refuses drivers Docker cannot read (`none`). Drivers that cannot read (syslog) write a
//!   `local` cache next to the container as Docker's "dual logging" does, read back instead.
//! - [`validate`] checks a driver name and its options with Docker's error texts, before a
//!   container is created.

pub mod config;
pub mod journald;
pub mod jsonfile;
pub mod local;
pub mod syslog;

mod error;
mod message;
mod read;
mod rotate;
pub mod tag;
mod time;

pub use config::{validate, ContainerInfo, LogConfig};
pub use error::LogError;
pub use message::{LogEntry, Message, Stream};
pub use read::{reader, LogReader};
pub use time::{now, parse_time, rfc3339_nanos};

/// Writes a container's output somewhere: one implementation per driver.
pub trait LogDriver: Send {
    /// Logs one message (a line of output, or a partial one).
    fn log(&mut self, msg: &Message<'_>) -> std::io::Result<()>;
}

/// Drops everything (`--log-driver none`).
#[derive(Debug, Default)]
pub struct NoneDriver;

impl LogDriver for NoneDriver {
    fn log(&mut self, _msg: &Message<'_>) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends every message to two drivers (a driver that cannot be read plus its `local` cache).
pub struct Tee(pub Box<dyn LogDriver>, pub Box<dyn LogDriver>);

impl LogDriver for Tee {
    fn log(&mut self, msg: &Message<'_>) -> std::io::Result<()> {
        let a = self.0.log(msg);
        let b = self.1.log(msg);
        a.and(b)
    }
}

/// The driver `config` names, opened (files created, sockets connected).
pub fn open(config: &LogConfig) -> Result<Box<dyn LogDriver>, LogError> {
    validate(&config.driver, &config.opts)?;
    let driver: Box<dyn LogDriver> = match config.driver.as_str() {
        "json-file" => Box::new(jsonfile::JsonFileDriver::open(config)?),
        "local" => Box::new(local::LocalDriver::open(config)?),
        "journald" => Box::new(journald::JournaldDriver::open(config)?),
        "syslog" => Box::new(syslog::SyslogDriver::open(config)?),
        _ => Box::new(NoneDriver),
    };
    match config.cache_path() {
        Some(_) => Ok(Box::new(Tee(
            driver,
            Box::new(local::LocalDriver::open_cache(config)?),
        ))),
        None => Ok(driver),
    }
}
