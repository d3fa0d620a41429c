//! A log file rotated at `max-size` into `<log>.1`, `<log>.2`, … (`max-file` files in all,
//! the live one included), rotated files gzip-compressed (`<log>.1.gz`) when asked: the
//! scheme Docker's json-file and local drivers share.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

/// Rotation settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Bytes before the file rotates (0 = never).
    pub max_size: u64,
    /// Files kept, the live one included (≥ 1; 1 = truncate in place).
    pub max_file: u32,
    /// gzip rotated files.
    pub compress: bool,
}

/// An append-only file with rotation.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
}

impl RotatingFile {
    /// Opens (appending, creating its directory) `path`.
    pub fn open(path: &Path, rotation: Rotation) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            file,
            size,
            rotation: Rotation {
                max_file: rotation.max_file.max(1),
                ..rotation
            },
        })
    }

    /// Appends one record (never split across files).
    pub fn write_record(&mut self, record: &[u8]) -> io::Result<()> {
        let max = self.rotation.max_size;
        if max > 0 && self.size > 0 && self.size + record.len() as u64 > max {
            self.rotate()?;
        }
        self.file.write_all(record)?;
        self.size += record.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.rotation.max_file <= 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let _ = std::fs::remove_file(rotated(&self.path, self.rotation.max_file - 1, true));
        let _ = std::fs::remove_file(rotated(&self.path, self.rotation.max_file - 1, false));
        for i in (1..self.rotation.max_file - 1).rev() {
            for gz in [true, false] {
                let from = rotated(&self.path, i, gz);
                if from.exists() {
                    std::fs::rename(&from, rotated(&self.path, i + 1, gz))?;
                }
            }
        }
        let first = rotated(&self.path, 1, false);
        std::fs::rename(&self.path, &first)?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        if self.rotation.compress {
            compress(&first, &rotated(&self.path, 1, true))?;
        }
        Ok(())
    }
}

/// Opens a log for appending, creating it 0600: a container's output may carry secrets, so
/// only root reads it (Docker: 0640 root:root).
fn open_append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

fn compress(from: &Path, to: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = PathBuf::from(format!("{}.tmp", to.display()));
    let out = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    let mut enc = GzEncoder::new(out, flate2::Compression::default());
    io::copy(&mut File::open(from)?, &mut enc)?;
    enc.finish()?.sync_all()?;
    std::fs::rename(&tmp, to)?;
    std::fs::remove_file(from)
}

/// `<log>` for 0, `<log>.N` or `<log>.N.gz` otherwise.
pub fn rotated(path: &Path, n: u32, gz: bool) -> PathBuf {
    match (n, gz) {
        (0, _) => path.to_path_buf(),
        (n, false) => PathBuf::from(format!("{}.{n}", path.display())),
        (n, true) => PathBuf::from(format!("{}.{n}.gz", path.display())),
    }
}

/// The contents of every file of a log, oldest rotated file first (compressed ones
/// decompressed); files that vanish meanwhile are skipped.
pub fn read_all(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    let mut files = Vec::new();
    let mut n = 1;
    loop {
        let plain = rotated(path, n, false);
        let gz = rotated(path, n, true);
        if gz.exists() {
            files.push((gz, true));
        } else if plain.exists() {
            files.push((plain, false));
        } else {
            break;
        }
        n += 1;
    }
    files.reverse();
    files.push((path.to_path_buf(), false));
    let mut out = Vec::new();
    for (f, gz) in files {
        let file = match File::open(&f) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut data = Vec::new();
        if gz {
            MultiGzDecoder::new(file).read_to_end(&mut data)?;
        } else {
            (&file).read_to_end(&mut data)?;
        }
        out.push(data);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_compresses_and_reads_back_in_order() {
        let dir = std::env::temp_dir().join(format!("berth-rot-{}", std::process::id()));
        let path = dir.join("x.log");
        let rotation = Rotation {
            max_size: 30,
            max_file: 3,
            compress: true,
        };
        let mut f = RotatingFile::open(&path, rotation).unwrap();
        for i in 0..20 {
            f.write_record(format!("record {i:02}\n").as_bytes())
                .unwrap();
        }
        assert!(rotated(&path, 1, true).exists());
        assert!(rotated(&path, 2, true).exists());
        assert!(!rotated(&path, 3, true).exists());
        assert!(!rotated(&path, 1, false).exists());
        let text: String = read_all(&path)
            .unwrap()
            .into_iter()
            .map(|d| String::from_utf8(d).unwrap())
            .collect();
        assert!(text.ends_with("record 18\nrecord 19\n"), "{text}");
        assert!(text.starts_with("record 1"), "{text}");
        use std::os::unix::fs::PermissionsExt;
        for f in [
            path.clone(),
            rotated(&path, 1, true),
            rotated(&path, 2, true),
        ] {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{} is readable by others", f.display());
        }
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.windows(2).all(|w| w[0] < w[1]), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
