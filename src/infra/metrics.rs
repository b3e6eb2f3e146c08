//! Prometheus metrics for operators: requests by route and status with a latency histogram,
//! Fanvue calls by endpoint and status, token refreshes and their failures, sessions created,
//! rate-limit answers, session-store operations, webhook deliveries and connections.
//!
//! The app records through the [`metrics`] facade; the process's recorder is
//! [`metrics_exporter_prometheus`]'s, installed once ([`metrics()`] installs it on first use,
//! however many apps the process builds) and rendered in Prometheus' text format at
//! `GET /metrics` (the ops feature serves it). [`Metrics`] names every series in one place, so
//! names, labels and help texts cannot drift apart between call sites.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics::{Counter, Gauge, SharedString, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// The latency histogram.
const REQUEST_DURATION: &str = "http_request_duration_seconds";
/// How often histogram samples are folded into their buckets. The recorder queues each sample
/// until then (or until a scrape): without it, an unscraped instance would grow forever.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's metrics: the recorder's handle, and the series whose labels are fixed
/// (registered at start, so they are rendered, at zero, before anything happened).
pub struct Metrics {
    handle: PrometheusHandle,
    refreshes: Counter,
    refresh_failures: Counter,
    sessions_created: Counter,
    rate_limited: Counter,
    store_loads: Counter,
    store_saves: Counter,
    connections_open: Gauge,
    connections_refused_total: Counter,
    connections_refused_per_ip: Counter,
    connections_idle_closed: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// The process-wide metrics, installing the Prometheus recorder on first use.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::install)
}

/// A status code as a label (`0`: no answer).
fn status_label(status: u16) -> SharedString {
    SharedString::from(status.to_string())
}

impl Metrics {
    /// Installs the recorder as the process's, describes every metric, and starts the upkeep.
    fn install() -> Self {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.to_owned()), &BUCKETS)
            .unwrap_or_else(|err| {
                // Only for an empty bucket list; the histogram would render as a summary.
                tracing::error!(%err, "metrics: the latency buckets were refused");
                PrometheusBuilder::new()
            });
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(err) = metrics::set_global_recorder(recorder) {
            // Something else in this process installed a recorder first: it gets the counts.
            tracing::warn!(%err, "metrics: another recorder is installed; /metrics will stay empty");
        }
        let upkeep = handle.clone();
        let started = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
        if let Err(err) = started {
            tracing::warn!(%err, "metrics: no upkeep thread; histogram samples wait for the next scrape");
        }

        describe_counter!("session_store_operations_total", "Session store reads and writes (records and tokens).");
        describe_counter!("webhook_deliveries_total", "Webhook deliveries, by outcome.");
        describe_counter!("http_requests_total", "Requests answered, by route and status.");
        describe_histogram!(REQUEST_DURATION, "Time to answer, by route.");
        describe_counter!(
            "fanvue_upstream_requests_total",
            "Calls to the Fanvue API, by endpoint and status (0: no answer)."
        );
        describe_gauge!("http_connections_open", "Connections open now (TLS handshakes included).");
        describe_counter!(
            "http_connections_refused_total",
            "Connections closed at once because a cap was reached, by cap."
        );
        describe_counter!(
            "http_connections_idle_closed_total",
            "Connections closed after HTTP_IDLE_TIMEOUT_SECS without a request in progress."
        );
        describe_counter!("fanvue_token_refreshes_total", "Access-token refreshes that succeeded.");
        describe_counter!("fanvue_token_refresh_failures_total", "Access-token refreshes that failed.");
        describe_counter!("fanvue_sessions_created_total", "Sessions signed in.");
        describe_counter!("http_rate_limited_total", "Requests answered 429.");

        Metrics {
            handle,
            refreshes: counter!("fanvue_token_refreshes_total"),
            refresh_failures: counter!("fanvue_token_refresh_failures_total"),
            sessions_created: counter!("fanvue_sessions_created_total"),
            rate_limited: counter!("http_rate_limited_total"),
            store_loads: counter!("session_store_operations_total", "op" => "load"),
            store_saves: counter!("session_store_operations_total", "op" => "save"),
            connections_open: gauge!("http_connections_open"),
            connections_refused_total: counter!("http_connections_refused_total", "limit" => "total"),
            connections_refused_per_ip: counter!("http_connections_refused_total", "limit" => "per_ip"),
            connections_idle_closed: counter!("http_connections_idle_closed_total"),
        }
    }

    /// One answered request: `route` is the route pattern (never the raw path: bounded labels).
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        let route = SharedString::from(Arc::<str>::from(route));
        counter!("http_requests_total", "route" => route.clone(), "status" => status_label(status)).increment(1);
        metrics::histogram!(REQUEST_DURATION, "route" => route).record(elapsed.as_secs_f64());
        if status == 429 {
            self.rate_limited.increment(1);
        }
    }

    /// One call to Fanvue: `endpoint` is the pattern from the endpoint table; status 0 means
    /// no answer (timeout, connection failure).
    pub fn upstream(&self, endpoint: &str, status: u16) {
        counter!("fanvue_upstream_requests_total", "endpoint" => endpoint.to_owned(), "status" => status_label(status))
            .increment(1);
    }

    /// A token refresh that succeeded, or not.
    pub fn refresh(&self, ok: bool) {
        let counter = if ok { &self.refreshes } else { &self.refresh_failures };
        counter.increment(1);
    }

    /// A webhook delivery: `accepted`, `duplicate`, or the rejection code.
    pub fn webhook(&self, outcome: &'static str) {
        counter!("webhook_deliveries_total", "outcome" => outcome).increment(1);
    }

    /// A read (`save == false`) or write of the session store (session records and tokens).
    pub fn session_store(&self, save: bool) {
        let counter = if save { &self.store_saves } else { &self.store_loads };
        counter.increment(1);
    }

    /// A connection was admitted (`true`) or closed (`false`).
    pub fn connection(&self, opened: bool) {
        if opened {
            self.connections_open.increment(1.0);
        } else {
            self.connections_open.decrement(1.0);
        }
    }

    /// A connection refused at once: over `MAX_CONNECTIONS_PER_IP` (`per_ip`) or `MAX_CONNECTIONS`.
    pub fn connection_refused(&self, per_ip: bool) {
        let counter = if per_ip { &self.connections_refused_per_ip } else { &self.connections_refused_total };
        counter.increment(1);
    }

    /// A connection closed after `HTTP_IDLE_TIMEOUT_SECS` without a request in progress.
    pub fn connection_idle_closed(&self) {
        self.connections_idle_closed.increment(1);
    }

    /// A session signed in.
    pub fn session_created(&self) {
        self.sessions_created.increment(1);
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the hand-written renderer this module replaced answered, in a fresh process, after
    /// the three events [`every_metric_the_old_renderer_produced_is_still_rendered`] records.
    const BEFORE: &str = r#"# HELP session_store_operations_total Session store reads and writes (records and tokens).
# TYPE session_store_operations_total counter
session_store_operations_total{op="load"} 0
session_store_operations_total{op="save"} 0
# HELP webhook_deliveries_total Webhook deliveries, by outcome.
# TYPE webhook_deliveries_total counter
webhook_deliveries_total{outcome="every-metric-outcome"} 1
# HELP http_requests_total Requests answered, by route and status.
# TYPE http_requests_total counter
http_requests_total{route="/every-metric",status="200"} 1
# HELP http_request_duration_seconds Time to answer, by route.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{route="/every-metric",le="0.001"} 0
http_request_duration_seconds_bucket{route="/every-metric",le="0.005"} 0
http_request_duration_seconds_bucket{route="/every-metric",le="0.01"} 0
http_request_duration_seconds_bucket{route="/every-metric",le="0.025"} 1
http_request_duration_seconds_bucket{route="/every-metric",le="0.05"} 1
http_request_duration_seconds_bucket{route="/every-metric",le="0.1"} 1
http_request_duration_seconds_bucket{route="/every-metric",le="0.25"} 1
http_request_duration_seconds_bucket{route="/every-metric",le="0.5"} 1
http_request_duration_seconds_bucket{route="/every-metric",le="1"} 1
http_request_duration_seconds_bucket{route="/every-metric",le="2.5"} 1
http_request_duration_seconds_bucket{route="/every-metric",le="5"} 1
http_request_duration_seconds_bucket{route="/every-metric",le="10"} 1
http_request_duration_seconds_bucket{route="/every-metric",le="+Inf"} 1
http_request_duration_seconds_sum{route="/every-metric"} 0.02
http_request_duration_seconds_count{route="/every-metric"} 1
# HELP fanvue_upstream_requests_total Calls to the Fanvue API, by endpoint and status (0: no answer).
# TYPE fanvue_upstream_requests_total counter
fanvue_upstream_requests_total{endpoint="/every-metric/{uuid}",status="0"} 1
# HELP http_connections_open Connections open now (TLS handshakes included).
# TYPE http_connections_open gauge
http_connections_open 0
# HELP http_connections_refused_total Connections closed at once because a cap was reached, by cap.
# TYPE http_connections_refused_total counter
http_connections_refused_total{limit="total"} 0
http_connections_refused_total{limit="per_ip"} 0
# HELP http_connections_idle_closed_total Connections closed after HTTP_IDLE_TIMEOUT_SECS without a request in progress.
# TYPE http_connections_idle_closed_total counter
http_connections_idle_closed_total 0
# HELP fanvue_token_refreshes_total Access-token refreshes that succeeded.
# TYPE fanvue_token_refreshes_total counter
fanvue_token_refreshes_total 0
# HELP fanvue_token_refresh_failures_total Access-token refreshes that failed.
# TYPE fanvue_token_refresh_failures_total counter
fanvue_token_refresh_failures_total 0
# HELP fanvue_sessions_created_total Sessions signed in.
# TYPE fanvue_sessions_created_total counter
fanvue_sessions_created_total 0
# HELP http_rate_limited_total Requests answered 429.
# TYPE http_rate_limited_total counter
http_rate_limited_total 0
"#;

    /// Every help and type line, and every series, of the old output is rendered. Values are
    /// compared for this test's own series: other tests in this process count the shared ones.
    #[test]
    fn every_metric_the_old_renderer_produced_is_still_rendered() {
        let m = metrics();
        m.request("/every-metric", 200, Duration::from_millis(20));
        m.upstream("/every-metric/{uuid}", 0);
        m.webhook("every-metric-outcome");
        let now = m.render();
        for line in BEFORE.lines() {
            if line.starts_with('#') || line.contains("every-metric") {
                assert!(now.lines().any(|l| l == line), "missing `{line}` in:\n{now}");
            } else {
                let series = line.rsplit_once(' ').map_or(line, |(series, _)| series);
                assert!(now.lines().any(|l| l.starts_with(&format!("{series} "))), "missing `{series}` in:\n{now}");
            }
        }
    }

    #[test]
    fn the_recorder_is_installed_once_per_process() {
        assert!(std::ptr::eq(metrics(), metrics()));
        let before = metrics().render();
        metrics().request("/installed-once", 503, Duration::ZERO);
        assert!(!before.contains(r#"route="/installed-once""#));
        assert!(metrics().render().contains(r#"http_requests_total{route="/installed-once",status="503"} 1"#));
    }
}
