//! Keeping the database private to the user vroom runs as.
//!
//! The database holds the account's auth token and the API key secret: whoever reads it has full
//! REST access and can mint tokens for any identity. So the data folder vroom creates is `0700` and
//! the database file `0600`; SQLite gives its `-wal` and `-shm` files the mode of the database
//! file, so they follow. Files and folders that already exist are left as the operator made them,
//! with a warning at start when others can read them.

use std::io;
use std::path::{Path, PathBuf};

/// Creates `dir` and its missing parents, each new one readable by its owner only.
///
/// # Errors
/// When a folder cannot be created.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates the (empty) database file at `path` readable and writable by its owner only, unless it
/// exists. SQLite takes an empty file as an empty database.
///
/// # Errors
/// When the file does not exist and cannot be created.
pub fn create_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The files of the SQLite database at `path`: itself, its write-ahead log and shared memory.
#[must_use]
pub fn database_files(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        files.push(PathBuf::from(name));
    }
    files
}

/// A sentence for each of `paths` that exists and that users other than its owner may read,
/// write or enter (group or other permission bits set), naming its mode and the fix.
#[must_use]
pub fn exposed(paths: &[PathBuf]) -> Vec<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        paths
            .iter()
            .filter_map(|p| {
                let meta = std::fs::metadata(p).ok()?;
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 == 0 {
                    return None;
                }
                let want = if meta.is_dir() { "700" } else { "600" };
                Some(format!(
                    "{} is open to other users (mode {mode:03o}) and holds the credentials; \
                     run `chmod {want} {}`",
                    p.display(),
                    p.display()
                ))
            })
            .collect()
    }
    #[cfg(not(unix))]
    {
        let _ = paths;
        Vec::new()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_folders_and_files_are_private_and_wide_ones_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        let db = dir.join("vroom.db");
        create_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        // An existing file is left alone, and named when others may read it.
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_file(&db).unwrap();
        assert_eq!(mode(&db), 0o644);
        let found = exposed(&database_files(&db));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("mode 644") && found[0].contains("chmod 600"));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        assert!(exposed(std::slice::from_ref(&dir))[0].contains("chmod 700"));
        assert!(exposed(&[tmp.path().join("missing")]).is_empty());
    }
}
