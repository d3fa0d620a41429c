//! Decompression by magic bytes (build contexts, ADD archives): gzip, bzip2, xz, zstd, or
//! none — the formats moby's `DecompressStream` knows.

use std::io::{self, BufRead, BufReader, Read};

/// Whether `head` (the first bytes of a stream) starts one of the compressed formats.
pub fn is_compressed(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || head.starts_with(b"BZh")
        || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
}

/// Wraps `r` in the decoder its first bytes call for.
pub fn decompress<'a>(r: impl Read + Send + 'a) -> io::Result<Box<dyn Read + Send + 'a>> {
    let mut r = BufReader::with_capacity(256 * 1024, r);
    let head = r.fill_buf()?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(r))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(r)?)
    } else if head.starts_with(b"BZh") {
        Box::new(bzip2::bufread::MultiBzDecoder::new(r))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(lzma_rust2::XzReader::new(r, true))
    } else {
        Box::new(r)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    fn through(tool: &str, data: &[u8]) -> Option<Vec<u8>> {
        let mut child = Command::new(tool)
            .arg("-c")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        let input = data.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().ok()?;
        writer.join().ok()?.ok()?;
        Some(out.stdout)
    }

    #[test]
    fn every_format_moby_knows() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for tool in ["gzip", "bzip2", "xz", "zstd"] {
            let Some(packed) = through(tool, &data) else {
                eprintln!("{tool} not installed; skipped");
                continue;
            };
            assert_ne!(packed, data, "{tool}");
            assert!(is_compressed(&packed), "{tool}");
            let mut out = Vec::new();
            decompress(packed.as_slice())
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert!(out == data, "{tool} round trip");
        }
        assert!(!is_compressed(b"plain"));
        let mut out = Vec::new();
        decompress(&b"plain"[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"plain");
    }
}
