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
    /// Seconds the last batch taken by the matching thread had waited.
    pub queue_lag: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// Events matched, by source.
    events: Family<Labels, Counter>,
    alerts: Family<Labels, Counter>,
    /// Items of an EventList that held no event, by kind.
    problems: Family<Labels, Counter>,
    drift: Counter,
    pub sink_errors: Counter,
    /// The network sinks', by sink.
    pub sinks: SinkFamilies,
    /// By input.
    events_in: Family<Labels, Counter>,
    waits: Family<Labels, Counter>,
    input_problems: Family<Labels, Counter>,
    udp_drops: Family<Labels, Counter>,
    /// Rule reloads and state snapshots.
    pub keep: crate::serve::keep::KeepMetrics,
}

/// One input's metrics (handles sharing the registered values).
#[derive(Clone)]
pub struct InputMetrics {
    /// Events (lines, messages) it put in the queue.
    pub events_in: Counter,
    /// Times it waited for room in a full queue.
    pub waits: Counter,
    /// Lines or messages of it that held no event.
    pub problems: Counter,
    /// Datagrams the kernel dropped before the input read them (UDP).
    pub udp_drops: Counter,
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
            queue_lag: Gauge::default(),
            events: Family::default(),
            alerts: Family::default(),
            problems: Family::default(),
            drift: Counter::default(),
            sink_errors: Counter::default(),
            sinks: SinkFamilies::default(),
            events_in: Family::default(),
            waits: Family::default(),
            input_problems: Family::default(),
            udp_drops: Family::default(),
            keep: Default::default(),
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
            "queue_lag_seconds",
            "How long the last batch the matching thread took had waited in the queue",
            m.queue_lag.clone(),
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
        r.register(
            "events_in",
            "Events (lines, messages, EventList items) an input put in the queue, by input",
            m.events_in.clone(),
        );
        r.register(
            "input_backpressure_waits",
            "Times an input (file, syslog, stdin) waited for room in a full queue, by input",
            m.waits.clone(),
        );
        r.register(
            "input_problems",
            "Lines or messages of an input that held no event (not JSON, too long, of no known source), by input",
            m.input_problems.clone(),
        );
        r.register(
            "input_udp_drops",
            "Datagrams of a UDP syslog input the kernel dropped before ward read them (its receive buffer was full), by input",
            m.udp_drops.clone(),
        );
        m.sinks.register(r);
        m.keep.register(r);
        Metrics { registry, ..m }
    }
}

/// The metrics of the network sinks, labelled `sink`.
#[derive(Default)]
pub struct SinkFamilies {
    delivered: Family<Labels, Counter>,
    failures: Family<Labels, Counter>,
    retries: Family<Labels, Counter>,
    rejected: Family<Labels, Counter>,
    spool_bytes: Family<Labels, Gauge>,
    spool_alerts: Family<Labels, Gauge>,
    spool_waits: Family<Labels, Counter>,
    up: Family<Labels, Gauge>,
}

/// One network sink's metrics (handles sharing the registered values).
#[derive(Clone)]
pub struct SinkMetrics {
    pub delivered: Counter,
    pub failures: Counter,
    pub retries: Counter,
    pub rejected: Counter,
    pub spool: crate::serve::spool::Gauges,
    pub up: Gauge,
}

impl SinkFamilies {
    fn register(&self, r: &mut Registry) {
        let families = [
            ("sink_alerts_delivered", "Alerts the sink acknowledged (HTTP 2xx; written to the syslog connection)", &self.delivered),
            ("sink_send_failures", "Attempts to send a batch that failed (connection errors, timeouts, HTTP 429, 5xx and rejections)", &self.failures),
            ("sink_retries", "Batches sent again after a failed attempt", &self.retries),
            ("sink_alerts_rejected", "Alerts of batches the sink refused (HTTP 4xx but 408 and 429), moved to the spool's dead-letter.jsonl", &self.rejected),
            ("sink_spool_waits", "Times the matching thread waited for room in a full spool", &self.spool_waits),
        ];
        for (name, help, family) in families {
            r.register(name, help, family.clone());
        }
        let gauges = [
            (
                "sink_spool_bytes",
                "Bytes spooled and not yet acknowledged by the sink",
                &self.spool_bytes,
            ),
            (
                "sink_spool_alerts",
                "Alerts spooled and not yet acknowledged by the sink",
                &self.spool_alerts,
            ),
            (
                "sink_up",
                "1 unless the last attempt to send failed",
                &self.up,
            ),
        ];
        for (name, help, family) in gauges {
            r.register(name, help, family.clone());
        }
    }

    /// The metrics of the sink `name`, which starts up.
    pub fn sink(&self, name: &str) -> SinkMetrics {
        let labels = vec![("sink", name.to_string())];
        let m = SinkMetrics {
            delivered: self.delivered.get_or_create(&labels).clone(),
            failures: self.failures.get_or_create(&labels).clone(),
            retries: self.retries.get_or_create(&labels).clone(),
            rejected: self.rejected.get_or_create(&labels).clone(),
            spool: crate::serve::spool::Gauges {
                bytes: self.spool_bytes.get_or_create(&labels).clone(),
                alerts: self.spool_alerts.get_or_create(&labels).clone(),
                waits: self.spool_waits.get_or_create(&labels).clone(),
            },
            up: self.up.get_or_create(&labels).clone(),
        };
        m.up.set(1);
        m
    }
}

impl Metrics {
    /// The metrics of the input `name`.
    pub fn input(&self, name: &str) -> InputMetrics {
        let labels = vec![("input", name.to_string())];
        InputMetrics {
            events_in: self.events_in.get_or_create(&labels).clone(),
            waits: self.waits.get_or_create(&labels).clone(),
            problems: self.input_problems.get_or_create(&labels).clone(),
            udp_drops: self.udp_drops.get_or_create(&labels).clone(),
        }
    }

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
