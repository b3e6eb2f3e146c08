//! [`TtlCache`]: a small in-process cache of values that may be a little stale, keyed per
//! session (profile reads, entitlements): a [`moka`] cache with a fixed time to live and a
//! bounded number of entries. When full, the least recently used entry makes room (a miss is
//! only a Fanvue call).

use std::time::Duration;

use moka::policy::EvictionPolicy;
use moka::sync::Cache;

/// Entries kept at most.
const CAPACITY: u64 = 10_000;

/// A cache whose entries live `ttl`. Cheap to clone (shared).
#[derive(Clone)]
pub struct TtlCache<V: Clone + Send + Sync + 'static> {
    /// `None` when the time to live is zero: nothing is kept.
    entries: Option<Cache<String, V>>,
}

/// The size, not the entries: keys name sessions.
impl<V: Clone + Send + Sync + 'static> std::fmt::Debug for TtlCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtlCache").field("entries", &self.entries.as_ref().map(Cache::entry_count)).finish()
    }
}

impl<V: Clone + Send + Sync + 'static> TtlCache<V> {
    /// A cache keeping values for `ttl` (zero: it keeps nothing).
    pub fn new(ttl: Duration) -> Self {
        let entries = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                // Keys are sessions: the one that just stored a value is the likeliest to read
                // it again, so recency decides, not the frequency TinyLFU admits by.
                .eviction_policy(EvictionPolicy::lru())
                .support_invalidation_closures()
                .build()
        });
        TtlCache { entries }
    }

    /// The value under `key`, if it is fresh.
    pub fn get(&self, key: &str) -> Option<V> {
        self.entries.as_ref()?.get(key)
    }

    /// Keeps `value` under `key` for the cache's time.
    pub fn put(&self, key: String, value: V) {
        if let Some(entries) = &self.entries {
            entries.insert(key, value);
        }
    }

    /// Drops the entry under `key`.
    pub fn remove(&self, key: &str) {
        if let Some(entries) = &self.entries {
            entries.invalidate(key);
        }
    }

    /// Drops every entry whose value matches `forget`: reads stop returning them at once, the
    /// memory is freed by the cache's next maintenance.
    pub fn remove_if(&self, forget: impl Fn(&V) -> bool + Send + Sync + 'static) {
        if let Some(entries) = &self.entries
            && let Err(err) = entries.invalidate_entries_if(move |_, value| forget(value))
        {
            // Only when the cache was built without invalidation closures: a bug, not an outage.
            tracing::error!(%err, "cache entries could not be removed; dropping them all");
            entries.invalidate_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_a_zero_ttl_keeps_nothing() {
        let cache = TtlCache::new(Duration::from_millis(30));
        cache.put("a".into(), 1);
        assert_eq!(cache.get("a"), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get("a"), None);
        cache.put("b".into(), 2);
        cache.put("c".into(), 3);
        cache.remove_if(|v| *v == 2);
        assert_eq!(cache.get("b"), None);
        assert_eq!(cache.get("c"), Some(3));
        cache.remove("c");
        assert_eq!(cache.get("c"), None);
        let none = TtlCache::new(Duration::ZERO);
        none.put("c".into(), 3);
        assert_eq!(none.get("c"), None);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = TtlCache::new(Duration::from_secs(60));
        for i in 0..CAPACITY + 500 {
            cache.put(format!("session-{i}"), i);
        }
        let entries = cache.entries.as_ref().map(|c| {
            c.run_pending_tasks();
            c.entry_count()
        });
        assert_eq!(entries, Some(CAPACITY));
        assert_eq!(cache.get(&format!("session-{}", CAPACITY + 499)), Some(CAPACITY + 499), "the newest is kept");
    }
}
