//! Choosing a backend from a database URL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::{Store, StoreError, StoreResult};

/// Where the default database lives, relative to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://vroom-data/vroom.db";

/// Opens the store a URL names and runs its migrations.
///
/// - `sqlite://path/to/file.db` (relative) or `sqlite:///abs/path.db`: an SQLite file. The default
///   URL's folder is created; for any other URL the folder must exist, so a typo does not silently
///   start an empty database somewhere unexpected.
/// - `sqlite::memory:`: a throw-away in-memory database.
/// - `postgres://user:password@host:port/database` (or `postgresql://`): a PostgreSQL database,
///   which must exist (vroom creates its tables, not the database). Any of libpq's URL parameters
///   sqlx understands may follow (`?sslmode=require`, …).
///
/// # Errors
/// An operator-readable `StoreError` when the URL is unusable or the database cannot be opened.
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PgStore::open_url(url).await?));
    }
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Err(StoreError::Config(format!(
            "unsupported database URL '{url}': expected sqlite://path/to/file.db, sqlite::memory: or postgres://…"
        )));
    };
    if rest.starts_with(":memory:") {
        return Ok(Arc::new(SqliteStore::open_url(url).await?));
    }
    let path = sqlite_path(rest);
    if path.as_os_str().is_empty() {
        return Err(StoreError::Config(format!(
            "database URL '{url}' names no file"
        )));
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        if url == DEFAULT_DATABASE_URL {
            crate::private::create_dir(parent).map_err(|e| {
                StoreError::Config(format!(
                    "cannot create the data folder {}: {e}",
                    parent.display()
                ))
            })?;
        } else {
            return Err(StoreError::Config(format!(
                "the folder {} of database URL '{url}' does not exist (create it first)",
                parent.display()
            )));
        }
    }
    // Created here rather than by SQLite so that it is private from its first byte (the log and
    // shared-memory files take its mode).
    if !rest.contains("mode=ro") {
        crate::private::create_file(&path).map_err(|e| {
            StoreError::Config(format!(
                "cannot create the database {}: {e}",
                path.display()
            ))
        })?;
    }
    let store = SqliteStore::open_url(&format!("sqlite://{}", path.display())).await?;
    for warning in crate::private::exposed(&crate::private::database_files(&path)) {
        tracing::warn!("{warning}");
    }
    Ok(Arc::new(store))
}

/// The file path of an `sqlite:` URL without its scheme and query.
fn sqlite_path(rest: &str) -> PathBuf {
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    PathBuf::from(rest.split('?').next().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            sqlite_path("//vroom-data/vroom.db"),
            PathBuf::from("vroom-data/vroom.db")
        );
        assert_eq!(
            sqlite_path("///tmp/x.db?mode=rwc"),
            PathBuf::from("/tmp/x.db")
        );
    }

    #[tokio::test]
    async fn refuses_what_it_cannot_open() {
        let err =
            |r: StoreResult<Arc<dyn Store>>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(open("postgres://[nowhere/x").await).contains("invalid PostgreSQL URL"));
        assert!(err(open("mysql://x").await).contains("unsupported"));
        assert!(err(open("sqlite:///definitely/not/here/x.db").await).contains("does not exist"));
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/v.db", dir.path().display());
        assert!(open(&url).await.is_ok());
    }

    #[tokio::test]
    async fn opens_postgres_by_scheme() {
        let Some(db) = crate::postgres::scratch::ScratchDatabase::create("open postgres://").await
        else {
            return;
        };
        let store = open(db.url()).await.unwrap();
        assert!(store.accounts().await.unwrap().is_empty());
        let alias = db.url().replacen("postgres://", "postgresql://", 1);
        assert!(open(&alias).await.is_ok());
        drop(store);
        db.drop_now().await;
    }
}
