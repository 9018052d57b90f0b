//! Where each followed file was read to, in `DATA_DIR/checkpoints.json`:
//! written aside, synced and renamed over the old one, so that a crash
//! leaves the old file or the new one, never a torn one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One followed path: the file (device, inode) it was, read and matched
/// up to `offset` (the end of line `line`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub path: PathBuf,
    pub dev: u64,
    pub inode: u64,
    pub offset: u64,
    pub line: usize,
}

#[derive(Default, Serialize, Deserialize)]
struct File {
    files: Vec<Entry>,
}

/// The checkpoints of every followed path, shared by the followers.
pub struct Checkpoints {
    path: PathBuf,
    entries: Mutex<BTreeMap<PathBuf, Entry>>,
}

impl Checkpoints {
    /// Reads `dir/checkpoints.json` (none yet: empty); creates `dir`.
    pub fn open(dir: &Path) -> Result<Checkpoints, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("data_dir: cannot create {}: {e}", dir.display()))?;
        let path = dir.join("checkpoints.json");
        let entries = match std::fs::read(&path) {
            Ok(bytes) => {
                let file: File = serde_json::from_slice(&bytes).map_err(|e| {
                    format!(
                        "{}: not a checkpoint file ({e}); move it aside to read the files from their start",
                        path.display()
                    )
                })?;
                file.files
                    .into_iter()
                    .map(|e| (e.path.clone(), e))
                    .collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Ok(Checkpoints {
            path,
            entries: Mutex::new(entries),
        })
    }

    pub fn get(&self, path: &Path) -> Option<Entry> {
        self.entries.lock().ok()?.get(path).cloned()
    }

    /// The entries whose path `keep` holds.
    pub fn matching(&self, keep: &dyn Fn(&Path) -> bool) -> Vec<Entry> {
        let Ok(entries) = self.entries.lock() else {
            return Vec::new();
        };
        entries
            .values()
            .filter(|e| keep(&e.path))
            .cloned()
            .collect()
    }

    /// Records `entry` and writes the file.
    pub fn set(&self, entry: Entry) -> std::io::Result<()> {
        let Ok(mut entries) = self.entries.lock() else {
            return Err(std::io::Error::other("poisoned"));
        };
        if entries.get(&entry.path) == Some(&entry) {
            return Ok(());
        }
        entries.insert(entry.path.clone(), entry);
        // Written under the lock: two followers do not race on the file.
        write(&self.path, &entries)
    }

    /// Forgets `path` (a file deleted and read to its end).
    pub fn remove(&self, path: &Path) -> std::io::Result<()> {
        let Ok(mut entries) = self.entries.lock() else {
            return Err(std::io::Error::other("poisoned"));
        };
        if entries.remove(path).is_none() {
            return Ok(());
        }
        write(&self.path, &entries)
    }
}

fn write(path: &Path, entries: &BTreeMap<PathBuf, Entry>) -> std::io::Result<()> {
    let file = File {
        files: entries.values().cloned().collect(),
    };
    let mut text = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
    text.push(b'\n');
    let aside = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&aside)?;
    f.write_all(&text)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&aside, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_the_file() {
        let dir = std::env::temp_dir().join(format!("ward-cp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cp = Checkpoints::open(&dir).unwrap();
        assert_eq!(cp.get(Path::new("/a.log")), None);
        let e = Entry {
            path: "/a.log".into(),
            dev: 1,
            inode: 2,
            offset: 30,
            line: 3,
        };
        cp.set(e.clone()).unwrap();
        let again = Checkpoints::open(&dir).unwrap();
        assert_eq!(again.get(Path::new("/a.log")), Some(e));
        again.remove(Path::new("/a.log")).unwrap();
        assert_eq!(
            Checkpoints::open(&dir).unwrap().get(Path::new("/a.log")),
            None
        );
        std::fs::write(dir.join("checkpoints.json"), "{torn").unwrap();
        let e = Checkpoints::open(&dir).err().unwrap();
        assert!(e.contains("not a checkpoint file"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
