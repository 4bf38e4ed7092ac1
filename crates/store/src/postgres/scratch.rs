//! Throw-away PostgreSQL databases for tests: each [`ScratchDatabase`] is a fresh database
//! (`vroom_test_<pid>_<n>_<random>`) on the test server, dropped when the value is.
//!
//! The server is `VROOM_TEST_POSTGRES_URL`, else `postgres://postgres@127.0.0.1:5432/test` (its
//! database is only used to run `CREATE DATABASE` and `DROP DATABASE`). When it cannot be reached,
//! [`ScratchDatabase::create`] says on stderr that the test is skipped and returns `None` — unless
//! `CI` is `true` (or `1`), where it panics: CI must not pass without having run the PostgreSQL
//! tests.

use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

/// The test server when `VROOM_TEST_POSTGRES_URL` is not set.
pub const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";

static COUNT: AtomicU32 = AtomicU32::new(0);

/// A database made for one test (or one test server), dropped with this value.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
}

/// Whether this run is CI's, where skipping is a failure.
#[must_use]
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The server tests use.
#[must_use]
pub fn server_url() -> String {
    std::env::var("VROOM_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_SERVER.to_owned())
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (path_end, query) = match rest.find('?') {
        Some(i) => (i, &rest[i..]),
        None => (rest.len(), ""),
    };
    let authority = rest[..path_end].split('/').next().unwrap_or("");
    format!("{scheme}://{authority}/{name}{query}")
}

async fn admin(url: &str) -> Result<PgConnection, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?;
    tokio::time::timeout(Duration::from_secs(5), options.connect())
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
}

impl ScratchDatabase {
    /// A fresh, empty database for `what` (named in the skip message), or `None` when no server is
    /// reachable outside CI.
    ///
    /// # Panics
    /// When no server is reachable and `CI=true`, or when the server refuses `CREATE DATABASE`.
    pub async fn create(what: &str) -> Option<Self> {
        let admin_url = server_url();
        let mut conn = match admin(&admin_url).await {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    !in_ci(),
                    "{what}: PostgreSQL at {admin_url} is unreachable ({e}), and CI=true \
                     requires the PostgreSQL tests to run"
                );
                // Written to the process's stderr, not through `eprintln!`, which the test harness
                // captures and hides for tests that pass: a skip must be seen.
                let _ = writeln!(
                    std::io::stderr(),
                    "\nSKIPPED {what}: no PostgreSQL at {admin_url} ({e}); start one or set \
                     VROOM_TEST_POSTGRES_URL"
                );
                return None;
            }
        };
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let name = format!(
            "vroom_test_{}_{}_{:08x}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed),
            random & 0xffff_ffff
        );
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{what}: CREATE DATABASE {name} on {admin_url}: {e}"));
        let _ = conn.close().await;
        let url = with_database(&admin_url, &name);
        Some(Self {
            admin_url,
            name,
            url,
            dropped: false,
        })
    }

    /// The database's URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database now (closing whatever is still connected to it).
    pub async fn drop_now(mut self) {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await;
    }
}

async fn drop_database(admin_url: &str, name: &str) {
    match admin(admin_url).await {
        Ok(mut conn) => {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(e) = sqlx::query(&sql).execute(&mut conn).await {
                eprintln!("could not drop the test database {name}: {e}");
            }
            let _ = conn.close().await;
        }
        Err(e) => eprintln!("could not drop the test database {name}: {e}"),
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // Drop runs outside any async context we could await in: drop the database from a thread
        // with a runtime of its own, and wait for it, so no test database outlives its test.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let done = std::thread::spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(drop_database(&admin_url, &name)),
                Err(e) => eprintln!("could not drop the test database {name}: {e}"),
            }
        });
        let _ = done.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}
