//! Applying a layer tar (plain, gzip or zstd) onto a directory, in overlayfs form.
//!
//! The extraction is `berth_inroot::extract` with the layer policy: entry names are cleaned
//! like moby's archive package (a leading `/` dropped, `.` removed, `a/../b` folded) and
//! refused when a `..` would climb above the layer root, as are hardlinks whose target does;
//! every parent is resolved with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, so an entry can
//! never be written through a symlink; whiteouts `.wh.<name>` become overlay whiteouts (char
//! device 0/0) and `.wh..wh..opq` sets `trusted.overlay.opaque=y` on its directory; owners,
//! modes, times, xattrs, devices and sparse files are restored. The diff_id (sha256 of the
//! uncompressed stream, to its very end) is computed while reading and verified.

use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use berth_content::{Algorithm, Digest, Digester};
use berth_inroot::{ExtractOptions, Resolve, Root, Whiteouts};

use crate::error::{ImageError, IoContext, Result};
use crate::manifest::Compression;

/// What unpacking a layer found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackedLayer {
    /// sha256 of the uncompressed tar stream.
    pub diff_id: Digest,
    /// Bytes of the uncompressed tar stream.
    pub uncompressed_size: u64,
    /// How the blob was compressed.
    pub compression: Compression,
}

/// Wraps a blob reader into a decompressing reader chosen by the blob's magic bytes.
pub fn decompress<'a, R: Read + 'a>(src: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut buffered = BufReader::with_capacity(256 * 1024, src);
    let kind = Compression::detect(buffered.fill_buf()?);
    let reader: Box<dyn Read + 'a> = match kind {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
        Compression::None => Box::new(buffered),
    };
    Ok((kind, reader))
}

/// A reader that hashes and counts everything read through it.
struct HashingReader<R> {
    inner: R,
    digester: Digester,
    count: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digester.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// How layers are extracted: no symlink on any entry's way, overlay whiteouts, xattrs.
pub fn layer_options() -> ExtractOptions {
    ExtractOptions {
        resolve: Resolve::NoSymlinks,
        whiteouts: Whiteouts::Overlay,
        owner: None,
        no_overwrite_dir_non_dir: false,
        xattrs: true,
    }
}

/// Unpacks the layer blob `src` onto `dest` (an existing, empty directory).
///
/// `layer` names the layer in errors. On error `dest` may hold a partial tree: unpack into a
/// [`berth_snapshot::PendingLayer`] or use [`unpack_to_new_dir`] so that it is discarded.
pub fn unpack_layer(
    src: impl Read,
    dest: &Path,
    expected_diff_id: Option<&Digest>,
    layer: &str,
) -> Result<UnpackedLayer> {
    let stream_err = |reason: String| ImageError::Layer {
        layer: layer.to_string(),
        entry: String::new(),
        reason,
    };
    let (compression, reader) =
        decompress(src).map_err(|e| stream_err(format!("reading layer: {e}")))?;
    let mut hashing = HashingReader {
        inner: reader,
        digester: Digester::new(Algorithm::Sha256),
        count: 0,
    };
    let root = Root::open(dest).ctx("open layer root", dest)?;
    berth_inroot::extract(&root, "/", &mut hashing, &layer_options())
        .map_err(|e| stream_err(e.to_string()))?;
    // The diff_id covers the whole stream, including padding after the end-of-archive
    // blocks; reading to the end also makes gzip check its CRC and length.
    io::copy(&mut hashing, &mut io::sink())
        .map_err(|e| stream_err(format!("reading layer: {e}")))?;
    let diff_id = hashing.digester.finish();
    if let Some(expected) = expected_diff_id {
        if *expected != diff_id {
            return Err(ImageError::DiffIdMismatch {
                layer: layer.to_string(),
                expected: expected.clone(),
                actual: diff_id,
            });
        }
    }
    Ok(UnpackedLayer {
        diff_id,
        uncompressed_size: hashing.count,
        compression,
    })
}

/// Unpacks into a fresh temp dir beside `target` and renames it to `target` on success;
/// on failure nothing is left behind. `target` must not exist.
pub fn unpack_to_new_dir(
    src: impl Read,
    target: &Path,
    expected_diff_id: Option<&Digest>,
    layer: &str,
) -> Result<UnpackedLayer> {
    let parent = target.parent().unwrap_or(Path::new("."));
    let name = target.file_name().unwrap_or(OsStr::new("layer"));
    let tmp = parent.join(format!(
        ".{}.unpack-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::create_dir(&tmp).ctx("create", &tmp)?;
    let result = unpack_layer(src, &tmp, expected_diff_id, layer).and_then(|u| {
        std::fs::rename(&tmp, target)
            .ctx("rename", target)
            .map(|_| u)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}
