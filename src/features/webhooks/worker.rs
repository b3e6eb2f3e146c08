//! The background worker: claims stored events and runs the app's [`Handler`] on each, after
//! the delivery was acknowledged, with retries.
//!
//! A failed attempt (an `Err`, a panic, or running past `WEBHOOK_HANDLER_TIMEOUT_SECS`) is
//! retried after 2 s, 4 s, 8 s… (capped at an hour) until `WEBHOOK_MAX_ATTEMPTS`, then marked
//! failed and kept for inspection. Events left pending by a crash are claimed again once
//! their lease lapses, so each stored event is handled at least once; handlers should be
//! idempotent (the event id is stable for that).

use std::sync::Arc;
use std::time::Duration;

use super::events::{Event, Kind};
use super::store::{State, StoredEvent};
use super::{Handler, Notice, Webhooks};

/// How the worker retries.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Longest a handler may run; the claim's lease is this plus a margin.
    pub handler_timeout: Duration,
    /// Attempts before an event is marked failed.
    pub max_attempts: u32,
    /// Handled and failed events older than this are deleted.
    pub retention: Duration,
}

/// The delay before attempt `attempts + 1`.
pub fn backoff(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 12) - 1).unwrap_or(0);
    Duration::from_secs(2u64.saturating_pow(exponent + 1)).min(Duration::from_secs(3600))
}

/// Runs the worker until the process ends.
pub fn spawn(webhooks: Webhooks, handler: Arc<dyn Handler>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let settings = webhooks.settings();
        let lease = settings.handler_timeout + Duration::from_secs(5);
        let mut last_prune = tokio::time::Instant::now();
        loop {
            // One at a time: each claimed event's lease covers only its own handling.
            match webhooks.store().claim_due(lease, 1).await {
                Ok(batch) if !batch.is_empty() => {
                    for event in batch {
                        process(&webhooks, &handler, &settings, event).await;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "claiming webhook events failed; will retry"),
            }
            if last_prune.elapsed() > Duration::from_secs(3600) {
                last_prune = tokio::time::Instant::now();
                if let Err(err) = webhooks.store().prune(settings.retention).await {
                    tracing::warn!(error = %err, "pruning old webhook events failed");
                }
            }
            // Sleep until the next retry is due, a new event arrives, or 5 s (another
            // process on the same file may have stored something).
            let wait = match webhooks.store().next_due().await {
                Ok(Some(at)) => {
                    Duration::from_millis(u64::try_from(at - super::store::now_ms()).unwrap_or(0).clamp(10, 5000))
                }
                _ => Duration::from_secs(5),
            };
            tokio::select! {
                () = webhooks.stored() => {},
                () = tokio::time::sleep(wait) => {},
            }
        }
    })
}

async fn process(webhooks: &Webhooks, handler: &Arc<dyn Handler>, settings: &Settings, stored: StoredEvent) {
    let kind = Kind::from_slug(&stored.route);
    let parsed = if stored.body.is_empty() {
        // Sealed under a SESSION_SECRET this process does not have: retrying will not help
        // until the old secret is set as SESSION_SECRET_PREVIOUS.
        Err("the stored body could not be opened (SESSION_SECRET changed without SESSION_SECRET_PREVIOUS)".to_owned())
    } else {
        Event::parse(kind, &stored.body).map_err(|err| format!("the stored body is not JSON: {err}"))
    };
    let outcome = match parsed {
        Ok(event) => {
            let handler = handler.clone();
            let meta = stored.clone();
            let mut task = tokio::spawn(async move { handler.handle(&event, &meta).await });
            match tokio::time::timeout(settings.handler_timeout, &mut task).await {
                Ok(Ok(result)) => result,
                Ok(Err(join)) if join.is_panic() => Err("the handler panicked".to_owned()),
                Ok(Err(_)) => Err("the handler was cancelled".to_owned()),
                Err(_) => {
                    // Stop it: the retry must not run beside a first attempt still going.
                    task.abort();
                    Err(format!("the handler ran longer than {} s", settings.handler_timeout.as_secs()))
                }
            }
        }
        Err(err) => Err(err),
    };
    let store = webhooks.store();
    let (state, error) = match outcome {
        Ok(()) => (store.handled(stored.id, stored.attempts).await.map(|()| State::Handled), None),
        Err(error) => {
            let retry = (stored.attempts < i64::from(settings.max_attempts)).then(|| backoff(stored.attempts));
            tracing::warn!(event = stored.id, attempt = stored.attempts, %error, retry_in_s = ?retry.map(|d| d.as_secs()), "webhook handler failed");
            let state = if retry.is_some() { State::Pending } else { State::Failed };
            (store.attempt_failed(stored.id, stored.attempts, &error, retry).await.map(|()| state), Some(error))
        }
    };
    match state {
        Ok(state) => webhooks.publish(Notice::stored(&stored, state, error)),
        // The lease runs out and the event is claimed again: nothing is lost.
        Err(err) => tracing::warn!(error = %err, event = stored.id, "recording the handler's outcome failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_two_seconds_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(5), Duration::from_secs(32));
        assert_eq!(backoff(40), Duration::from_secs(3600));
        assert_eq!(backoff(0), Duration::from_secs(2));
    }
}
