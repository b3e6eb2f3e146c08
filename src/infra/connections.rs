//! The connections to the stores, opened once per store URL and shared by everything that
//! names it: the sessions and the webhook events default to the same SQLite file or Redis
//! server, and get one pool between them, not one each.
//!
//! For SQLite that is more than thrift. Its locks are POSIX record locks, which a process loses
//! on every descriptor of a file as soon as it closes any one of them; two pools on one file in
//! one process are one close away from dropping each other's locks (a lost write, seen once).
//! So the file is opened by one pool only, and never beside it ([`prepare_private_database`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fred::clients::Pool;
use fred::interfaces::ClientLike;
use fred::types::config::{Config, ConnectionConfig, PerformanceConfig, ReconnectPolicy};
use tokio::sync::Mutex;
use tower_sessions_sqlx_store::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

/// Longest a Redis command may take before the request gets a 503.
pub const REDIS_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// Pools by store URL. Cheap to clone; clones share the pools.
#[derive(Clone, Default)]
pub struct Connections {
    sqlite: Arc<Mutex<HashMap<PathBuf, SqlitePool>>>,
    redis: Arc<Mutex<HashMap<String, Pool>>>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Redis URLs may hold a password: not shown.
        f.write_str("Connections")
    }
}

impl Connections {
    /// The pool of the SQLite file at `path`: opened (the file created owner-only, with its
    /// folder, when missing) on first use, the same pool afterwards.
    pub async fn sqlite(&self, path: &Path) -> Result<SqlitePool, String> {
        let mut pools = self.sqlite.lock().await;
        if let Some(pool) = pools.get(path) {
            return Ok(pool.clone());
        }
        prepare_private_database(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| e.to_string())?;
        pools.insert(path.to_owned(), pool.clone());
        Ok(pool)
    }

    /// The pool of the Redis server at `url` (`redis://[user:pass@]host:port[/db]`): connected
    /// on first use (waiting at most 5 s; short command timeouts, so an outage gives quick
    /// 503s; reconnecting forever, backing off to 2 s, so Redis coming back heals the app),
    /// the same pool afterwards.
    pub async fn redis(&self, url: &str) -> Result<Pool, String> {
        let mut pools = self.redis.lock().await;
        if let Some(pool) = pools.get(url) {
            return Ok(pool.clone());
        }
        let config = Config::from_url(url).map_err(|e| format!("not a Redis URL: {e}"))?;
        let performance =
            PerformanceConfig { default_command_timeout: REDIS_COMMAND_TIMEOUT, ..PerformanceConfig::default() };
        let connection = ConnectionConfig {
            connection_timeout: Duration::from_secs(2),
            internal_command_timeout: REDIS_COMMAND_TIMEOUT,
            ..ConnectionConfig::default()
        };
        let policy = ReconnectPolicy::new_exponential(0, 100, 2_000, 2);
        let pool =
            Pool::new(config, Some(performance), Some(connection), Some(policy), 4).map_err(|e| e.to_string())?;
        match tokio::time::timeout(Duration::from_secs(5), pool.init()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(format!("cannot connect: {e}")),
            Err(_) => return Err("no answer within 5 s".into()),
        }
        pools.insert(url.to_owned(), pool.clone());
        Ok(pool)
    }
}

/// Makes a SQLite database file readable by its owner only, before SQLite opens it: creates
/// its folder (0700 when new) and the file itself (0600) when it does not exist yet. SQLite
/// gives the `-wal` and `-shm` files it creates the database file's permissions, so they are
/// 0600 too. The files of an older install are tightened to 0600 (best effort: a warning when
/// they belong to someone else). The sessions' and the webhook events' stores both use it.
pub fn prepare_private_database(path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut folder = std::fs::DirBuilder::new();
        folder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
        folder.create(dir).map_err(|e| format!("cannot create folder {}: {e}", dir.display()))?;
    }
    // Only a file that does not exist yet is created (0600) here. An existing database is never
    // opened: SQLite's locks are POSIX record locks, which a process loses on *every* descriptor
    // of the file when it closes *any* one of them, so opening and closing the file beside a
    // SQLite connection of this process (the sessions' and the events' stores share one file)
    // would drop that connection's locks, and with them the WAL's safety (writes were lost).
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    match file.open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
    }
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(file = %Path::new(&name).display(), error = %e, "cannot make the file owner-only"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_file_is_opened_by_one_pool_whoever_asks() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let connections = Connections::default();
        let sessions = connections.sqlite(&dir.path().join("data/app.db")).await?;
        let events = connections.clone().sqlite(&dir.path().join("data/app.db")).await?;
        let other = connections.sqlite(&dir.path().join("data/other.db")).await?;
        // Closing one handle closes the pool they share, and only that one.
        events.close().await;
        assert!(sessions.is_closed(), "the events' pool is the sessions' pool");
        assert!(!other.is_closed(), "another file has a pool of its own");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode =
                std::fs::metadata(dir.path().join("data/app.db")).map_err(|e| e.to_string())?.permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "owner-only");
        }
        Ok(())
    }
}
