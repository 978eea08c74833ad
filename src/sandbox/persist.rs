//! Crash-safe persistence in redb: one table of objects (key `group/resource/namespace/name`, value the
//! JSON), one of counters (`rv`). Every change is its own committed transaction, written before memory
//! and watchers see it, so the file always holds a prefix of the resourceVersion sequence.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::Value;

use super::store::{GroupResource, ObjectKey};

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot create the state directory {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    #[error("cannot make {0} private to its owner: {1}")]
    Private(PathBuf, std::io::Error),
    #[error("redb: {0}")]
    Db(#[from] redb::Error),
    #[error("object {key} in the state file is not valid JSON: {source}")]
    Corrupt { key: String, source: serde_json::Error },
}

macro_rules! db_err {
    ($e:expr) => {
        $e.map_err(|e| PersistError::Db(e.into()))
    };
}

fn encode_key(key: &ObjectKey) -> String {
    format!("{}/{}/{}/{}", key.gr.group, key.gr.resource, key.namespace, key.name)
}

fn decode_key(raw: &str) -> Option<ObjectKey> {
    let mut parts = raw.splitn(4, '/');
    let group = parts.next()?.to_string();
    let resource = parts.next()?.to_string();
    let namespace = parts.next()?.to_string();
    let name = parts.next()?.to_string();
    Some(ObjectKey { gr: GroupResource { group, resource }, namespace, name })
}

/// An open state file.
pub struct Persist {
    db: Database,
}

/// What a state file held: the last resourceVersion and every object.
pub struct Loaded {
    pub rv: u64,
    pub objects: Vec<(ObjectKey, Value)>,
}

impl Persist {
    /// Opens (or creates) `dir/sandbox.redb` and reads everything back.
    pub fn open(dir: &Path) -> Result<(Persist, Loaded), PersistError> {
        std::fs::create_dir_all(dir).map_err(|e| PersistError::Dir(dir.to_path_buf(), e))?;
        let file = dir.join("sandbox.redb");
        make_private(dir, &file)?;
        let db = db_err!(Database::create(&file))?;
        // Make sure both tables exist so a fresh file reads back empty.
        let txn = db_err!(db.begin_write())?;
        db_err!(txn.open_table(OBJECTS))?;
        db_err!(txn.open_table(META))?;
        db_err!(txn.commit())?;
        let read = db_err!(db.begin_read())?;
        let meta = db_err!(read.open_table(META))?;
        let rv = db_err!(meta.get("rv"))?.map(|g| g.value()).unwrap_or(0);
        let table = db_err!(read.open_table(OBJECTS))?;
        let mut objects = Vec::new();
        for entry in db_err!(table.iter())? {
            let (k, v) = db_err!(entry)?;
            let key_str = k.value().to_string();
            let Some(key) = decode_key(&key_str) else {
                tracing::warn!(key = %key_str, "skipping a malformed key in the sandbox state");
                continue;
            };
            let obj: Value =
                serde_json::from_slice(v.value()).map_err(|source| PersistError::Corrupt { key: key_str, source })?;
            objects.push((key, obj));
        }
        drop(table);
        drop(meta);
        drop(read);
        Ok((Persist { db }, Loaded { rv, objects }))
    }

    /// Records one change: the object's new state (`None`: removed) and the counter, atomically.
    pub fn write(&self, rv: u64, key: &ObjectKey, obj: Option<&Value>) -> Result<(), PersistError> {
        let k = encode_key(key);
        let txn = db_err!(self.db.begin_write())?;
        {
            let mut table = db_err!(txn.open_table(OBJECTS))?;
            match obj {
                Some(o) => {
                    let bytes =
                        serde_json::to_vec(o).map_err(|source| PersistError::Corrupt { key: k.clone(), source })?;
                    db_err!(table.insert(k.as_str(), bytes.as_slice()))?;
                }
                None => {
                    db_err!(table.remove(k.as_str()))?;
                }
            }
            let mut meta = db_err!(txn.open_table(META))?;
            db_err!(meta.insert("rv", rv))?;
        }
        db_err!(txn.commit())?;
        Ok(())
    }
}

/// The state holds Secrets: the directory is the owner's alone (0700) and the file is created, or narrowed if an
/// older version left it readable, with mode 0600 before redb writes anything to it.
fn make_private(dir: &Path, file: &Path) -> Result<(), PersistError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let err = |path: &Path, e| PersistError::Private(path.to_path_buf(), e);
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| err(dir, e))?;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(file)
            .map_err(|e| err(file, e))?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(|e| err(file, e))?;
    }
    #[cfg(not(unix))]
    let _ = (dir, file);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let key = ObjectKey {
            gr: GroupResource { group: String::new(), resource: "configmaps".into() },
            namespace: "default".into(),
            name: "a".into(),
        };
        {
            let (p, loaded) = Persist::open(dir.path()).unwrap();
            assert_eq!(loaded.rv, 0);
            p.write(7, &key, Some(&json!({"metadata": {"name": "a"}}))).unwrap();
        }
        let (p, loaded) = Persist::open(dir.path()).unwrap();
        assert_eq!(loaded.rv, 7);
        assert_eq!(loaded.objects, vec![(key.clone(), json!({"metadata": {"name": "a"}}))]);
        p.write(8, &key, None).unwrap();
        drop(p);
        let (_, loaded) = Persist::open(dir.path()).unwrap();
        assert_eq!((loaded.rv, loaded.objects.len()), (8, 0));
    }

    #[cfg(unix)]
    #[test]
    fn state_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("state");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        drop(Persist::open(&dir).unwrap());
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("sandbox.redb")), 0o600);
        // A file an older version left world-readable is narrowed on the next open.
        std::fs::set_permissions(dir.join("sandbox.redb"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        drop(Persist::open(&dir).unwrap());
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("sandbox.redb")), 0o600);
    }
}
