//! Decompression by magic bytes (build contexts, ADD archives): gzip, zstd, or none.

use std::io::{self, BufRead, BufReader, Read};

/// Wraps `r` in the decoder its first bytes call for.
pub fn decompress<'a>(r: impl Read + Send + 'a) -> io::Result<Box<dyn Read + Send + 'a>> {
    let mut r = BufReader::with_capacity(256 * 1024, r);
    let head = r.fill_buf()?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(r))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(r)?)
    } else if head.starts_with(b"BZh") || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "bzip2 and xz archives are not supported yet",
        ));
    } else {
        Box::new(r)
    })
}
