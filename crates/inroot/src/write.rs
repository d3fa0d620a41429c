//! A tar of a located path, named as Docker's `TarResourceRebase` names it.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::locate::{is_pseudo_fs, Located};
use crate::root::proc_fd_path;

/// Writes a tar of `loc` (recursively for a directory) to `out`, named as Docker's
/// `TarResourceRebase` names them: `name/…` for a path, `./…` for `dir/.`, `/…` for the root.
/// Directories are walked through descriptors (`O_NOFOLLOW` per name), regular files read
/// through the descriptor already found; kernel filesystems (`/proc`, `/sys`, …) are
/// archived as empty directories; sockets are skipped, as Docker does.
pub fn write_tar<W: Write>(loc: &Located, out: W) -> io::Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let mut links = HashMap::new();
    let top: &[u8] = if loc.name == "/" {
        b""
    } else {
        loc.name.as_bytes()
    };
    add_entry(&mut b, loc.fd.as_fd(), &loc.stat, top, &mut links)?;
    b.into_inner()?.flush()
}

fn header_for(st: &Stat, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
    h.set_size(0);
    h
}

/// A GNU long-name (`L`) or long-link (`K`) record for `text`.
fn long_record<W: Write>(b: &mut tar::Builder<W>, kind: u8, text: &[u8]) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_mode(0o644);
    h.set_size(text.len() as u64 + 1);
    h.set_cksum();
    b.append(&h, text.chain(&[0u8][..]))
}

/// Appends an entry named exactly `name` (the tar crate's path setters would normalise the
/// `./` and `/` prefixes Docker's clients rely on), with `link` as its link name.
fn append_named<W: Write, R: Read>(
    b: &mut tar::Builder<W>,
    mut h: tar::Header,
    name: &[u8],
    link: Option<&[u8]>,
    data: R,
) -> io::Result<()> {
    if name.len() > 100 {
        long_record(b, b'L', name)?;
    }
    let n = name.len().min(100);
    h.as_old_mut().name = [0; 100];
    h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
    if let Some(link) = link {
        if link.len() > 100 {
            long_record(b, b'K', link)?;
        }
        let n = link.len().min(100);
        h.as_old_mut().linkname = [0; 100];
        h.as_old_mut().linkname[..n].copy_from_slice(&link[..n]);
    }
    h.set_cksum();
    b.append(&h, data)
}

fn child_name(parent: &[u8], child: &[u8]) -> Vec<u8> {
    let mut v = parent.to_vec();
    v.push(b'/');
    v.extend_from_slice(child);
    v
}

fn add_entry<W: Write>(
    b: &mut tar::Builder<W>,
    fd: BorrowedFd<'_>,
    st: &Stat,
    name: &[u8],
    links: &mut HashMap<(u64, u64), Vec<u8>>,
) -> io::Result<()> {
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            let h = header_for(st, tar::EntryType::Directory);
            append_named(b, h, &child_name(name, b""), None, io::empty())?;
            if is_pseudo_fs(fd) {
                return Ok(());
            }
            // A readable descriptor of the same directory ("." cannot be a symlink).
            let readable = rustix::fs::openat(
                fd,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            let mut dir = rustix::fs::Dir::new(readable)?;
            let mut names: Vec<Vec<u8>> = Vec::new();
            while let Some(e) = dir.read() {
                let e = e?;
                let n = e.file_name().to_bytes();
                if n != b"." && n != b".." {
                    names.push(n.to_vec());
                }
            }
            names.sort();
            for child in names {
                let cfd = match rustix::fs::openat(
                    fd,
                    OsStr::from_bytes(&child),
                    OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(f) => f,
                    Err(Errno::NOENT) => continue, // removed meanwhile
                    Err(e) => return Err(e.into()),
                };
                let cst = rustix::fs::fstat(&cfd)?;
                add_entry(b, cfd.as_fd(), &cst, &child_name(name, &child), links)?;
            }
        }
        FileType::RegularFile => {
            if st.st_nlink > 1 {
                let key = (st.st_dev, st.st_ino);
                if let Some(first) = links.get(&key) {
                    let h = header_for(st, tar::EntryType::Link);
                    return append_named(b, h, name, Some(first), io::empty());
                }
                links.insert(key, name.to_vec());
            }
            // Re-open the inode already found (the magic link names it, no new lookup).
            let file = std::fs::File::open(proc_fd_path(&fd))?;
            let size = u64::try_from(st.st_size).unwrap_or(0);
            let mut h = header_for(st, tar::EntryType::Regular);
            h.set_size(size);
            // Exactly `size` bytes even if the file changes while it is read.
            let data = file.take(size).chain(io::repeat(0)).take(size);
            append_named(b, h, name, None, data)?;
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(fd, "", Vec::new())?;
            let h = header_for(st, tar::EntryType::Symlink);
            append_named(b, h, name, Some(target.as_bytes()), io::empty())?;
        }
        t @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
            let kind = match t {
                FileType::CharacterDevice => tar::EntryType::Char,
                FileType::BlockDevice => tar::EntryType::Block,
                _ => tar::EntryType::Fifo,
            };
            let mut h = header_for(st, kind);
            if kind != tar::EntryType::Fifo {
                h.set_device_major(rustix::fs::major(st.st_rdev))?;
                h.set_device_minor(rustix::fs::minor(st.st_rdev))?;
            }
            append_named(b, h, name, None, io::empty())?;
        }
        _ => {} // sockets are not archived (as Docker)
    }
    Ok(())
}
