//! `docker save` / `docker load` archives, rootfs import and container export.
//!
//! Load understands the classic layout (`manifest.json` + `<id>.json` + `<dir>/layer.tar`,
//! with symlinked duplicate layers), the Docker 25+ layout (OCI `index.json`, `oci-layout`,
//! `blobs/sha256/…` plus a `manifest.json` pointing into `blobs/`) and plain OCI layout
//! tars. Save writes what Docker 25+ writes: OCI layout plus `manifest.json` and
//! `repositories`, layers uncompressed (blob digest = diff_id).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read, Write};
use std::path::Path;

use berth_content::{media_types as mt, Descriptor, Digest};
use serde::{Deserialize, Serialize};

use crate::config::{History, ImageConfig, RootFs};
use crate::error::{invalid, ImageError, IoContext, Result};
use crate::install::Images;
use crate::manifest::{Compression, Index, Manifest, ManifestDoc};
use crate::names::{familiar, normalize_tagged};
use crate::platform::{select_manifest, PlatformSpec};
use crate::store::ImageRecord;
use crate::unpack::unpack_layer;

/// Annotation carrying the full image name in OCI layouts written by containerd/Docker.
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// OCI annotation carrying the reference name (Docker writes the tag here).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// One image loaded from an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// Image id (config digest).
    pub id: Digest,
    /// Normalised names it was tagged with.
    pub names: Vec<String>,
}

/// An entry of `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveManifest {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// The files of an archive, as blobs in the content store (read once, streamed).
#[derive(Default)]
struct ArchiveFiles {
    blobs: HashMap<String, (Digest, u64)>,
    links: HashMap<String, String>,
}

/// Blobs a load added to the content store.
#[derive(Default)]
struct Added(Vec<Digest>);

impl ArchiveFiles {
    fn get(&self, name: &str) -> Result<&(Digest, u64)> {
        let mut name =
            clean_name(name).ok_or_else(|| invalid("archive", format!("bad path {name:?}")))?;
        for _ in 0..16 {
            if let Some(b) = self.blobs.get(&name) {
                return Ok(b);
            }
            match self.links.get(&name) {
                Some(t) => name = t.clone(),
                None => break,
            }
        }
        Err(invalid("archive", format!("missing file {name}")))
    }
}

/// Cleans an archive path; `None` when it climbs out of the archive.
fn clean_name(name: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            c => out.push(c),
        }
    }
    Some(out.join("/"))
}

/// Loads every image of a `docker save` / OCI layout tar (optionally gzip/zstd-compressed)
/// and tags it with the names it carries.
///
/// Nothing of the archive stays in the content store unless an image uses it: the blobs
/// this load added that no image record names (all of a refused archive's; `manifest.json`,
/// `repositories`, `index.json` of a loaded one) are deleted before it returns.
pub fn load(images: &Images, src: impl Read) -> Result<Vec<LoadedImage>> {
    let mut added = Added::default();
    let loaded = load_files(images, src, &mut added);
    let named = named_blobs(images);
    for d in added.0.iter().filter(|d| !named.contains(*d)) {
        let _ = images.content.delete(d);
    }
    loaded
}

/// Every blob an image record names (config, manifest, index, layers).
fn named_blobs(images: &Images) -> HashSet<Digest> {
    let mut named = HashSet::new();
    for r in images.store.list().unwrap_or_default() {
        named.insert(r.id);
        named.insert(r.manifest_digest);
        named.extend(r.index_digest);
        for l in r.layers {
            named.insert(l.digest);
            named.insert(l.diff_id);
        }
    }
    named
}

fn load_files(images: &Images, src: impl Read, added: &mut Added) -> Result<Vec<LoadedImage>> {
    let files = read_archive(images, src, added)?;
    let mut out = Vec::new();
    if let Ok((manifest_json, _)) = files.get("manifest.json") {
        let bytes = images.content.read_blob(manifest_json)?;
        let entries: Vec<ArchiveManifest> =
            serde_json::from_slice(&bytes).map_err(|e| invalid("manifest.json", e))?;
        for entry in entries {
            let (config, config_size) = files.get(&entry.config)?.clone();
            let mut layers = Vec::new();
            for l in &entry.layers {
                let (digest, size) = files.get(l)?.clone();
                let mut head = [0u8; 4];
                let n = images
                    .content
                    .open_blob(&digest)?
                    .read(&mut head)
                    .unwrap_or(0);
                let media = Compression::detect(&head[..n]).oci_media_type();
                layers.push(Descriptor::new(media, digest, size));
            }
            let manifest =
                Manifest::oci(Descriptor::new(mt::OCI_CONFIG, config, config_size), layers);
            let digest = images.put_manifest(&manifest)?;
            // Written by this load unless an image already uses it (then it is named).
            added.0.push(digest.clone());
            let record = images.install(&digest, &manifest, None, &|_, _| {})?;
            let names = entry
                .repo_tags
                .unwrap_or_default()
                .iter()
                .filter_map(|t| normalize_tagged(t))
                .collect();
            out.push(tag_all(images, record, names)?);
        }
    } else if let Ok((index_blob, _)) = files.get("index.json") {
        let bytes = images.content.read_blob(index_blob)?;
        let index: Index = serde_json::from_slice(&bytes).map_err(|e| invalid("index.json", e))?;
        for desc in &index.manifests {
            let name = desc
                .annotations
                .get(ANNOTATION_IMAGE_NAME)
                .or_else(|| desc.annotations.get(ANNOTATION_REF_NAME))
                .and_then(|n| normalize_tagged(n));
            let record = load_oci_descriptor(images, desc, 0)?;
            out.push(tag_all(images, record, name.into_iter().collect())?);
        }
    } else {
        return Err(invalid(
            "archive",
            "neither manifest.json nor index.json found",
        ));
    }
    Ok(out)
}

fn tag_all(images: &Images, record: ImageRecord, names: Vec<String>) -> Result<LoadedImage> {
    for n in &names {
        images.store.tag(n, &record.id)?;
    }
    Ok(LoadedImage {
        id: record.id,
        names,
    })
}

fn load_oci_descriptor(images: &Images, desc: &Descriptor, depth: u32) -> Result<ImageRecord> {
    if depth > 4 {
        return Err(invalid("index.json", "indexes nested too deeply"));
    }
    let bytes = images.content.read_blob(&desc.digest)?;
    match ManifestDoc::parse(&desc.media_type, &bytes)? {
        ManifestDoc::Manifest(m) => images.install(&desc.digest, &m, None, &|_, _| {}),
        ManifestDoc::Index(idx) => {
            let chosen = select_manifest(&idx, &PlatformSpec::host())
                .or_else(|_| {
                    idx.manifests
                        .first()
                        .ok_or_else(|| invalid("index", "empty"))
                })?
                .clone();
            let rec = load_oci_descriptor(images, &chosen, depth + 1)?;
            let rec = ImageRecord {
                index_digest: Some(desc.digest.clone()),
                ..rec
            };
            images.store.put(&rec)?;
            Ok(rec)
        }
    }
}

/// Streams every regular file of the archive into the content store.
fn read_archive(images: &Images, src: impl Read, added: &mut Added) -> Result<ArchiveFiles> {
    let bad = |reason: String| ImageError::Invalid {
        what: "archive".into(),
        reason,
    };
    let (_, reader) = crate::unpack::decompress(src).map_err(|e| bad(e.to_string()))?;
    let mut archive = tar::Archive::new(reader);
    let mut files = ArchiveFiles::default();
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name =
            clean_name(&raw).ok_or_else(|| bad(format!("path escapes the archive: {raw}")))?;
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.size();
                // Blobs named by digest are verified while written.
                let expected = name
                    .strip_prefix("blobs/")
                    .and_then(|rest| rest.split_once('/'))
                    .and_then(|(algo, hex)| Digest::parse(&format!("{algo}:{hex}")).ok());
                let digest = match &expected {
                    Some(d) if images.content.contains(d) => {
                        io::copy(&mut entry, &mut io::sink()).map_err(|e| bad(e.to_string()))?;
                        d.clone()
                    }
                    _ => {
                        let mut w = images
                            .content
                            .writer(expected.as_ref().map(|d| (d, size)))?;
                        io::copy(&mut entry, &mut w).map_err(|e| bad(format!("{name}: {e}")))?;
                        let (digest, published) = w.commit_reporting()?;
                        if published {
                            added.0.push(digest.clone());
                        }
                        digest
                    }
                };
                files.blobs.insert(name, (digest, size));
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                let resolved = if entry.header().entry_type() == tar::EntryType::Link {
                    clean_name(&target)
                } else {
                    let dir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                    clean_name(&format!("{dir}/{target}"))
                };
                let resolved =
                    resolved.ok_or_else(|| bad(format!("link escapes the archive: {raw}")))?;
                files.links.insert(name, resolved);
            }
            _ => {}
        }
    }
    Ok(files)
}

/// Writes `docker save` output for `refs` (names or ids) in Docker 25+'s layout.
pub fn save(images: &Images, refs: &[String], out: impl Write) -> Result<()> {
    let mut builder = tar::Builder::new(out);
    let mut written: HashSet<String> = HashSet::new();
    let mut index = Vec::new();
    let mut manifests = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut by_id: Vec<(Digest, Vec<String>)> = Vec::new();
    for r in refs {
        let normalized = normalize_tagged(r);
        let (id, name) = match normalized
            .as_ref()
            .and_then(|n| images.store.references().ok()?.get(n).cloned())
        {
            Some(id) => (id, normalized),
            None => (images.store.resolve(r)?, None),
        };
        match by_id.iter_mut().find(|(i, _)| *i == id) {
            Some((_, names)) => names.extend(name),
            None => by_id.push((id, name.into_iter().collect())),
        }
    }
    let err = |e: io::Error| ImageError::Io {
        op: "write archive",
        path: "<save>".into(),
        source: e,
    };
    append_dir(&mut builder, "blobs/").map_err(err)?;
    append_dir(&mut builder, "blobs/sha256/").map_err(err)?;
    for (id, names) in by_id {
        let rec = images.store.get(&id)?;
        let config_size = images
            .content
            .size(&id)
            .ok_or_else(|| ImageError::NotFound(id.to_string()))?;
        append_blob(images, &mut builder, &mut written, &id).map_err(err)?;
        let mut layers = Vec::new();
        for l in &rec.layers {
            let size = ensure_uncompressed(images, &l.digest, &l.diff_id)?;
            append_blob(images, &mut builder, &mut written, &l.diff_id).map_err(err)?;
            layers.push(Descriptor::new(mt::OCI_LAYER_TAR, l.diff_id.clone(), size));
        }
        let manifest = Manifest::oci(
            Descriptor::new(mt::OCI_CONFIG, id.clone(), config_size),
            layers,
        );
        let manifest_bytes = manifest.to_bytes();
        let manifest_digest = images.content.write_blob(&manifest_bytes)?;
        append_blob(images, &mut builder, &mut written, &manifest_digest).map_err(err)?;
        let mdesc = Descriptor::new(
            mt::OCI_MANIFEST,
            manifest_digest,
            manifest_bytes.len() as u64,
        );
        if names.is_empty() {
            index.push(mdesc.clone());
        }
        for n in &names {
            let mut d = mdesc.clone();
            d.annotations
                .insert(ANNOTATION_IMAGE_NAME.into(), n.clone());
            if let Some((repo, tag)) = n.rsplit_once(':') {
                d.annotations.insert(ANNOTATION_REF_NAME.into(), tag.into());
                if let Some(top) = rec.layers.last() {
                    repositories
                        .entry(familiar(repo))
                        .or_default()
                        .insert(tag.into(), top.diff_id.hex().to_string());
                }
            }
            index.push(d);
        }
        manifests.push(ArchiveManifest {
            config: format!("blobs/sha256/{}", id.hex()),
            repo_tags: Some(names.iter().map(|n| familiar(n)).collect()),
            layers: rec
                .layers
                .iter()
                .map(|l| format!("blobs/sha256/{}", l.diff_id.hex()))
                .collect(),
        });
    }
    append_file(&mut builder, "index.json", &json(&Index::oci(index))).map_err(err)?;
    append_file(&mut builder, "manifest.json", &json(&manifests)).map_err(err)?;
    append_file(
        &mut builder,
        "oci-layout",
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .map_err(err)?;
    if !repositories.is_empty() {
        append_file(&mut builder, "repositories", &json(&repositories)).map_err(err)?;
    }
    builder
        .into_inner()
        .and_then(|mut w| w.flush())
        .map_err(err)
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("archive JSON serialises")
}

/// Makes sure the uncompressed form of a layer is a blob (digest = diff_id); returns its size.
fn ensure_uncompressed(images: &Images, blob: &Digest, diff_id: &Digest) -> Result<u64> {
    if let Some(size) = images.content.size(diff_id) {
        return Ok(size);
    }
    let (_, mut reader) = crate::unpack::decompress(images.content.open_blob(blob)?)
        .ctx("read", images.content.path(blob))?;
    let mut w = images.content.writer_with(Some(diff_id), None)?;
    io::copy(&mut reader, &mut w).ctx("decompress", images.content.path(blob))?;
    w.commit()?;
    Ok(images.content.size(diff_id).unwrap_or(0))
}

fn header(size: u64, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

fn append_dir<W: Write>(b: &mut tar::Builder<W>, name: &str) -> io::Result<()> {
    b.append_data(
        &mut header(0, 0o755, tar::EntryType::Directory),
        name,
        io::empty(),
    )
}

fn append_file<W: Write>(b: &mut tar::Builder<W>, name: &str, data: &[u8]) -> io::Result<()> {
    b.append_data(
        &mut header(data.len() as u64, 0o644, tar::EntryType::Regular),
        name,
        data,
    )
}

fn append_blob<W: Write>(
    images: &Images,
    b: &mut tar::Builder<W>,
    written: &mut HashSet<String>,
    digest: &Digest,
) -> io::Result<()> {
    let name = format!("blobs/sha256/{}", digest.hex());
    if !written.insert(name.clone()) {
        return Ok(());
    }
    let f = images.content.open_blob(digest).map_err(io::Error::other)?;
    let size = f.metadata()?.len();
    b.append_data(&mut header(size, 0o644, tar::EntryType::Regular), name, f)
}

/// Options of [`import`].
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Default container config of the new image (`docker import --change`).
    pub config: Option<crate::config::ContainerConfig>,
    /// History comment (`docker import --message`); default "Imported from -".
    pub message: Option<String>,
    /// Platform to record; default the host's.
    pub platform: Option<PlatformSpec>,
}

/// A reader that copies everything it reads into a writer.
struct Tee<R, W> {
    reader: R,
    writer: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        self.writer.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Imports a rootfs tarball (plain/gzip/zstd) as a one-layer image (`docker import`).
pub fn import(images: &Images, src: impl Read, opts: &ImportOptions) -> Result<ImageRecord> {
    let pending = images.snapshots.begin_layer()?;
    let mut tee = Tee {
        reader: src,
        writer: images.content.writer(None)?,
    };
    let unpacked = unpack_layer(&mut tee, &pending.path(), None, "import")?;
    io::copy(&mut tee, &mut io::sink()).ctx("read", "<import>")?;
    let blob = tee.writer.commit()?;
    let blob_size = images.content.size(&blob).unwrap_or(0);
    images
        .snapshots
        .commit_pending(pending, unpacked.diff_id.as_str(), None)?;
    let platform = opts.platform.clone().unwrap_or_default();
    let now = berth_units::Timestamp::now().to_rfc3339(berth_units::SubSeconds::Omit);
    let config = ImageConfig {
        created: Some(now.clone()),
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        variant: platform.variant.clone(),
        config: opts.config.clone(),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![unpacked.diff_id.clone()],
        },
        history: vec![History {
            created: Some(now),
            created_by: Some(String::new()),
            comment: Some(
                opts.message
                    .clone()
                    .unwrap_or_else(|| "Imported from -".into()),
            ),
            ..History::default()
        }],
        ..ImageConfig::default()
    };
    let config_bytes = config.to_bytes();
    let config_digest = images.content.write_blob(&config_bytes)?;
    let manifest = Manifest::oci(
        Descriptor::new(mt::OCI_CONFIG, config_digest, config_bytes.len() as u64),
        vec![Descriptor::new(
            unpacked.compression.oci_media_type(),
            blob,
            blob_size,
        )],
    );
    let digest = images.put_manifest(&manifest)?;
    images.install(&digest, &manifest, None, &|_, _| {})
}

/// Writes the filesystem tree at `root` (e.g. a mounted container rootfs) as a tar
/// (`docker export`).
pub fn export(root: &Path, out: impl Write) -> Result<()> {
    Ok(berth_snapshot::write_layer_tar(root, out)?)
}
