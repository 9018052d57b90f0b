//! `ward scan --threads N`: the output of a parallel scan is the
//! single-threaded scan's, byte for byte and in the same order, stateful
//! rules included, whatever the number of threads and the size of the
//! batches the input is cut into.

mod common;

use common::{dir, ward};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Every sample event file the repository holds.
fn sample_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for root in ["tests/samples", "rules"] {
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join(root),
            &mut files,
        );
    }
    files.sort();
    files
}

fn walk(d: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(d) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| ["json", "jsonl", "gz", "log"].contains(&x.to_str().unwrap_or("")))
        {
            out.push(p);
        }
    }
}

/// `ward scan` with `flags` over `files`: exit code, alerts, and the
/// summary JSON without its timing.
fn scan(flags: &[&str], files: &[PathBuf], summary: &Path) -> (u8, String, serde_json::Value) {
    let mut args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    args.push("--summary-json".into());
    args.push(summary.display().to_string());
    args.extend(files.iter().map(|f| f.display().to_string()));
    let mut argv = vec!["scan"];
    argv.extend(args.iter().map(String::as_str));
    let (code, out, err) = ward(&argv);
    let text = std::fs::read_to_string(summary).unwrap_or_else(|e| panic!("{e}: {err}"));
    let mut json: serde_json::Value = serde_json::from_str(&text).expect("summary JSON");
    json["seconds"] = serde_json::Value::Null;
    (code, out, json)
}

/// Compares scans at 2, 4 and 8 threads, each with batches of one line,
/// of a few KiB and of the default size, with the scan on one thread.
fn same_at_every_thread_count(rules: &[&str], files: &[PathBuf], tmp: &Path) -> String {
    let summary = tmp.join("summary.json");
    let mut one_flags = rules.to_vec();
    one_flags.extend(["--threads", "1"]);
    let (code, alerts, counts) = scan(&one_flags, files, &summary);
    for threads in ["2", "4", "8"] {
        for batch in ["1", "4096", "524288"] {
            let mut flags = rules.to_vec();
            flags.extend(["--threads", threads, "--batch-bytes", batch]);
            let (c, a, s) = scan(&flags, files, &summary);
            let at = format!("--threads {threads} --batch-bytes {batch}");
            assert_eq!(c, code, "exit code at {at}");
            if a != alerts {
                let first = (a.lines().zip(alerts.lines()))
                    .position(|(x, y)| x != y)
                    .unwrap_or(a.lines().count().min(alerts.lines().count()));
                panic!(
                    "alerts differ at {at}, from alert line {}: {} lines against {} on one thread",
                    first + 1,
                    a.lines().count(),
                    alerts.lines().count()
                );
            }
            assert_eq!(s, counts, "summary at {at}");
        }
    }
    alerts
}

#[test]
fn every_sample_gives_the_same_alerts_on_any_number_of_threads() {
    let files = sample_files();
    assert!(files.len() > 100, "samples found: {}", files.len());
    let tmp = dir("parallel-samples", &[("README", "summaries\n")]);
    let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/site");
    let site = site.display().to_string();
    let rules = ["--rules", "bundled", "--rules", &site];
    let alerts = same_at_every_thread_count(&rules, &files, &tmp);
    // The samples fire stateless and stateful rules alike.
    let ids: std::collections::BTreeSet<&str> = alerts
        .lines()
        .filter_map(|l| l.split("\"rule\":\"").nth(1)?.split('"').next())
        .collect();
    assert!(ids.len() > 80, "rules that fired: {}", ids.len());
    assert!(
        alerts.contains("\"window\""),
        "no stateful alert in the samples"
    );
}

/// Counts, a distinct count, sequences (one ending in an absence) and a
/// stateless rule (shared with runtime/tests/parallel_stream.rs).
const STATEFUL: &str = include_str!("common/parallel.ward");

#[test]
fn generated_corpora_with_stateful_rules_give_the_same_alerts_in_the_same_order() {
    let tmp = dir("parallel-corpus", &[("rules/stateful.ward", STATEFUL)]);
    let rules_dir = tmp.join("rules").display().to_string();
    // JSON lines (two files, one of them gzip) and a CloudTrail document.
    let events = ward_runtime::corpus::k8s_events(30_000, 7);
    let (a, b) = events.split_at(18_000);
    std::fs::write(tmp.join("a.jsonl"), a.join("\n") + "\n").expect("write");
    gzip(&tmp.join("b.jsonl.gz"), &(b.join("\n") + "\n"));
    let records = ward_runtime::corpus::cloudtrail_records(3_000, 7);
    let doc = format!("{{\"Records\":[{}]}}", records.join(","));
    std::fs::write(tmp.join("trail.json"), doc).expect("write");
    let files = [
        tmp.join("a.jsonl"),
        tmp.join("trail.json"),
        tmp.join("b.jsonl.gz"),
    ];
    let rules = ["--rules", "bundled", "--rules", &rules_dir];
    let alerts = same_at_every_thread_count(&rules, &files, &tmp);
    for rule in [
        "refused_burst",
        "secrets_read_by_one",
        "refused_then_write",
        "deleted_and_not_recreated",
        "exec_anywhere",
    ] {
        let n = alerts.matches(&format!("\"rule\":\"{rule}\"")).count();
        assert!(
            n > 0,
            "{rule} never fired: the comparison would prove nothing"
        );
    }
    assert!(
        alerts.contains("\"source\":\"aws.cloudtrail\""),
        "no CloudTrail alert"
    );
}

/// At a cap of 4 live keys the rules evict all the time: which keys go is
/// the front's decision, made as one thread makes it, so the alerts, the
/// state-cap lines and the summary are one thread's at every thread count.
/// Times cut to the second make keys touched at the same time common:
/// which of them go is decided by their text, not by the order of a table
/// seeded at random, so two runs on one thread agree too.
#[test]
fn the_key_cap_evicts_the_same_keys_on_any_number_of_threads() {
    let tmp = dir("parallel-cap", &[("rules/stateful.ward", STATEFUL)]);
    let rules_dir = tmp.join("rules").display().to_string();
    let events: Vec<String> = ward_runtime::corpus::k8s_events(5_000, 7)
        .into_iter()
        .map(|e| to_the_second(&e))
        .collect();
    std::fs::write(tmp.join("a.jsonl"), events.join("\n") + "\n").expect("write");
    let files = [tmp.join("a.jsonl")];
    let flags = ["--rules", &rules_dir, "--max-keys", "4"];
    let alerts = same_at_every_thread_count(&flags, &files, &tmp);
    let summary = tmp.join("summary.json");
    let mut again = flags.to_vec();
    again.extend(["--threads", "1"]);
    let (_, second, json) = scan(&again, &files, &summary);
    assert!(second == alerts, "two runs on one thread differ");
    let lines = alerts.matches("\"diagnostic\":\"state-cap\"").count();
    assert!(lines > 100, "state-cap lines: {lines}");
    let evicted = json["state"]["evicted"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for rule in [
        "refused_burst",
        "secrets_read_by_one",
        "refused_then_write",
        "deleted_and_not_recreated",
    ] {
        let n = evicted.get(rule).and_then(|n| n.as_u64()).unwrap_or(0);
        assert!(n > 0, "{rule} evicted nothing: {evicted:?}");
    }
}

/// An event's times without their fractions of a second.
fn to_the_second(event: &str) -> String {
    let mut out = String::with_capacity(event.len());
    let mut rest = event;
    while let Some(at) = rest.find(".") {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        let digits = tail[1..].bytes().take_while(u8::is_ascii_digit).count();
        let is_time = digits > 0
            && head.ends_with(|c: char| c.is_ascii_digit())
            && tail[1 + digits..].starts_with("Z\"");
        if is_time {
            rest = &tail[1 + digits..];
        } else {
            out.push('.');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

fn gzip(path: &Path, text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).expect("gzip");
    let bytes = gz.finish().expect("gzip");
    std::fs::write(path, &bytes).expect("write");
    bytes
}

/// Small gzip files go whole to the workers (spec/inputs.md "Threads"):
/// JSON lines and CloudTrail `Records` documents among plain files, and a
/// truncated one, give the one-thread alerts, summary, exit code and error.
#[test]
fn small_gzip_files_read_whole_by_workers_give_the_one_thread_scan() {
    let tmp = dir("parallel-gzip", &[("rules/stateful.ward", STATEFUL)]);
    let rules_dir = tmp.join("rules").display().to_string();
    let events = ward_runtime::corpus::k8s_events(12_000, 11);
    let mut files = Vec::new();
    for (i, part) in events.chunks(3_000).enumerate() {
        let text = part.join("\n") + "\n";
        let file = tmp.join(format!("k{i}.jsonl"));
        if i % 2 == 0 {
            let file = file.with_extension("jsonl.gz");
            gzip(&file, &text);
            files.push(file);
        } else {
            std::fs::write(&file, &text).expect("write");
            files.push(file);
        }
        let records = ward_runtime::corpus::cloudtrail_records(500, i as u64);
        let trail = tmp.join(format!("trail-{i}.json.gz"));
        gzip(&trail, &format!("{{\"Records\":[{}]}}", records.join(",")));
        files.push(trail);
    }
    let whole = gzip(
        &tmp.join("whole.jsonl.gz"),
        &(events[..2_000].join("\n") + "\n"),
    );
    let cut = tmp.join("cut.jsonl.gz");
    std::fs::write(&cut, &whole[..whole.len() / 2]).expect("write");
    files.insert(3, cut);
    let rules = ["--rules", "bundled", "--rules", &rules_dir];
    let alerts = same_at_every_thread_count(&rules, &files, &tmp);
    assert!(
        alerts.contains("\"source\":\"aws.cloudtrail\""),
        "no CloudTrail alert"
    );
    assert!(alerts.contains("k2.jsonl.gz") && alerts.contains("trail-1.json.gz"));
    // The truncated file is named, as on one thread, and the scan goes on.
    let mut argv = vec!["scan", "--threads", "2"];
    argv.extend(rules);
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    argv.extend(names.iter().map(String::as_str));
    let (code, out, err) = ward(&argv);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cut.jsonl.gz") && err.contains("after"),
        "{err}"
    );
    assert!(
        out.contains("trail-3.json.gz"),
        "the files after it are scanned"
    );
}

/// The reader hands the workers whole blocks of lines as read
/// (`decode::BlockSink`); what is in a line is the workers' to find. Blank
/// and whitespace lines, CRLF endings, lines that are not JSON, a line
/// that is half an object, values back to back on one line, CloudTrail
/// `Records` documents on one line, lines past `--max-line-bytes` and a
/// last line without a newline give the one-thread alerts, problems,
/// summary and exit code, in one file and with a file after it.
#[test]
fn lines_of_every_kind_read_in_blocks_give_the_one_thread_scan() {
    let tmp = dir("parallel-lines", &[("rules/stateful.ward", STATEFUL)]);
    let rules_dir = tmp.join("rules").display().to_string();
    let events = ward_runtime::corpus::k8s_events(6_000, 13);
    let records = ward_runtime::corpus::cloudtrail_records(600, 13);
    let mut text = String::new();
    for (i, e) in events.iter().enumerate() {
        text.push_str(e);
        text.push_str(if i % 89 == 0 { "\r\n" } else { "\n" });
        match i % 97 {
            0 => text.push('\n'),
            1 => text.push_str("  \t \n"),
            2 => text.push_str("not json\n"),
            3 => text.push_str("{\"half\":\n"),
            4 => text.push_str(&format!("{e}{e}\n")),
            5 => {
                let at = i % 500;
                let doc = records[at..at + 100].join(",");
                text.push_str(&format!("{{\"Records\":[{doc}]}}\n"));
            }
            _ => {}
        }
    }
    text.push_str(&events[0]);
    std::fs::write(tmp.join("lines.jsonl"), &text).expect("write");
    std::fs::write(tmp.join("after.jsonl"), events[..500].join("\n")).expect("write");
    let files = [tmp.join("lines.jsonl"), tmp.join("after.jsonl")];
    let rules = ["--rules", "bundled", "--rules", &rules_dir];
    let alerts = same_at_every_thread_count(&rules, &files, &tmp);
    assert!(alerts.contains("\"source\":\"aws.cloudtrail\""));
    // The problems are there to compare: every line that is not JSON.
    let summary = tmp.join("summary.json");
    let mut flags = rules.to_vec();
    flags.extend(["--threads", "1"]);
    let (_, _, json) = scan(&flags, &files, &summary);
    let malformed = json["counts"]["malformed"].as_u64().unwrap_or(0);
    assert!(malformed >= 2 * 6_000 / 97, "malformed lines: {malformed}");
    // Past a line limit that a tenth of the events pass: read as
    // documents when the format is detected, reported as JSON lines.
    let mut sizes: Vec<usize> = events.iter().map(String::len).collect();
    sizes.sort_unstable();
    let limit = sizes[sizes.len() * 9 / 10].to_string();
    let mut flags = rules.to_vec();
    flags.extend(["--max-line-bytes", &limit]);
    let documents = same_at_every_thread_count(&flags, &files, &tmp);
    assert!(
        documents == alerts,
        "a line past the limit is read as a document"
    );
    flags.extend(["--input-format", "jsonl"]);
    same_at_every_thread_count(&flags, &files, &tmp);
    let (_, _, json) = scan(&flags, &files, &summary);
    let too_long = json["counts"]["too_long"].as_u64().unwrap_or(0);
    assert!(too_long >= 6_000 / 20, "lines past the limit: {too_long}");
}
