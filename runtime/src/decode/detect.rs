//! Naming an event's source by its shape (spec/inputs.md, "Detection").
//!
//! A source is recognised by the fields its events have, not by one
//! marker: audit events written by older webhook backends, recorded traces
//! and SIEM exports carry no `apiVersion` or `kind`, CloudTrail records
//! lifted out of their `Records` file may lack `eventVersion`. The rules
//! are tried in the order the spec documents, so a line that would fit two
//! shapes is always read as the same one.

use ward_compiler::doc::Doc;

/// The fields [`source_by`] reads to name an event's source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Detect {
    Kind,
    ApiVersion,
    ApiGroup,
    EventSource,
    EventName,
    EventVersion,
    AwsRegion,
    Qname,
    Qtype,
    Type,
    Count,
    StartTime,
    EndTime,
    Action,
    Reporter,
    SourceNameAggr,
    DestNameAggr,
    SourceIp,
    DestIp,
    Verb,
    RequestUri,
    ObjectRef,
    User,
    AuditId,
    Stage,
    EventTime,
    UserIdentity,
    ServiceName,
    MethodName,
    LogName,
    InsertId,
}

impl Detect {
    pub const ALL: [Detect; 31] = [
        Detect::Kind,
        Detect::ApiVersion,
        Detect::ApiGroup,
        Detect::EventSource,
        Detect::EventName,
        Detect::EventVersion,
        Detect::AwsRegion,
        Detect::Qname,
        Detect::Qtype,
        Detect::Type,
        Detect::Count,
        Detect::StartTime,
        Detect::EndTime,
        Detect::Action,
        Detect::Reporter,
        Detect::SourceNameAggr,
        Detect::DestNameAggr,
        Detect::SourceIp,
        Detect::DestIp,
        Detect::Verb,
        Detect::RequestUri,
        Detect::ObjectRef,
        Detect::User,
        Detect::AuditId,
        Detect::Stage,
        Detect::EventTime,
        Detect::UserIdentity,
        Detect::ServiceName,
        Detect::MethodName,
        Detect::LogName,
        Detect::InsertId,
    ];

    /// The field's keys from the event's root.
    pub fn path(self) -> &'static [&'static str] {
        match self {
            Detect::Kind => &["kind"],
            Detect::ApiVersion => &["apiVersion"],
            Detect::ApiGroup => &["objectRef", "apiGroup"],
            Detect::EventSource => &["eventSource"],
            Detect::EventName => &["eventName"],
            Detect::EventVersion => &["eventVersion"],
            Detect::AwsRegion => &["awsRegion"],
            Detect::Qname => &["qname"],
            Detect::Qtype => &["qtype"],
            Detect::Type => &["type"],
            Detect::Count => &["count"],
            Detect::StartTime => &["start_time"],
            Detect::EndTime => &["end_time"],
            Detect::Action => &["action"],
            Detect::Reporter => &["reporter"],
            Detect::SourceNameAggr => &["source_name_aggr"],
            Detect::DestNameAggr => &["dest_name_aggr"],
            Detect::SourceIp => &["source_ip"],
            Detect::DestIp => &["dest_ip"],
            Detect::Verb => &["verb"],
            Detect::RequestUri => &["requestURI"],
            Detect::ObjectRef => &["objectRef"],
            Detect::User => &["user"],
            Detect::AuditId => &["auditID"],
            Detect::Stage => &["stage"],
            Detect::EventTime => &["eventTime"],
            Detect::UserIdentity => &["userIdentity"],
            Detect::ServiceName => &["protoPayload", "serviceName"],
            Detect::MethodName => &["protoPayload", "methodName"],
            Detect::LogName => &["logName"],
            Detect::InsertId => &["insertId"],
        }
    }

    /// Whether the scan's fast path extracts the field from every line.
    /// The rest only tell rarer shapes apart (an audit event with neither
    /// `user` nor `kind`, a CloudTrail record with neither `eventVersion`
    /// nor `awsRegion`, a Cloud Audit Logs entry without
    /// `protoPayload.serviceName`): a line the fast path finds no source for is
    /// decoded in full, where every field is seen, so leaving them out
    /// costs those lines time, never their source.
    pub fn fast(self) -> bool {
        !matches!(
            self,
            Detect::AuditId
                | Detect::Stage
                | Detect::EventTime
                | Detect::UserIdentity
                | Detect::LogName
                | Detect::InsertId
        )
    }

    /// Whether only the field's presence is read (an object: extracting
    /// it whole for detection would cost every event).
    pub fn presence_only(self) -> bool {
        matches!(
            self,
            Detect::ObjectRef | Detect::User | Detect::UserIdentity
        )
    }
}

/// Names the source of a single event, by the fields only it has.
pub fn source_of<'a, D: Doc<'a>>(v: D) -> Option<&'static str> {
    source_by(|d| d.path().iter().try_fold(v, |v, k| v.key(k)))
}

/// [`source_of`], with `field` finding each field it reads in the event.
///
/// The order is spec/inputs.md's: an audit event that says what it is;
/// a CloudTrail record; an audit event by its shape; a Cloud Audit Logs
/// entry of a Google Cloud service; Calico DNS; Calico flow.
pub fn source_by<'a, D: Doc<'a>>(field: impl Fn(Detect) -> Option<D>) -> Option<&'static str> {
    use Detect::*;
    let has = |d| field(d).is_some_and(|x| !x.is_null());
    let s = |d| field(d).and_then(|x| x.as_str());
    let audit = || match s(ApiGroup) {
        Some("projectcalico.org") => "calico.audit",
        _ => "k8s.audit",
    };
    if s(Kind) == Some("Event") && s(ApiVersion).is_some_and(|a| a.starts_with("audit.k8s.io/")) {
        return Some(audit());
    }
    let trail = has(EventVersion) || has(AwsRegion) || has(EventTime) || has(UserIdentity);
    if has(EventSource) && has(EventName) && trail {
        return Some("aws.cloudtrail");
    }
    // Without `apiVersion` (or `kind`): a verb on a request (its URI or
    // the object it names) by someone, in an audit stage, or said to be an
    // Event. Failed authentication logs no `user`; only audit events have
    // `auditID`.
    let request = has(RequestUri) || has(ObjectRef);
    let audited = has(User) || has(AuditId) || has(Stage) || s(Kind) == Some("Event");
    if s(Verb).is_some() && request && audited {
        return Some(audit());
    }
    // A Cloud Audit Logs entry: a method called on a service other than
    // the Kubernetes API, whose entries (service k8s.io, or no service and
    // an io.k8s.* method) the decoder maps onto k8s.audit (decode::gke).
    if let Some(method) = s(MethodName) {
        let google = match s(ServiceName) {
            Some(service) => service != "k8s.io",
            None => !method.starts_with("io.k8s.") && (has(LogName) || has(InsertId)),
        };
        if google {
            return Some("gcp.audit");
        }
    }
    if has(Qname) && has(Qtype) {
        return Some("calico.dns");
    }
    // The record Calico writes when the per-node limit dropped DNS detail:
    // only the interval, the host and how many responses went unlogged.
    if s(Type) == Some("UNLOGGED") && has(Count) && has(StartTime) && has(EndTime) {
        return Some("calico.dns");
    }
    let flow_ends = has(SourceNameAggr) || has(DestNameAggr) || has(SourceIp) || has(DestIp);
    if has(Action) && (has(Reporter) || (has(StartTime) && has(EndTime))) && flow_ends {
        return Some("calico.flow");
    }
    None
}

/// The fields each source's detection looks for, to say which one an
/// event of no known source came closest to and what it lacks.
const SIGNATURES: &[(&str, &[&str], &str)] = &[
    (
        "k8s.audit",
        &["verb", "requestURI", "objectRef", "user", "auditID", "stage"],
        "a string `verb`, `requestURI` or `objectRef`, and `user`, `auditID` or `stage`",
    ),
    (
        "aws.cloudtrail",
        &["eventSource", "eventName", "eventVersion", "awsRegion", "eventTime", "userIdentity"],
        "`eventSource`, `eventName`, and `eventVersion`, `awsRegion`, `eventTime` or `userIdentity`",
    ),
    ("calico.dns", &["qname", "qtype"], "`qname` and `qtype`"),
    (
        "calico.flow",
        &["action", "reporter", "start_time", "end_time", "source_ip", "dest_ip"],
        "`action`, `reporter` or `start_time` and `end_time`, and an end (`source_ip`, `dest_ip`, ...)",
    ),
];

/// Why an object is of no known source: the source it came closest to
/// (at least two of its fields) and what that source needs, or its first
/// keys.
pub fn why_unknown(v: &serde_json::Map<String, serde_json::Value>) -> String {
    let best = SIGNATURES
        .iter()
        .map(|(source, keys, needs)| {
            let found: Vec<&str> = keys
                .iter()
                .copied()
                .filter(|k| v.get(*k).is_some_and(|x| !x.is_null()))
                .collect();
            (found, *source, *needs)
        })
        .max_by_key(|(found, ..)| found.len());
    if let Some((found, source, needs)) = best.filter(|(found, ..)| found.len() >= 2) {
        let found: Vec<String> = found.iter().map(|k| format!("`{k}`")).collect();
        return format!("has {} of {source}, which needs {needs}", found.join(", "));
    }
    let keys: Vec<&str> = v.keys().take(5).map(String::as_str).collect();
    match keys.is_empty() {
        true => "an empty object".into(),
        false => format!("keys: {}", keys.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `Detect::ALL` lists each field once, at its own index (the matcher
    /// keeps the fields' paths by that index).
    #[test]
    fn detection_fields_are_listed_by_their_index() {
        for (i, d) in Detect::ALL.iter().enumerate() {
            assert_eq!(*d as usize, i, "{d:?}");
        }
        let paths: std::collections::BTreeSet<_> = Detect::ALL.iter().map(|d| d.path()).collect();
        assert_eq!(paths.len(), Detect::ALL.len());
    }

    #[test]
    fn audit_events_are_known_by_shape() {
        let shapes = [
            // v1 as the log backend writes it
            json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "get"}),
            // v1beta1
            json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1beta1"}),
            // no apiVersion, no kind (an old webhook, a SIEM export)
            json!({"auditID": "a", "stage": "ResponseComplete", "verb": "create",
                   "requestURI": "/api/v1/namespaces/x/pods", "user": {"username": "u"}}),
            // failed authentication: no user
            json!({"auditID": "a", "verb": "list", "requestURI": "/api/v1/secrets"}),
            // only objectRef, no requestURI
            json!({"verb": "delete", "objectRef": {"resource": "pods"}, "user": {}}),
            // kind, no apiVersion, no user (a detection repository's test)
            json!({"kind": "Event", "verb": "create", "objectRef": {"resource": "pods"}}),
        ];
        for v in shapes {
            assert_eq!(source_of(&v), Some("k8s.audit"), "{v}");
        }
        let calico = json!({"verb": "create", "user": {"username": "u"},
            "objectRef": {"apiGroup": "projectcalico.org", "resource": "networkpolicies"}});
        assert_eq!(source_of(&calico), Some("calico.audit"));
    }

    #[test]
    fn near_misses_are_not_audit_events() {
        let not = [
            // a verb alone
            json!({"verb": "get", "user": {"username": "u"}}),
            // a request without anyone or any stage
            json!({"verb": "get", "requestURI": "/"}),
            // verb not a string
            json!({"verb": 1, "requestURI": "/", "user": {}}),
            json!({"verb": null, "requestURI": "/", "user": {}}),
        ];
        for v in not {
            assert_eq!(source_of(&v), None, "{v}");
        }
    }

    #[test]
    fn cloudtrail_records_without_event_version() {
        let r = json!({"eventSource": "eks.amazonaws.com", "eventName": "CreateCluster",
                       "eventTime": "2024-01-01T00:00:00Z"});
        assert_eq!(source_of(&r), Some("aws.cloudtrail"));
        let r = json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject",
                       "userIdentity": {"type": "IAMUser"}});
        assert_eq!(source_of(&r), Some("aws.cloudtrail"));
        let r = json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"});
        assert_eq!(source_of(&r), None);
    }

    #[test]
    fn cloud_audit_entries_of_google_services() {
        let entries = [
            // as Cloud Logging writes it
            json!({"insertId": "i", "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
                   "protoPayload": {"serviceName": "container.googleapis.com",
                                    "methodName": "google.container.v1.ClusterManager.CreateCluster"}}),
            // an export that dropped serviceName
            json!({"logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
                   "protoPayload": {"methodName": "SetIamPolicy"}}),
            // serviceName and methodName alone
            json!({"protoPayload": {"serviceName": "iam.googleapis.com",
                                    "methodName": "google.iam.admin.v1.CreateServiceAccountKey"}}),
        ];
        for v in entries {
            assert_eq!(source_of(&v), Some("gcp.audit"), "{v}");
        }
        let not = [
            // the Kubernetes API's entries are mapped onto k8s.audit first
            json!({"insertId": "i", "protoPayload": {"serviceName": "k8s.io",
                                                     "methodName": "io.k8s.core.v1.pods.create"}}),
            json!({"insertId": "i", "protoPayload": {"methodName": "io.k8s.core.v1.pods.create"}}),
            // no method
            json!({"insertId": "i", "protoPayload": {"serviceName": "container.googleapis.com"}}),
            json!({"insertId": "i", "protoPayload": {"serviceName": "s", "methodName": 7}}),
            // a method and nothing saying it is a log entry's
            json!({"protoPayload": {"methodName": "SetIamPolicy"}}),
        ];
        for v in not {
            assert_eq!(source_of(&v), None, "{v}");
        }
    }

    /// Ambiguous objects resolve in the documented order.
    #[test]
    fn the_order_resolves_ambiguity() {
        let both = json!({"eventSource": "s", "eventName": "n", "awsRegion": "r",
                          "verb": "get", "requestURI": "/", "user": {}});
        assert_eq!(source_of(&both), Some("aws.cloudtrail"));
        let declared = json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1",
                              "eventSource": "s", "eventName": "n", "awsRegion": "r"});
        assert_eq!(source_of(&declared), Some("k8s.audit"));
    }

    #[test]
    fn unknown_objects_say_what_they_lack() {
        let m = json!({"verb": "get", "user": {"username": "u"}, "ts": 1});
        let why = why_unknown(m.as_object().unwrap());
        assert_eq!(
            why,
            "has `verb`, `user` of k8s.audit, which needs a string `verb`, `requestURI` or \
             `objectRef`, and `user`, `auditID` or `stage`"
        );
        let m = json!({"a": 1, "b": 2});
        assert_eq!(why_unknown(m.as_object().unwrap()), "keys: a, b");
    }
}
