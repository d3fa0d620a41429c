//! v2 io: weight (io.bfq.weight when BFQ is in use, else io.weight), per-device weights and
//! io.max throttling.

use std::path::Path;

use oci_spec::runtime::LinuxBlockIo;

use crate::error::Result;
use crate::fs;

/// Applies `b` to `dir`.
pub(crate) fn apply(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    let bfq = dir.join("io.bfq.weight").exists();
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        if bfq {
            fs::write(dir, "io.bfq.weight", w.to_string())?;
        } else {
            fs::write(
                dir,
                "io.weight",
                format!("default {}", blkio_to_io_weight(w)),
            )?;
        }
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            let (file, w) = if bfq {
                ("io.bfq.weight", u64::from(w))
            } else {
                ("io.weight", blkio_to_io_weight(w))
            };
            fs::write(dir, file, format!("{}:{} {w}", d.major(), d.minor()))?;
        }
    }
    let throttles = [
        (b.throttle_read_bps_device(), "rbps"),
        (b.throttle_write_bps_device(), "wbps"),
        (b.throttle_read_iops_device(), "riops"),
        (b.throttle_write_iops_device(), "wiops"),
    ];
    for (list, key) in throttles {
        for t in list.iter().flatten() {
            let rate = if t.rate() == 0 {
                "max".to_string()
            } else {
                t.rate().to_string()
            };
            fs::write(
                dir,
                "io.max",
                format!("{}:{} {key}={rate}", t.major(), t.minor()),
            )?;
        }
    }
    Ok(())
}

/// Maps v1 blkio weight [10, 1000] onto v2 io.weight [1, 10000].
pub fn blkio_to_io_weight(w: u16) -> u64 {
    let w = u64::from(w.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}
