//! [`TtlCache`]: a small in-process cache of values that may be a little stale, keyed per
//! session (profile reads, entitlements). Bounded: when full, expired entries go first, then
//! everything (a cache miss is only a Fanvue call).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Entries kept at most.
const CAPACITY: usize = 10_000;

/// A cache whose entries live `ttl`. Cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct TtlCache<V> {
    entries: Arc<Mutex<HashMap<String, (Instant, V)>>>,
    ttl: Duration,
}

impl<V: Clone> TtlCache<V> {
    /// A cache keeping values for `ttl` (zero: it keeps nothing).
    pub fn new(ttl: Duration) -> Self {
        Self { entries: Arc::default(), ttl }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, V)>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value under `key`, if it is fresh.
    pub fn get(&self, key: &str) -> Option<V> {
        self.lock().get(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    /// Keeps `value` under `key` for the cache's time.
    pub fn put(&self, key: String, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Drops the entry under `key`.
    pub fn remove(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Drops every entry whose value fails `keep`.
    pub fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        self.lock().retain(|_, (_, v)| keep(v));
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
        cache.retain(|v| *v != 2);
        assert_eq!(cache.get("b"), None);
        let none = TtlCache::new(Duration::ZERO);
        none.put("c".into(), 3);
        assert_eq!(none.get("c"), None);
    }
}
