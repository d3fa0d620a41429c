//! Docker's multiplexed stream framing: `[stream, 0, 0, 0, len: u32 BE]` + payload.

use std::io::Write;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Copies a multiplexed stream to stdout/stderr (stream 0/1 → `out`, 2 → `err`); with
/// `tty`, copies it raw to `out`. Returns when the stream ends.
pub async fn demux<R: AsyncRead + Unpin>(
    mut r: R,
    tty: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 32 * 1024];
    if tty {
        loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            out.write_all(&buf[..n])?;
            out.flush()?;
        }
    }
    let mut header = [0u8; 8];
    loop {
        match r.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let w: &mut dyn Write = if header[0] == 2 { &mut *err } else { &mut *out };
        while len > 0 {
            let n = buf.len().min(len);
            r.read_exact(&mut buf[..n]).await?;
            w.write_all(&buf[..n])?;
            len -= n;
        }
        w.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demuxes_frames() {
        let mut data = Vec::new();
        for (s, p) in [(1u8, &b"out\n"[..]), (2, b"err\n"), (1, b"more")] {
            data.extend_from_slice(&[s, 0, 0, 0]);
            data.extend_from_slice(&u32::try_from(p.len()).unwrap().to_be_bytes());
            data.extend_from_slice(p);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (mut o, mut e) = (Vec::new(), Vec::new());
        rt.block_on(demux(&data[..], false, &mut o, &mut e))
            .unwrap();
        assert_eq!(o, b"out\nmore");
        assert_eq!(e, b"err\n");
    }
}
