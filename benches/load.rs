//! Load test: sustained concurrent load on a signed-in page through two instances sharing
//! sessions in Redis, over TLS. Prints requests/s, latency percentiles and errors.
//!
//!     cargo bench --bench load            # debug-free release build of the app
//!     LOAD_SECONDS=20 LOAD_CONNECTIONS=64 cargo bench --bench load
//!
//! Needs `redis-server` (as the tests do). Loopback only, bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../tests/it/harness.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let seconds = env_or("LOAD_SECONDS", 10);
    let connections = env_or("LOAD_CONNECTIONS", 32) as usize;
    let redis = Redis::start();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let store = redis.url();
    // Limits off: this measures the servers, not the abuse limits or Fanvue's budget.
    let env = [
        ("SESSION_STORE", store.as_str()),
        ("RATE_LIMIT_PER_MINUTE", "0"),
        ("FANVUE_BUDGET_PER_MINUTE", "0"),
        ("SANDBOX_RATE_LIMIT", "100000000"),
        ("RUST_LOG", "warn"),
    ];
    let a = TestApp::spawn_in(dir.clone(), Listeners::new(), &env).await;
    let join = a.sandbox_url("");
    let mut env_b = env.to_vec();
    env_b.push(("SANDBOX_JOIN", join.as_str()));
    let b = TestApp::spawn_in(dir, Listeners::joining(a.sandbox_port), &env_b).await;
    let browser = a.client();
    login(&a, &browser).await;

    let urls = [a.url("/"), b.url("/")];
    println!("load: {connections} connections for {seconds} s over two instances (HTTPS, keep-alive), Redis sessions");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tasks = (0..connections).map(|i| {
        let client = browser.clone();
        let url = urls[i % 2].clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let started = Instant::now();
                match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(started.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        })
    });
    let mut latencies = Vec::new();
    let mut errors = 0;
    for result in futures_util::future::join_all(tasks).await {
        let (l, e) = result.unwrap();
        latencies.extend(l);
        errors += e;
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "signed-in home page: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} ok, {} errors",
        latencies.len() as f64 / seconds as f64,
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        latencies.len(),
        errors
    );
}
