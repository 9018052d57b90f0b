//! The counters `ward serve` exposes on `/metrics` (Prometheus text,
//! OpenMetrics flavour), and how the scan's counts reach them.

use std::collections::BTreeMap;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::scan::Stats;

type Labels = Vec<(&'static str, String)>;

/// Every metric, registered once.
pub struct Metrics {
    registry: Registry,
    /// Events accepted into the queue by the webhook.
    pub accepted: Counter,
    /// Events of requests answered 429 (the client sends them again).
    pub refused_events: Counter,
    /// Requests answered 429.
    pub queue_full: Counter,
    /// Webhook requests by status code.
    requests: Family<Labels, Counter>,
    /// Events waiting for the matching thread.
    pub queue_depth: Gauge,
    /// Events matched, by source.
    events: Family<Labels, Counter>,
    alerts: Family<Labels, Counter>,
    /// Items of an EventList that held no event, by kind.
    problems: Family<Labels, Counter>,
    drift: Counter,
    pub sink_errors: Counter,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("ward");
        let m = Metrics {
            accepted: Counter::default(),
            refused_events: Counter::default(),
            queue_full: Counter::default(),
            requests: Family::default(),
            queue_depth: Gauge::default(),
            events: Family::default(),
            alerts: Family::default(),
            problems: Family::default(),
            drift: Counter::default(),
            sink_errors: Counter::default(),
            registry: Registry::default(),
        };
        // Each registered handle is a clone sharing the metric's atomics.
        let r = &mut registry;
        r.register(
            "webhook_events_accepted",
            "Events accepted into the queue by the webhook",
            m.accepted.clone(),
        );
        r.register(
            "webhook_events_refused",
            "Events of requests answered 429 because the queue was full (the client sends them again)",
            m.refused_events.clone(),
        );
        r.register(
            "webhook_queue_full",
            "Requests answered 429 because the queue was full",
            m.queue_full.clone(),
        );
        r.register(
            "webhook_requests",
            "Webhook requests by HTTP status code",
            m.requests.clone(),
        );
        r.register(
            "queue_events",
            "Events waiting in the queue for the matching thread",
            m.queue_depth.clone(),
        );
        r.register(
            "events",
            "Events matched against the rules, by source",
            m.events.clone(),
        );
        r.register("alerts", "Alerts written, by rule", m.alerts.clone());
        r.register(
            "events_problems",
            "EventList items that held no event, by kind (unknown: JSON of no known source; malformed: not JSON)",
            m.problems.clone(),
        );
        r.register(
            "events_type_drift",
            "Events with a field whose JSON type is not the schema's",
            m.drift.clone(),
        );
        r.register(
            "sink_errors",
            "Failed writes to the alert sinks (the alerts of that write are lost)",
            m.sink_errors.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    /// Counts a webhook response.
    pub fn request(&self, code: u16) {
        self.requests
            .get_or_create(&vec![("code", code.to_string())])
            .inc();
    }

    /// The registry as Prometheus text.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }

    /// Adds what the scan counted since `seen`, which then holds the
    /// scan's counts.
    pub fn observe(&self, stats: &Stats, seen: &mut Seen) {
        for (source, n) in &stats.per_source {
            let before = seen.per_source.insert(source, *n).unwrap_or(0);
            let labels = vec![("source", source.to_string())];
            self.events.get_or_create(&labels).inc_by(n - before);
        }
        for (rule, n) in &stats.alerts {
            let before = seen.alerts.get(rule).copied().unwrap_or(0);
            if *n > before {
                let labels = vec![("rule", rule.clone())];
                self.alerts.get_or_create(&labels).inc_by(n - before);
                seen.alerts.insert(rule.clone(), *n);
            }
        }
        let kinds = [
            ("unknown", stats.unknown, &mut seen.unknown),
            ("malformed", stats.malformed, &mut seen.malformed),
            ("too_long", stats.too_long, &mut seen.too_long),
        ];
        for (kind, n, before) in kinds {
            if n > *before {
                let labels = vec![("kind", kind.to_string())];
                self.problems.get_or_create(&labels).inc_by(n - *before);
                *before = n;
            }
        }
        self.drift.inc_by(stats.type_drift - seen.drift);
        seen.drift = stats.type_drift;
    }
}

/// The scan's counts already added to the metrics.
#[derive(Default)]
pub struct Seen {
    per_source: BTreeMap<&'static str, u64>,
    alerts: BTreeMap<String, u64>,
    unknown: u64,
    malformed: u64,
    too_long: u64,
    drift: u64,
}
