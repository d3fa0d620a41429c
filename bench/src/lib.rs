//! Shared pieces of berth's benchmarks: each `src/bin/*.rs` times berth and a peer in the same
//! run and prints both medians and their ratio.

pub mod engines;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Median of a set of samples (the mean of the two middle ones for an even count).
pub fn median(samples: &mut [Duration]) -> Duration {
    assert!(!samples.is_empty(), "median of no samples");
    samples.sort();
    let n = samples.len();
    if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2
    }
}

/// Prints one comparison line: `name: berth X ms, peer Y ms, ratio berth/peer Z`.
pub fn report(name: &str, berth: Duration, peer_name: &str, peer: Duration) {
    let ratio = berth.as_secs_f64() / peer.as_secs_f64();
    println!(
        "{name}: berth {:.2} ms, {peer_name} {:.2} ms, ratio berth/{peer_name} {ratio:.3}",
        berth.as_secs_f64() * 1e3,
        peer.as_secs_f64() * 1e3
    );
}

/// A port on 127.0.0.1 that was free a moment ago (bound to :0 and released).
pub fn free_loopback_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("ephemeral loopback port")
        .port()
}

/// Polls `ready` every 100 ms for up to 60 s; panics naming `what` when it never holds.
pub fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A peer daemon started by a bench: SIGTERM by PID on drop, SIGKILL after 20 s.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub use berth_testkit::daemon::unmount_under;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = Duration::from_millis;
        assert_eq!(median(&mut [ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(
            median(&mut [ms(4), ms(1), ms(2), ms(3)]),
            Duration::from_micros(2500)
        );
    }
}
