//! Shared pieces of berth's benchmarks: each `src/bin/*.rs` times berth and a peer in the same
//! run and prints both medians and their ratio.

use std::time::Duration;

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
