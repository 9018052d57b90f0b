//! Mutation fuzzing from a corpus kept in the repository (tests/fuzz/,
//! README there), for a bounded time per target:
//!
//! - **events**: the corpus events and the real samples, mutated (bytes
//!   flipped, tokens inserted, ranges deleted or repeated thousands of
//!   times, files spliced and truncated), scanned with the bundled library
//!   in every input format. Nothing panics, and every alert written is one
//!   line of JSON.
//! - **rules**: the corpus rules and the bundled library, mutated the same
//!   way with rule tokens, then checked; diagnostics have spans inside the
//!   text and render; an error-free result is lowered, planned and run over
//!   the corpus events; `ward fmt` output formats to itself.
//! - **generated rule sets**: 200 to 1,500 well-typed rules drawn from the
//!   schema's fields, operators, lists, macros, quantifiers and stateful
//!   clauses: they check with no error, and plan and run.
//!
//! `WARD_FUZZ_SECS` (default 10) bounds each target's time; iteration `i`
//! uses seed `WARD_FUZZ_SEED + i` (default seed 1), so a run is repeatable
//! up to where time stops it. A failing input is written to
//! `target/fuzz-failures/` and named in the failure; once the bug is fixed,
//! add it to the corpus.

use std::cell::RefCell;
use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use ward_compiler::diagnostic::FileId;
use ward_compiler::{check, load, lower, schema};
use ward_runtime::decode::Format;
use ward_runtime::scan::{Output, Scan};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// SplitMix64: small, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// The files of `dir` (recursively), sorted by path.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The corpus of events: tests/fuzz/events and the real samples.
fn event_corpus() -> Vec<Vec<u8>> {
    let mut paths = files_under(&root().join("tests/fuzz/events"));
    paths.extend(
        files_under(&root().join("tests/samples"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e != "md"))
            .filter(|p| p.metadata().is_ok_and(|m| m.len() < 256 << 10)),
    );
    let out: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    assert!(out.len() >= 15, "{} event files", out.len());
    out
}

/// The corpus of rules: tests/fuzz/rules and the bundled library.
fn rule_corpus() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = files_under(&root().join("tests/fuzz/rules"))
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    out.extend(
        ward_runtime::bundled::RULES
            .iter()
            .map(|(_, t)| t.as_bytes().to_vec()),
    );
    assert!(out.len() >= 15, "{} rule files", out.len());
    out
}

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\\u0000",
    "\\ud83d",
    "null",
    "true",
    "-1e999",
    "0.5",
    "\n",
    "\r\n",
    "\u{feff}",
    "\"kind\":\"Event\"",
    "\"apiVersion\":\"audit.k8s.io/v1\"",
    "\"verb\":\"create\"",
    "\"Records\":[",
    "\"stageTimestamp\":\"2024-01-01T00:00:00Z\"",
    "\"eventTime\":1700000000",
    "\"objectRef\":{\"resource\":\"pods\",\"subresource\":\"exec\"}",
    "\"log\":\"{\\\"kind\\\":\\\"Event\\\"}\"",
    "\"protoPayload\":{",
    "\u{e9}",
    "\u{1F600}",
    "\u{0}",
];

const RULE_TOKENS: &[&str] = &[
    "rule",
    "list",
    "macro",
    "source",
    "import",
    "when",
    "except",
    "output",
    "count",
    "sequence",
    "by",
    "within",
    "distinct",
    "until",
    "not",
    "and",
    "or",
    "in",
    "cidr",
    "any",
    "all",
    "is",
    "null",
    "exists",
    "==",
    "!=",
    ">=",
    "<",
    "matches",
    "imatches",
    "glob",
    "icontains",
    "startswith",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    ".",
    "\"",
    "r\"",
    "\\",
    "#",
    "\n",
    "lower(",
    "len(",
    "query(",
    "is_private(",
    "tag",
    "5m",
    "0s",
    "31d",
    "-1",
    "9223372036854775808",
    "1e308",
    "verb",
    "objectRef.resource",
    "requestObject.spec.containers",
    "c.image",
    "user.username",
    "\"\\u{110000}\"",
    "\u{e9}",
    "\"{user.username}\"",
    "{",
    "severity high",
    "title \"t\"",
    "enabled false",
];

/// One to four mutations of `input`: a byte flipped, a token inserted, a
/// range deleted, a range repeated (up to some MiB: long inputs), a splice
/// with another corpus entry, a truncation.
fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>], tokens: &[&str]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = rng.pick(tokens).as_bytes().to_vec();
                out.splice(at..at, t);
            }
            2 => {
                let end = (at + 1 + rng.below(64)).min(out.len());
                out.drain(at..end);
            }
            3 => {
                let end = (at + 1 + rng.below(256)).min(out.len());
                let piece = out[at..end].to_vec();
                let most = if rng.chance(10) { 20_000 } else { 50 };
                let times = 1 + rng.below(most);
                let fill: Vec<u8> = piece
                    .iter()
                    .copied()
                    .cycle()
                    .take((piece.len() * times).min(4 << 20))
                    .collect();
                out.splice(end..end, fill);
            }
            4 => {
                let other = rng.pick(corpus);
                let from = rng.below(other.len() + 1);
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
            _ => out.truncate(at),
        }
    }
    out
}

/// The input of run `seed`: with the first seeds, each corpus entry as it
/// is; after them, mutations.
fn input(seed: u64, corpus: &[Vec<u8>], tokens: &[&str]) -> Vec<u8> {
    let base = &corpus[seed as usize % corpus.len()];
    if seed <= corpus.len() as u64 {
        return base.clone();
    }
    mutate(&mut Rng(seed), base, corpus, tokens)
}

/// A run this slow is reported and its input saved.
const SLOW: Duration = Duration::from_secs(5);

fn budget() -> Duration {
    let secs = std::env::var("WARD_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    Duration::from_secs_f64(secs)
}

/// Runs `test` on `input(seed)` for seeds from `WARD_FUZZ_SEED` on, until
/// the budget is spent (at least `min_runs` times). A panic saves the input
/// and fails with its seed and path. Returns the number of runs.
fn fuzz(
    target: &str,
    min_runs: u64,
    mut input: impl FnMut(u64) -> Vec<u8>,
    mut test: impl FnMut(&[u8]),
) -> u64 {
    let first: u64 = std::env::var("WARD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let (start, budget) = (Instant::now(), budget());
    let mut runs = 0;
    while runs < min_runs || start.elapsed() < budget {
        let seed = first + runs;
        let bytes = input(seed);
        let began = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| test(&bytes)));
        if began.elapsed() > SLOW {
            // Not a failure (machines differ), but worth a look: saved.
            let dir = root().join("target/fuzz-failures");
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("slow-{target}-{seed}.bin"));
            let _ = std::fs::write(&path, &bytes);
            eprintln!(
                "{target}: seed {seed} took {:.1} s ({} bytes), saved to {}",
                began.elapsed().as_secs_f64(),
                bytes.len(),
                path.display()
            );
        }
        if let Err(e) = result {
            let dir = root().join("target/fuzz-failures");
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("{target}-{seed}.bin"));
            let _ = std::fs::write(&path, &bytes);
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "{target}: seed {seed} failed ({why}); input saved to {} (rerun: WARD_FUZZ_SEED={seed})",
                path.display()
            );
        }
        runs += 1;
    }
    eprintln!(
        "{target}: {runs} runs in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    runs
}

/// A scan that lives across runs (as on a long stream), writing to a
/// buffer the test reads.
struct Scanner {
    scan: Scan<'static>,
    written: Rc<RefCell<Vec<u8>>>,
    format: Format,
}

struct Shared(Rc<RefCell<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Scanner {
    fn new(rules: lower::RuleSet, format: Format) -> Scanner {
        let written = Rc::new(RefCell::new(Vec::new()));
        // Leaked: a few per test, and the scan needs a sink for its life.
        let sink: &'static mut Shared = Box::leak(Box::new(Shared(written.clone())));
        let out = Output {
            text: false,
            with_event: true,
        };
        Scanner {
            scan: Scan::new(rules, sink, out),
            written,
            format,
        }
    }

    /// Scans `bytes` to its end (stateful windows closed); every alert line
    /// written is JSON.
    fn scan(&mut self, bytes: &[u8]) {
        let _ = self.scan.read_all("fuzz", bytes, self.format);
        self.scan.finish();
        let written = std::mem::take(&mut *self.written.borrow_mut());
        for line in written.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            assert!(
                serde_json::from_slice::<serde_json::Value>(line).is_ok(),
                "{:?}: an alert line that is not JSON: {}",
                self.format,
                String::from_utf8_lossy(line)
            );
        }
    }
}

fn bundled_rules() -> lower::RuleSet {
    let loaded = load::load_texts(ward_runtime::bundled::RULES);
    assert_eq!(check(&loaded, schema::bundled()).errors(), 0);
    lower::lower(&loaded)
}

#[test]
fn mutated_events_scan_without_panics_and_alerts_stay_json() {
    let corpus = event_corpus();
    let mut scanners: Vec<Scanner> = [Format::Auto, Format::JsonLines, Format::Document]
        .into_iter()
        .map(|f| Scanner::new(bundled_rules(), f))
        .collect();
    let runs = fuzz(
        "events",
        corpus.len() as u64,
        |seed| input(seed, &corpus, JSON_TOKENS),
        |bytes| {
            for s in &mut scanners {
                s.scan(bytes);
            }
        },
    );
    assert!(runs >= corpus.len() as u64);
}

/// Checks `text`; spans lie inside it on char boundaries and render. An
/// error-free rule set is planned and run over `events`.
fn check_plan_run(text: &str, events: &[u8]) {
    let loaded = load::load_texts(&[("fuzz.ward", text)]);
    let report = check(&loaded, schema::bundled());
    for d in &report.diagnostics {
        for l in &d.labels {
            assert!(
                l.span.start <= l.span.end
                    && l.span.end <= text.len()
                    && text.is_char_boundary(l.span.start)
                    && text.is_char_boundary(l.span.end),
                "{}: span {:?} outside {} bytes or inside a char",
                d.message,
                l.span,
                text.len()
            );
        }
    }
    let _ = ward_compiler::diagnostic::render_plain(&loaded.sources, &report.diagnostics, 80);
    if report.errors() == 0 {
        Scanner::new(lower::lower(&loaded), Format::Auto).scan(events);
    }
    if let Ok(once) = ward_compiler::syntax::format::format(FileId(0), text) {
        let twice = ward_compiler::syntax::format::format(FileId(0), &once);
        assert_eq!(twice.as_ref(), Ok(&once), "fmt is not idempotent");
    }
}

#[test]
fn mutated_rules_check_without_panics() {
    let corpus = rule_corpus();
    let events: Vec<u8> = files_under(&root().join("tests/fuzz/events"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .flat_map(|p| std::fs::read(p).unwrap_or_default())
        .collect();
    fuzz(
        "rules",
        corpus.len() as u64,
        |seed| input(seed, &corpus, RULE_TOKENS),
        |bytes| check_plan_run(&String::from_utf8_lossy(bytes), &events),
    );
}

/// Fields of `k8s.audit` by kind, for generated rules.
const STRINGS: &[&str] = &[
    "verb",
    "objectRef.resource",
    "objectRef.subresource",
    "objectRef.namespace",
    "objectRef.name",
    "user.username",
    "userAgent",
    "requestURI",
    "sourceIPs[0]",
    "annotations.\"authorization.k8s.io/decision\"",
];
const STRING_OPS: &[&str] = &[
    "==",
    "!=",
    "in",
    "not in",
    "startswith",
    "endswith",
    "contains",
    "icontains",
    "glob",
    "iglob",
    "istartswith",
    "matches",
    "imatches",
];

/// A well-typed condition of the k8s.audit schema.
fn condition(rng: &mut Rng, lists: usize, macros: usize, depth: usize) -> String {
    let word = |rng: &mut Rng| format!("\"w{}\"", rng.below(400));
    match rng.below(if depth > 2 { 6 } else { 9 }) {
        0..=2 => {
            let field = rng.pick(STRINGS);
            let op = *rng.pick(STRING_OPS);
            let rhs = match op {
                "in" | "not in" if lists > 0 && rng.chance(50) => {
                    format!("list{}", rng.below(lists))
                }
                "in" | "not in" => format!("[{}, {}]", word(rng), word(rng)),
                "matches" | "imatches" => format!("r\"^w{}[0-9]*$\"", rng.below(400)),
                "glob" | "iglob" => format!("[\"w{}*\", \"*x\"]", rng.below(400)),
                _ => word(rng),
            };
            format!("{field} {op} {rhs}")
        }
        3 => format!(
            "responseStatus.code {} {}",
            rng.pick(&["==", "!=", ">=", "<"]),
            100 + rng.below(500)
        ),
        4 => format!(
            "sourceIPs[0] in cidr [\"10.{}.0.0/16\", \"2001:db8::/32\"]",
            rng.below(256)
        ),
        5 if macros > 0 => format!("m{}", rng.below(macros)),
        5 => "objectRef.subresource is null".to_string(),
        6 => format!(
            "({} {} {})",
            condition(rng, lists, macros, depth + 1),
            rng.pick(&["and", "or"]),
            condition(rng, lists, macros, depth + 1)
        ),
        7 if rng.chance(30) => match rng.below(4) {
            0 => format!(
                "lower({}) {} \"w{}\"",
                rng.pick(STRINGS),
                rng.pick(&["==", "!=", "startswith"]),
                rng.below(400)
            ),
            1 => format!(
                "{} v in query(requestURI, \"w{}\"): v {} \"w{}\"",
                rng.pick(&["any", "all"]),
                rng.below(40),
                rng.pick(&["==", "icontains"]),
                rng.below(400)
            ),
            2 => format!("len(user.groups) > {}", rng.below(4)),
            _ => format!(
                "{}is_private(sourceIPs[{}])",
                rng.pick(&["", "not "]),
                rng.below(2)
            ),
        },
        7 => format!("not ({})", condition(rng, lists, macros, depth + 1)),
        _ => format!(
            "{} c in requestObject.spec.containers: c.image {} \"w{}\"",
            rng.pick(&["any", "all"]),
            rng.pick(&["icontains", "startswith", "=="]),
            rng.below(400)
        ),
    }
}

/// A rule file of `rules` rules with lists and macros, well typed.
fn generated(seed: u64) -> String {
    let mut rng = Rng(seed);
    let (lists, macros, rules) = (1 + rng.below(20), rng.below(30), 200 + rng.below(1300));
    let mut text = String::from("source k8s.audit\n\n");
    for l in 0..lists {
        let items: Vec<String> = (0..1 + rng.below(300))
            .map(|_| format!("\"w{}\"", rng.below(2000)))
            .collect();
        text += &format!("list list{l} = [{}]\n", items.join(", "));
    }
    for m in 0..macros {
        text += &format!("macro m{m} = {}\n", condition(&mut rng, lists, m, 1));
    }
    for r in 0..rules {
        text += &format!(
            "\nrule g{r} {{\n  title \"g{r} {{user.username}}\"\n  severity {}\n  when {}\n",
            rng.pick(&["info", "low", "medium", "high", "critical"]),
            condition(&mut rng, lists, macros, 0)
        );
        if rng.chance(30) {
            text += &format!("  except {}\n", condition(&mut rng, lists, macros, 1));
        }
        match rng.below(12) {
            0 => {
                text += &format!(
                    "  count by user.username within {}m > {}\n",
                    1 + rng.below(60),
                    rng.below(10)
                )
            }
            1 => text += "  count distinct objectRef.namespace by user.username within 10m >= 2\n",
            2 => {
                text += &format!(
                    "  sequence by user.username within 5m {{\n    a: {}\n    b: {}\n  }}\n",
                    condition(&mut rng, lists, macros, 1),
                    condition(&mut rng, lists, macros, 1)
                )
            }
            _ => {}
        }
        text += "}\n";
    }
    text
}

#[test]
fn generated_rule_sets_check_clean_and_run() {
    let events: Vec<u8> = event_corpus().concat();
    fuzz(
        "generated",
        2,
        |seed| generated(seed).into_bytes(),
        |bytes| {
            let text = std::str::from_utf8(bytes).expect("generated text is UTF-8");
            let loaded = load::load_texts(&[("generated.ward", text)]);
            let report = check(&loaded, schema::bundled());
            let errors: Vec<String> = report
                .diagnostics
                .iter()
                .filter(|d| d.severity() == ward_compiler::Severity::Error)
                .take(3)
                .map(|d| {
                    format!(
                        "{} at {:?}: {}",
                        d.message,
                        d.labels[0].span,
                        &text[d.labels[0].span.start..d.labels[0].span.end]
                    )
                })
                .collect();
            assert!(errors.is_empty(), "{errors:#?}");
            Scanner::new(lower::lower(&loaded), Format::Auto).scan(&events);
        },
    );
    let _ = std::io::stderr().flush();
}
