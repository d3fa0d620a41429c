//! The record store: kinds of JSON records on disk, all cached in memory, changed by
//! atomic transactions.
//!
//! Layout under the root:
//! ```text
//! records/<kind>/<encoded key>.json   {"generation": N, "value": …}
//! journal                             a committed multi-record transaction being applied
//! journal.tmp                         a transaction being written (not committed)
//! ```
//! A single-record change is one atomic file replace. A multi-record change is first written
//! as `journal` (fsync, rename, fsync dir: the commit point), then applied record by record,
//! then the journal is removed. Opening the store replays a committed journal, discards an
//! uncommitted one and removes leftover temp files, so a crash at any point leaves either
//! the whole transaction or none of it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{MetadataError, Result};
use crate::fsutil::{
    decode_key, is_hashed_stem, key_stem, remove_if_exists, sync_dir, write_atomic,
    write_replacing, TMP_SUFFIX,
};
use crate::names;

const RECORDS_DIR: &str = "records";
const JOURNAL: &str = "journal";
const RECORD_EXT: &str = ".json";

/// One change of a transaction: `value: None` deletes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Op {
    pub kind: String,
    pub key: String,
    pub value: Option<Value>,
}

#[derive(Serialize, Deserialize)]
struct JournalFile {
    generation: u64,
    ops: Vec<Op>,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    generation: u64,
    /// The key, for records whose file name is a hash of it ([`key_stem`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    value: Value,
}

#[derive(Default)]
pub(crate) struct State {
    pub generation: u64,
    pub records: BTreeMap<String, BTreeMap<String, Value>>,
}

impl State {
    pub fn get(&self, kind: &str, key: &str) -> Option<&Value> {
        self.records.get(kind).and_then(|m| m.get(key))
    }
}

/// Where a simulated crash stops a multi-record commit (tests of recovery only).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// After writing `journal.tmp`, before the commit rename.
    BeforeCommit,
    /// After the commit rename and applying this many ops.
    AfterApplying(usize),
}

/// The crash-safe metadata store. Cheap reads from memory; writes are durable on return.
/// Methods block on disk I/O (fsync); async callers should use `spawn_blocking` for writes.
pub struct Store {
    root: PathBuf,
    state: Mutex<State>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

pub(crate) fn check_kind(kind: &str) -> Result<()> {
    let ok = !kind.is_empty()
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(MetadataError::InvalidKey {
            what: "kind",
            value: kind.to_string(),
        })
    }
}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(MetadataError::InvalidKey {
            what: "key",
            value: key.to_string(),
        });
    }
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the store at `root`, recovering from any interrupted write.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        let records = root.join(RECORDS_DIR);
        crate::fsutil::create_dir_all(&records)?;
        let store = Store {
            root,
            state: Mutex::new(State::default()),
        };
        store.recover()?;
        let state = store.load()?;
        *store.lock() = state;
        Ok(store)
    }

    /// The directory of the store.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn kind_dir(&self, kind: &str) -> PathBuf {
        self.root.join(RECORDS_DIR).join(kind)
    }

    fn record_path(&self, kind: &str, key: &str) -> PathBuf {
        self.kind_dir(kind)
            .join(format!("{}{RECORD_EXT}", key_stem(key).0))
    }

    /// Replays a committed journal, drops an uncommitted one, removes temp files.
    fn recover(&self) -> Result<()> {
        let tmp_journal = self.root.join(format!("{JOURNAL}{TMP_SUFFIX}"));
        remove_if_exists(&tmp_journal)?;
        let journal = self.root.join(JOURNAL);
        if journal.exists() {
            let data = fs::read(&journal).map_err(|e| MetadataError::io(&journal, e))?;
            let j: JournalFile =
                serde_json::from_slice(&data).map_err(|e| MetadataError::Corrupt {
                    path: journal.clone(),
                    source: e,
                })?;
            self.apply(&j.ops, j.generation)?;
            remove_if_exists(&journal)?;
            sync_dir(&self.root)?;
        }
        let records = self.root.join(RECORDS_DIR);
        for entry in fs::read_dir(&records).map_err(|e| MetadataError::io(&records, e))? {
            let dir = entry.map_err(|e| MetadataError::io(&records, e))?.path();
            if !dir.is_dir() {
                continue;
            }
            let mut removed = false;
            for f in fs::read_dir(&dir).map_err(|e| MetadataError::io(&dir, e))? {
                let p = f.map_err(|e| MetadataError::io(&dir, e))?.path();
                if p.to_string_lossy().ends_with(TMP_SUFFIX) {
                    removed |= remove_if_exists(&p)?;
                }
            }
            if removed {
                sync_dir(&dir)?;
            }
        }
        Ok(())
    }

    fn load(&self) -> Result<State> {
        let mut state = State::default();
        let records = self.root.join(RECORDS_DIR);
        for entry in fs::read_dir(&records).map_err(|e| MetadataError::io(&records, e))? {
            let dir = entry.map_err(|e| MetadataError::io(&records, e))?.path();
            let Some(kind) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
                continue;
            };
            if !dir.is_dir() || check_kind(&kind).is_err() {
                continue;
            }
            let map = state.records.entry(kind).or_default();
            for f in fs::read_dir(&dir).map_err(|e| MetadataError::io(&dir, e))? {
                let p = f.map_err(|e| MetadataError::io(&dir, e))?.path();
                let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                let Some(stem) = name.strip_suffix(RECORD_EXT) else {
                    continue;
                };
                let hashed = is_hashed_stem(stem);
                let Some(decoded) = (if hashed {
                    Some(String::new())
                } else {
                    decode_key(stem)
                }) else {
                    continue;
                };
                let data = fs::read(&p).map_err(|e| MetadataError::io(&p, e))?;
                let env: Envelope =
                    serde_json::from_slice(&data).map_err(|e| MetadataError::Corrupt {
                        path: p.clone(),
                        source: e,
                    })?;
                let key = match (hashed, &env.key) {
                    (false, _) => decoded,
                    (true, Some(k)) if key_stem(k).0 == stem => k.clone(),
                    // A hashed name whose record does not carry the matching key.
                    (true, _) => continue,
                };
                state.generation = state.generation.max(env.generation);
                map.insert(key, env.value);
            }
        }
        Ok(state)
    }

    /// Writes ops to their record files (idempotent), then syncs the touched directories.
    fn apply(&self, ops: &[Op], generation: u64) -> Result<()> {
        self.apply_some(ops, generation, ops.len(), true)
    }

    /// Writes the first `count` ops; with `durable`, each file is fsync'd before its rename
    /// and the touched directories after.
    fn apply_some(&self, ops: &[Op], generation: u64, count: usize, durable: bool) -> Result<()> {
        let mut dirs = BTreeSet::new();
        for op in ops.iter().take(count) {
            let dir = self.kind_dir(&op.kind);
            let path = self.record_path(&op.kind, &op.key);
            match &op.value {
                Some(v) => {
                    crate::fsutil::create_dir_all(&dir)?;
                    let env = Envelope {
                        generation,
                        key: key_stem(&op.key).1.then(|| op.key.clone()),
                        value: v.clone(),
                    };
                    let data = serde_json::to_vec(&env).map_err(|e| MetadataError::Codec {
                        kind: op.kind.clone(),
                        key: op.key.clone(),
                        source: e,
                    })?;
                    write_replacing(&path, &data, durable)?;
                }
                None => {
                    remove_if_exists(&path)?;
                }
            }
            dirs.insert(dir);
        }
        for d in dirs {
            if durable && d.exists() {
                sync_dir(&d)?;
            }
        }
        Ok(())
    }

    /// Durably commits `ops` as one atomic change and updates the cache. Runs under the lock.
    pub(crate) fn commit_ops(
        &self,
        state: &mut State,
        ops: Vec<Op>,
        crash: Option<CrashPoint>,
        durable: bool,
    ) -> Result<u64> {
        if ops.is_empty() {
            return Ok(state.generation);
        }
        let generation = state.generation + 1;
        if !durable {
            self.apply_some(&ops, generation, ops.len(), false)?;
        } else if ops.len() == 1 && crash.is_none() {
            self.apply(&ops, generation)?;
        } else {
            let journal = self.root.join(JOURNAL);
            let tmp = self.root.join(format!("{JOURNAL}{TMP_SUFFIX}"));
            let data = serde_json::to_vec(&JournalFile {
                generation,
                ops: ops.clone(),
            })
            .map_err(|e| MetadataError::Corrupt {
                path: journal.clone(),
                source: e,
            })?;
            if crash == Some(CrashPoint::BeforeCommit) {
                fs::write(&tmp, &data).map_err(|e| MetadataError::io(&tmp, e))?;
                return Ok(generation);
            }
            write_atomic(&journal, &data)?;
            sync_dir(&self.root)?;
            if let Some(CrashPoint::AfterApplying(n)) = crash {
                self.apply_some(&ops, generation, n, true)?;
                return Ok(generation);
            }
            self.apply(&ops, generation)?;
            remove_if_exists(&journal)?;
            sync_dir(&self.root)?;
        }
        state.generation = generation;
        for op in ops {
            let map = state.records.entry(op.kind).or_default();
            match op.value {
                Some(v) => {
                    map.insert(op.key, v);
                }
                None => {
                    map.remove(&op.key);
                }
            }
        }
        Ok(generation)
    }

    /// The generation of the last commit (grows by one per commit; after a restart it is
    /// the highest generation among the surviving records).
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// The record `kind/key` as `T`.
    pub fn get<T: DeserializeOwned>(&self, kind: &str, key: &str) -> Result<Option<T>> {
        let state = self.lock();
        match state.get(kind, key) {
            None => Ok(None),
            Some(v) => T::deserialize(v)
                .map(Some)
                .map_err(|e| MetadataError::Codec {
                    kind: kind.to_string(),
                    key: key.to_string(),
                    source: e,
                }),
        }
    }

    /// True when `kind/key` exists.
    pub fn contains(&self, kind: &str, key: &str) -> bool {
        self.lock().get(kind, key).is_some()
    }

    /// All records of `kind`, sorted by key.
    pub fn list<T: DeserializeOwned>(&self, kind: &str) -> Result<Vec<(String, T)>> {
        let state = self.lock();
        let Some(map) = state.records.get(kind) else {
            return Ok(Vec::new());
        };
        map.iter()
            .map(|(k, v)| {
                T::deserialize(v)
                    .map(|t| (k.clone(), t))
                    .map_err(|e| MetadataError::Codec {
                        kind: kind.to_string(),
                        key: k.clone(),
                        source: e,
                    })
            })
            .collect()
    }

    /// The keys of `kind`, sorted.
    pub fn keys(&self, kind: &str) -> Vec<String> {
        self.lock()
            .records
            .get(kind)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Stores one record (durable on return). Returns the new generation.
    pub fn put<T: Serialize>(&self, kind: &str, key: &str, value: &T) -> Result<u64> {
        let mut txn = self.transaction();
        txn.put(kind, key, value)?;
        txn.commit()
    }

    /// Stores one record like [`put`](Self::put), atomically and at once visible to every
    /// reader (a crash of this process keeps it), but not fsync'd: only for a state that a
    /// durable write supersedes right after (a removal's `removing` mark before the record
    /// goes, a stop's mark before the exit is recorded). After a host crash the record may
    /// be as it was before.
    pub fn put_unsynced<T: Serialize>(&self, kind: &str, key: &str, value: &T) -> Result<u64> {
        check_kind(kind)?;
        check_key(key)?;
        let value = serde_json::to_value(value).map_err(|e| MetadataError::Codec {
            kind: kind.to_string(),
            key: key.to_string(),
            source: e,
        })?;
        let op = Op {
            kind: kind.to_string(),
            key: key.to_string(),
            value: Some(value),
        };
        let mut state = self.lock();
        self.commit_ops(&mut state, vec![op], None, false)
    }

    /// Makes the record `kind/key` as it is now durable (its file and its directory
    /// fsync'd), without writing it again: the durable step of a [`put_unsynced`]
    /// (Self::put_unsynced) that had to be visible first. A record changed meanwhile is
    /// synced as it is now; a missing one is not an error.
    pub fn sync_record(&self, kind: &str, key: &str) -> Result<()> {
        check_kind(kind)?;
        check_key(key)?;
        let path = self.record_path(kind, key);
        // Under the lock: no rename replaces the file between its fsync and the directory's.
        let _state = self.lock();
        match fs::File::open(&path) {
            Ok(f) => f.sync_all().map_err(|e| MetadataError::io(&path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(MetadataError::io(&path, e)),
        }
        sync_dir(&self.kind_dir(kind))
    }

    /// Deletes one record; false when it did not exist.
    pub fn delete(&self, kind: &str, key: &str) -> Result<bool> {
        if !self.contains(kind, key) {
            return Ok(false);
        }
        let mut txn = self.transaction();
        txn.delete(kind, key)?;
        txn.commit()?;
        Ok(true)
    }

    /// Starts a transaction: changes are staged and become visible (and durable) together on
    /// [`Transaction::commit`]; dropping it discards them.
    pub fn transaction(&self) -> Transaction<'_> {
        Transaction {
            store: self,
            ops: Vec::new(),
            names: Vec::new(),
            released: Vec::new(),
        }
    }

    /// Resolves a reference to a full key of `kind` with Docker's order: exact key, then a
    /// name of the kind's name index, then a unique key prefix.
    pub fn resolve(&self, kind: &str, reference: &str) -> Result<String> {
        let state = self.lock();
        let not_found = || MetadataError::NotFound {
            kind: kind.to_string(),
            reference: reference.to_string(),
        };
        if reference.is_empty() {
            return Err(not_found());
        }
        let map = state.records.get(kind);
        if map.is_some_and(|m| m.contains_key(reference)) {
            return Ok(reference.to_string());
        }
        let name = reference.strip_prefix('/').unwrap_or(reference);
        if let Some(Value::String(id)) = state.get(&names::index_kind(kind), name) {
            return Ok(id.clone());
        }
        let Some(map) = map else {
            return Err(not_found());
        };
        let mut hits = map
            .range(reference.to_string()..)
            .take_while(|(k, _)| k.starts_with(reference));
        match (hits.next(), hits.next()) {
            (Some((k, _)), None) => Ok(k.clone()),
            (Some(_), Some(_)) => Err(MetadataError::Ambiguous {
                kind: kind.to_string(),
                prefix: reference.to_string(),
            }),
            (None, _) => Err(not_found()),
        }
    }

    /// The id owning `name` (with or without its leading slash) in `kind`'s name index.
    pub fn name_owner(&self, kind: &str, name: &str) -> Option<String> {
        let name = name.strip_prefix('/').unwrap_or(name);
        match self.lock().get(&names::index_kind(kind), name) {
            Some(Value::String(id)) => Some(id.clone()),
            _ => None,
        }
    }

    /// All `(name, id)` pairs of `kind`'s name index.
    pub fn names(&self, kind: &str) -> Vec<(String, String)> {
        self.list::<String>(&names::index_kind(kind))
            .unwrap_or_default()
    }
}

/// Staged changes committed atomically (see [`Store::transaction`]).
pub struct Transaction<'s> {
    store: &'s Store,
    ops: Vec<Op>,
    /// Name claims to validate at commit: (kind, name, id).
    names: Vec<(String, String, String)>,
    /// Names released by this transaction: (kind, name).
    released: Vec<(String, String)>,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("ops", &self.ops.len())
            .finish()
    }
}

impl Transaction<'_> {
    /// Stages `kind/key = value`.
    pub fn put<T: Serialize>(&mut self, kind: &str, key: &str, value: &T) -> Result<&mut Self> {
        check_kind(kind)?;
        check_key(key)?;
        let value = serde_json::to_value(value).map_err(|e| MetadataError::Codec {
            kind: kind.to_string(),
            key: key.to_string(),
            source: e,
        })?;
        self.push(Op {
            kind: kind.to_string(),
            key: key.to_string(),
            value: Some(value),
        });
        Ok(self)
    }

    /// Stages the deletion of `kind/key`.
    pub fn delete(&mut self, kind: &str, key: &str) -> Result<&mut Self> {
        check_kind(kind)?;
        check_key(key)?;
        self.push(Op {
            kind: kind.to_string(),
            key: key.to_string(),
            value: None,
        });
        Ok(self)
    }

    /// Stages claiming `name` (Docker rules; leading slash optional) for record `id` of
    /// `kind`. Fails at commit with [`MetadataError::NameInUse`] when another id owns it.
    pub fn claim_name(&mut self, kind: &str, name: &str, id: &str) -> Result<&mut Self> {
        let bare = names::validate(kind, name)?;
        self.names
            .push((kind.to_string(), bare.clone(), id.to_string()));
        let index = names::index_kind(kind);
        self.put(&index, &bare, &id.to_string())
    }

    /// Stages releasing `name` of `kind`.
    pub fn release_name(&mut self, kind: &str, name: &str) -> Result<&mut Self> {
        let bare = name.strip_prefix('/').unwrap_or(name).to_string();
        let index = names::index_kind(kind);
        self.released.push((kind.to_string(), bare.clone()));
        self.delete(&index, &bare)
    }

    fn push(&mut self, op: Op) {
        // A later op on the same record replaces an earlier one.
        self.ops.retain(|o| !(o.kind == op.kind && o.key == op.key));
        self.ops.push(op);
    }

    /// Validates and durably applies all staged changes at once; returns the generation.
    pub fn commit(self) -> Result<u64> {
        self.commit_inner(None)
    }

    /// Commits but stops at `crash`, leaving the disk as a crash there would (tests only).
    #[doc(hidden)]
    pub fn commit_and_crash_at(self, crash: CrashPoint) -> Result<u64> {
        self.commit_inner(Some(crash))
    }

    fn commit_inner(self, crash: Option<CrashPoint>) -> Result<u64> {
        let mut state = self.store.lock();
        for (kind, name, id) in &self.names {
            let index = names::index_kind(kind);
            // Released in this same transaction? Then it is free.
            if self.released.iter().any(|(k, n)| k == kind && n == name) {
                continue;
            }
            if let Some(Value::String(owner)) = state.get(&index, name) {
                if owner != id {
                    return Err(MetadataError::NameInUse {
                        kind: kind.clone(),
                        name: name.clone(),
                        id: owner.clone(),
                    });
                }
            }
        }
        self.store.commit_ops(&mut state, self.ops, crash, true)
    }
}
