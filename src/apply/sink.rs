//! Where the value of a new API key goes, the one time tenet sees it: a
//! file (written with mode 0600 next to where it lands, then moved into
//! place, so a reader never sees half a key), standard output (kept here
//! for `apply` to print through the one writer of stdout), or nowhere,
//! when the files name no sink: the value is then lost, and said to be.
//! Values are held in [`Secret`], whose `Debug` shows nothing.

use std::path::Path;
use std::sync::Mutex;

use crate::model::{KeySink, ObjectId};

/// A secret value; `Debug` redacts it, and it is not `Serialize`.
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// What became of each value the platform made during an apply.
#[derive(Debug, Default)]
pub struct Issued {
    printed: Mutex<Vec<(ObjectId, Secret)>>,
    written: Mutex<Vec<(ObjectId, String)>>,
    lost: Mutex<Vec<ObjectId>>,
}

fn push<T>(m: &Mutex<Vec<T>>, item: T) {
    m.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(item);
}

fn take<T>(m: &Mutex<Vec<T>>) -> Vec<T> {
    std::mem::take(&mut *m.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

impl Issued {
    /// Hands `value`, made for `id`, to `sink`.
    pub fn deliver(
        &self,
        id: &ObjectId,
        sink: Option<&KeySink>,
        value: &str,
    ) -> Result<(), String> {
        match sink {
            Some(KeySink::File(path)) => {
                write_file(Path::new(path), value).map_err(|e| format!("{path}: {e}"))?;
                push(&self.written, (id.clone(), path.clone()));
            }
            Some(KeySink::Stdout) => push(&self.printed, (id.clone(), Secret(value.to_owned()))),
            None => push(&self.lost, id.clone()),
        }
        Ok(())
    }

    /// The values to print, in the order they came.
    pub fn take_printed(&self) -> Vec<(ObjectId, Secret)> {
        take(&self.printed)
    }

    /// The files written, by key.
    pub fn take_written(&self) -> Vec<(ObjectId, String)> {
        take(&self.written)
    }

    /// The keys whose value went nowhere.
    pub fn take_lost(&self) -> Vec<ObjectId> {
        take(&self.lost)
    }
}

/// Writes `value` to `path` readable by its owner only: into a new file
/// beside it, then moved over it.
fn write_file(path: &Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "key".to_owned());
    let temp = dir.join(format!(".{name}.tenet-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| {
        let mut f = options.open(&temp)?;
        f.write_all(value.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_sink_is_private_and_replaced_whole() {
        let dir = std::env::temp_dir().join(format!("tenet-sink-{}", std::process::id()));
        let path = dir.join("keys/ci.key");
        let id = ObjectId::parse("workspaces/a/api-keys/ci").unwrap_or_else(|| panic!("id"));
        let issued = Issued::default();
        let sink = KeySink::File(path.to_string_lossy().into_owned());
        issued
            .deliver(&id, Some(&sink), "first")
            .unwrap_or_else(|e| panic!("{e}"));
        issued
            .deliver(&id, Some(&sink), "second")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap_or_default(),
            "second\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
            assert_eq!(mode.ok(), Some(0o600));
        }
        assert_eq!(issued.take_written().len(), 2);
        assert!(format!("{issued:?}").contains("written"));
        issued
            .deliver(&id, Some(&KeySink::Stdout), "shown")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !format!("{issued:?}").contains("shown"),
            "Debug shows no value"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
