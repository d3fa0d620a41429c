//! v1 blkio: weight (CFQ `blkio.weight` or BFQ `blkio.bfq.weight`), per-device weights and
//! throttling.

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use super::Dirs;
use crate::error::{CgroupError, Result};
use crate::fs;

/// Applies `b` to the blkio directory.
pub(crate) fn apply(dirs: &Dirs<'_>, b: &LinuxBlockIo) -> Result<()> {
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        let dir = dirs.get("blkio", "blockIO.weight")?;
        let file = weight_file(dir, "blkio.weight", "blkio.bfq.weight", "blockIO.weight")?;
        fs::write(dir, file, w.to_string())?;
    }
    if let Some(w) = b.leaf_weight().filter(|&w| w != 0) {
        let dir = dirs.get("blkio", "blockIO.leafWeight")?;
        fs::write(dir, "blkio.leaf_weight", w.to_string())?;
    }
    for d in b.weight_device().iter().flatten() {
        let dir = dirs.get("blkio", "blockIO.weightDevice")?;
        if let Some(w) = d.weight() {
            let file = weight_file(
                dir,
                "blkio.weight_device",
                "blkio.bfq.weight_device",
                "blockIO.weightDevice",
            )?;
            fs::write(dir, file, format!("{}:{} {w}", d.major(), d.minor()))?;
        }
        if let Some(w) = d.leaf_weight() {
            fs::write(
                dir,
                "blkio.leaf_weight_device",
                format!("{}:{} {w}", d.major(), d.minor()),
            )?;
        }
    }
    let throttles: [(&Option<Vec<LinuxThrottleDevice>>, &str, &'static str); 4] = [
        (
            b.throttle_read_bps_device(),
            "blkio.throttle.read_bps_device",
            "blockIO.throttleReadBpsDevice",
        ),
        (
            b.throttle_write_bps_device(),
            "blkio.throttle.write_bps_device",
            "blockIO.throttleWriteBpsDevice",
        ),
        (
            b.throttle_read_iops_device(),
            "blkio.throttle.read_iops_device",
            "blockIO.throttleReadIOPSDevice",
        ),
        (
            b.throttle_write_iops_device(),
            "blkio.throttle.write_iops_device",
            "blockIO.throttleWriteIOPSDevice",
        ),
    ];
    for (list, file, field) in throttles {
        for t in list.iter().flatten() {
            let dir = dirs.get("blkio", field)?;
            fs::write(
                dir,
                file,
                format!("{}:{} {}", t.major(), t.minor(), t.rate()),
            )?;
        }
    }
    Ok(())
}

/// CFQ's file when present, else BFQ's; an error when the scheduler offers neither.
fn weight_file(
    dir: &std::path::Path,
    cfq: &'static str,
    bfq: &'static str,
    field: &'static str,
) -> Result<&'static str> {
    if dir.join(cfq).exists() {
        Ok(cfq)
    } else if dir.join(bfq).exists() {
        Ok(bfq)
    } else {
        Err(CgroupError::ControllerMissing {
            controller: format!("blkio weight ({cfq} or {bfq})"),
            field,
        })
    }
}
