//! Private address blocks for tests and benches that no host route touches, so parallel
//! daemons (and the host's own networks) never share a subnet.

/// A `10.a.b.0/20` (a in 64..192) that no route of /proc/net/route overlaps, picked from a
/// slot sequence that starts at `seed` (different seeds spread parallel callers apart).
pub fn free_block_20(seed: usize) -> Option<(u8, u8)> {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let used: Vec<(u32, u32)> = routes
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dst = u32::from_str_radix(f.get(1)?, 16).ok()?.swap_bytes();
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?.swap_bytes();
            (mask != 0).then_some((dst, mask))
        })
        .collect();
    (0..2048).find_map(|i| {
        let slot = (seed + i * 97) % 2048;
        let (a, b) = (
            u8::try_from(64 + slot / 16).ok()?,
            u8::try_from((slot % 16) * 16).ok()?,
        );
        let net = u32::from_be_bytes([10, a, b, 0]);
        let mask = 0xffff_f000u32;
        (!used.iter().any(|(d, m)| (d & m & mask) == (net & m & mask))).then_some((a, b))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_block_is_a_20_inside_10_64_to_10_191() {
        let (a, b) = super::free_block_20(7).expect("a free block");
        assert!((64..192).contains(&a), "{a}");
        assert_eq!(b % 16, 0, "{b}");
    }
}
