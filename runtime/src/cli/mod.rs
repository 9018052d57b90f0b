//! Command-line interface: argument parsing and dispatch to one module per
//! command. Exit codes: 0 clean, 1 findings, 2 usage or I/O error.

mod baseline;
mod check;
mod explain;
mod fmt;
pub mod sarif;
mod scan;
mod schema;
mod signals;
mod test;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit code: nothing found.
pub const EXIT_CLEAN: u8 = 0;
/// Exit code: findings (errors in rules; or warnings with `--deny warnings`).
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: bad usage, or a file that cannot be read.
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "ward",
    version,
    about = "Ward: typed detection rules for Kubernetes audit, CloudTrail and Calico logs.",
    long_about = "Ward: typed detection rules for Kubernetes audit, CloudTrail and Calico logs.\n\n\
        Write rules in .ward files; `ward check` finds every mistake before an event is seen.\n\n\
        Exit codes: 0 clean, 1 findings, 2 usage or I/O error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Type-check rule files against the event schemas and report every problem.
    ///
    /// Checks each .ward file given, and every .ward file below each directory
    /// given; imports are followed. Exit code 1 if any error is found (or any
    /// warning, with --deny warnings), 2 if a path cannot be read. Silence a
    /// warning with `# ward:allow(CODE) reason: ...` before the rule, list or
    /// macro (spec/diagnostics.md).
    Check {
        /// Rule files or directories [default: the current directory]
        paths: Vec<PathBuf>,
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Treat warnings as findings: `--deny warnings`
        #[arg(long, value_name = "LEVEL")]
        deny: Option<Deny>,
    },
    /// Run rules over event files and print an alert per match.
    ///
    /// Reads JSON lines, gzip, CloudTrail `{"Records": [...]}` files, audit
    /// EventLists, EKS audit logs exported from CloudWatch Logs, Google Cloud
    /// Audit Logs (GKE's Kubernetes entries as audit events) and Pub/Sub
    /// messages of them, detecting the format per file; `-` or no file
    /// reads stdin.
    /// Alerts go to stdout (or --output) as JSON lines; a summary goes to
    /// stderr. Exit code 1 if any rule fired (0 with --exit-zero), 2 on a
    /// read error, lines that could not be read (--allow-problems: not), or
    /// rules with errors.
    Scan {
        /// Event files, or - for stdin
        files: Vec<PathBuf>,
        /// A rule file or directory; repeat to layer files over others,
        /// `bundled` naming the bundled library (`--rules bundled --rules
        /// ./local`) [default: the bundled library]
        #[arg(long, value_name = "PATH")]
        rules: Vec<PathBuf>,
        /// Alert format
        #[arg(long, value_enum, default_value_t = AlertFormat::Json)]
        format: AlertFormat,
        /// Write alerts to this file instead of stdout
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Force the input format instead of detecting it
        #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
        input_format: InputFormat,
        /// Take every event as one of SOURCE, whatever its shape (wrappings
        /// such as Records, EventList, CloudWatch and AKS are still opened)
        #[arg(long, value_name = "SOURCE", value_parser = parse_source)]
        source: Option<&'static str>,
        /// Longest line read as a line; a longer one that starts a JSON
        /// object or array is read as a document, else skipped and reported
        #[arg(long, value_name = "SIZE", default_value = "16MiB", value_parser = parse_size)]
        max_line_bytes: usize,
        /// Largest document read (a pretty-printed file, or a CloudTrail
        /// file written as one line); CloudTrail records are read one by one
        #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
        max_document_bytes: usize,
        /// Exit 2 when any line is not an event, lines of unknown source
        /// included (without it, only lines that could not be read: not
        /// JSON, too long)
        #[arg(long, conflicts_with = "allow_problems")]
        strict: bool,
        /// Exit by alerts alone, even when lines could not be read (they
        /// are still counted and listed)
        #[arg(long)]
        allow_problems: bool,
        /// Also write the summary as JSON to FILE (counts per source, per
        /// file and per kind of problem; spec/inputs.md)
        #[arg(long, value_name = "FILE")]
        summary_json: Option<PathBuf>,
        /// Leave the original event out of each alert
        #[arg(long)]
        no_event: bool,
        /// Exit 0 even when alerts were found (for pipelines)
        #[arg(long)]
        exit_zero: bool,
        /// How far out of time order an event may arrive and still count
        /// for stateful rules (count, sequence)
        #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
        lateness: u64,
        /// Which time windows of stateful rules use
        #[arg(long, value_enum, default_value_t = TimeMode::Event)]
        time: TimeMode,
        /// Bytes of events held for stateful rules while their lateness
        /// runs; beyond it the oldest are released early and counted
        #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = parse_size)]
        max_held_bytes: usize,
        /// On stdin or a pipe: release the events held for stateful rules
        /// once event time has stood still this long by the wall clock, so
        /// that events without a time and the last ones before a quiet
        /// spell are not held until more input comes [default: the lateness]
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        max_idle: Option<u64>,
        /// Live keys per stateful rule; beyond it the least recently seen are evicted
        #[arg(long, value_name = "N", default_value_t = crate::state::DEFAULT_MAX_KEYS)]
        max_keys: usize,
        /// Threads that extract and match events and hold the stateful
        /// rules' keys [default: the number of cores]. The output is the
        /// same for any number, in the same order (below --max-keys);
        /// stdin and other streams are read on one thread
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        /// Input bytes per batch handed to a worker thread (for tests)
        #[arg(long, value_name = "BYTES", default_value_t = crate::parallel::BATCH_BYTES, hide = true)]
        batch_bytes: usize,
    },
    /// Run every rule's samples and compare its alerts with the golden file.
    ///
    /// Samples of rule R in DIR/x.ward live in DIR/samples/R/: files named
    /// alert* hold events that must each fire R, quiet* events that must not,
    /// and expected.jsonl the exact alerts (spec/testing.md). Exit code 1 on
    /// any failure.
    Test {
        /// Rule files or directories [default: the current directory]
        paths: Vec<PathBuf>,
        /// Output format
        #[arg(long, value_enum, default_value_t = test::TestFormat::Human)]
        format: test::TestFormat,
        /// Rewrite the golden files from the current alerts (review the diff; never in CI)
        #[arg(long, alias = "update")]
        bless: bool,
        /// Do not fail rules that lack alert or quiet samples (third-party rule sets)
        #[arg(long)]
        allow_missing_samples: bool,
        /// Fail a rule unless every leaf test of its when/except was seen true and false
        #[arg(long)]
        coverage: bool,
        /// Instead of the samples, scan this file of benign events and report
        /// each rule's alerts per million events against the false-positive
        /// budget (medium and above: under 1; all: under 100); exit 1 if over
        #[arg(long, value_name = "FILE", conflicts_with_all = ["bless", "coverage"])]
        baseline: Option<PathBuf>,
    },
    /// Print the compiled plan: dispatch, shared tests, extracted fields.
    ///
    /// Without a rule id, a summary per source followed by every rule.
    Explain {
        /// Only this rule
        rule: Option<String>,
        /// A rule file or directory; repeat to layer files over others,
        /// `bundled` naming the bundled library (`--rules bundled --rules
        /// ./local`) [default: the bundled library]
        #[arg(long, value_name = "PATH")]
        rules: Vec<PathBuf>,
    },
    /// Convert Sigma or Falco rules into .ward files, and check them.
    ///
    /// Writes formatted .ward files under --out, checks them as one rule
    /// set, and reports per source rule: converted, partial (what was left
    /// out) or skipped (why), with the checker's findings on the output
    /// (often defects of the originals). Exit code 1 if a rule was skipped
    /// or has findings.
    Import {
        /// The source language
        #[arg(value_enum)]
        language: ImportLanguage,
        /// Rule files (Sigma YAML rules; Falco rules files)
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Directory to write the .ward files into
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Report format
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        report: ReportFormat,
    },
    /// Run rules continuously on the Kubernetes audit webhook (spec/serve.md).
    ///
    /// Listens over HTTPS for the API server's audit webhook (POSTs of
    /// audit.k8s.io/v1 EventLists, with a bearer token or a client
    /// certificate), matches the events on one thread and writes alerts to
    /// the sinks of the config file; /healthz, /readyz and /metrics for
    /// probes and Prometheus. SIGTERM or SIGINT drains the queue, closes the
    /// stateful windows, flushes and exits 0. Exit code 2 if the config or
    /// the rules have errors.
    Serve {
        /// The YAML config file (spec/serve.md)
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Serve the Language Server Protocol on stdin/stdout, for editors.
    ///
    /// Diagnostics as `ward check` gives them for every .ward file of the
    /// workspace folders (open buffers in place of the disk), as you type;
    /// hover, completion, go to definition, references, formatting and
    /// quick fixes. editors/README.md shows the set-up per editor.
    Lsp,
    /// Rewrite rule files in the one canonical layout (spec/formatting.md).
    ///
    /// Formats each .ward file given, and every .ward file below each
    /// directory given; `-` formats stdin to stdout. Comments are kept. A file
    /// with syntax errors is reported and left alone (exit code 1).
    Fmt {
        /// Rule files or directories, or - for stdin [default: the current directory]
        paths: Vec<PathBuf>,
        /// Write nothing; list the files that would change and exit 1 if any
        #[arg(long)]
        check: bool,
        /// Write nothing; print the changes as a unified diff and exit 1 if any
        #[arg(long, conflicts_with = "check")]
        diff: bool,
    },
    /// List the fields of an event source with their types and docs.
    ///
    /// Without a source, lists the sources. With a prefix, lists only the
    /// fields below it: `ward schema k8s.audit objectRef`.
    Schema {
        /// A source such as k8s.audit, aws.cloudtrail, calico.flow
        source: Option<String>,
        /// Only fields whose path starts with this
        prefix: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ImportLanguage {
    Sigma,
    Falco,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Rendered diagnostics with source snippets
    Human,
    /// One JSON document with every diagnostic
    Json,
    /// GitHub Actions workflow commands (::error / ::warning annotations)
    Github,
    /// SARIF 2.1.0, for GitHub code scanning (upload-sarif)
    Sarif,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum AlertFormat {
    /// One JSON object per line (spec/alerts.md)
    Json,
    /// One readable line per alert
    Text,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum InputFormat {
    /// Detect per file
    Auto,
    /// One JSON value per line
    Jsonl,
    /// The whole file is one JSON document
    Document,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TimeMode {
    /// The event's own timestamp field (stageTimestamp, eventTime, end_time)
    Event,
    /// The time the event is read (for streams without timestamps)
    Processing,
}

/// A duration as rules write it (`30s`, `5m`, `0s`), in milliseconds.
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    if text.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() && text.parse() == Ok(0u64) {
        return Ok(0);
    }
    ward_compiler::syntax::parse::parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration such as 30s, 5m or 1h (up to 30d)"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Deny {
    Warnings,
}

/// Loads rules: the paths given (the current directory when none), or with
/// `bundled` and no paths, the library embedded in the binary. A path
/// spelled `bundled` stands for that library, so that a local directory
/// can be layered over it (`--rules bundled --rules ./local`); a directory
/// of that name is `./bundled`.
fn load_rules(
    paths: &[PathBuf],
    bundled: bool,
) -> Result<ward_compiler::load::Loaded, ward_compiler::load::LoadError> {
    // Every caller checks the rules next, against the schemas: read them
    // (a few ms of YAML) while the rule files are read and parsed.
    std::thread::spawn(ward_compiler::schema::bundled);
    let library = |p: &PathBuf| p.as_os_str() == BUNDLED;
    let texts = if paths.iter().any(library) || (paths.is_empty() && bundled) {
        crate::bundled::RULES
    } else {
        &[]
    };
    let rest: Vec<PathBuf> = paths.iter().filter(|p| !library(p)).cloned().collect();
    if rest.is_empty() && !texts.is_empty() {
        return Ok(ward_compiler::load::load_texts(texts));
    }
    let cwd = [PathBuf::from(".")];
    let rest = if rest.is_empty() { &cwd[..] } else { &rest };
    ward_compiler::load::load_layers(texts, rest)
}

/// One line on the rules that `fill list`s keep inactive, or `None`.
pub(crate) fn inactive_line(inactive: &[(String, Vec<String>)]) -> Option<String> {
    if inactive.is_empty() {
        return None;
    }
    let each: Vec<String> = inactive
        .iter()
        .map(|(rule, lists)| format!("{rule} ({})", lists.join(", ")))
        .collect();
    Some(format!(
        "{} rule(s) inactive until their lists are filled: {}; fill a list with \
         `extend list NAME [...]` in a file of your own (`--rules bundled --rules FILE`)",
        inactive.len(),
        each.join(", ")
    ))
}

/// The path that names the bundled library in `--rules` and rule paths.
pub const BUNDLED: &str = "bundled";

/// Checks loaded rules before running them; on errors, shows them on `err`
/// and returns `None` (the command then exits 2).
fn runnable(
    loaded: &ward_compiler::load::Loaded,
    err: &mut dyn Write,
) -> std::io::Result<Option<ward_compiler::lower::RuleSet>> {
    let report = ward_compiler::check(loaded, ward_compiler::schema::bundled());
    if report.errors() == 0 {
        return Ok(Some(ward_compiler::lower::lower(loaded)));
    }
    let text = ward_compiler::diagnostic::render_plain(&loaded.sources, &report.diagnostics, 100);
    err.write_all(text.as_bytes())?;
    writeln!(
        err,
        "ward: the rules have {} error(s); `ward check` shows them too",
        report.errors()
    )?;
    Ok(None)
}

/// The rules at `paths` loaded and checked as `ward serve` loads them at
/// start (and `ward check` checks them), for a reload: the rule set, or
/// the diagnostics rendered as text.
pub(crate) fn reload_rules(paths: &[PathBuf]) -> Result<ward_compiler::lower::RuleSet, String> {
    let loaded = load_rules(paths, true).map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    match runnable(&loaded, &mut text) {
        Ok(Some(rules)) => Ok(rules),
        _ => Err(String::from_utf8_lossy(&text).trim_end().to_string()),
    }
}

/// Runs the command line `args` (program name first), writing results to
/// `out` and messages to `err`, and returns the process exit code.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    STOP_ON_SIGNAL.store(true, std::sync::atomic::Ordering::Relaxed);
    #[cfg(unix)]
    {
        PROCESS_STDIN.store(true, std::sync::atomic::Ordering::Relaxed);
        run_io(args, &mut scan::RawStdin, out, err)
    }
    #[cfg(not(unix))]
    run_io(args, &mut std::io::stdin().lock(), out, err)
}

/// Whether the standard input given to [`run_io`] is the process's own
/// (file descriptor 0, read unbuffered), so that `ward scan -` may wait on
/// it with a timeout. Set by [`run`]; in-process runs pass their own.
static PROCESS_STDIN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `ward scan` ends on SIGINT/SIGTERM as at end of input (set by
/// [`run`], the binary's entry; not for in-process runs).
static STOP_ON_SIGNAL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// [`run`] with an explicit standard input.
pub fn run_io<I, T>(args: I, stdin: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_CLEAN
            };
            let text = e.render().to_string();
            let _ = if e.use_stderr() {
                err.write_all(text.as_bytes())
            } else {
                out.write_all(text.as_bytes())
            };
            return code;
        }
    };
    let result = match cli.command {
        Command::Check {
            paths,
            format,
            deny,
        } => check::run(&paths, format, deny.is_some(), out, err),
        Command::Scan {
            files,
            rules,
            format,
            output,
            input_format,
            source,
            max_line_bytes,
            max_document_bytes,
            strict,
            allow_problems,
            summary_json,
            no_event,
            exit_zero,
            lateness,
            time,
            max_held_bytes,
            max_idle,
            max_keys,
            threads,
            batch_bytes,
        } => {
            let input_format = match input_format {
                InputFormat::Auto => crate::decode::Format::Auto,
                InputFormat::Jsonl => crate::decode::Format::JsonLines,
                InputFormat::Document => crate::decode::Format::Document,
            };
            let opts = scan::Options {
                rules,
                files,
                text: format == AlertFormat::Text,
                output,
                input_format,
                source,
                max_line: max_line_bytes,
                max_document: max_document_bytes,
                strict,
                allow_problems,
                summary_json,
                no_event,
                exit_zero,
                state: crate::state::Config {
                    lateness_ns: i64::try_from(lateness)
                        .unwrap_or(i64::MAX)
                        .saturating_mul(1_000_000),
                    max_keys: max_keys.max(1),
                    processing_time: time == TimeMode::Processing,
                    max_held_bytes,
                    max_idle: std::time::Duration::from_millis(max_idle.unwrap_or(lateness)),
                },
                threads: threads
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
                    .max(1),
                batch_bytes,
            };
            if STOP_ON_SIGNAL.load(std::sync::atomic::Ordering::Relaxed) {
                signals::install();
            }
            scan::run(opts, stdin, out, err)
        }
        Command::Test {
            paths,
            format,
            baseline: Some(file),
            ..
        } => baseline::run(&paths, &file, format, out, err),
        Command::Test {
            paths,
            format,
            bless,
            allow_missing_samples,
            coverage,
            baseline: None,
        } => test::run(
            &paths,
            format,
            bless,
            allow_missing_samples,
            coverage,
            out,
            err,
        ),
        Command::Fmt { paths, check, diff } => {
            let mode = match (check, diff) {
                (true, _) => fmt::Mode::Check,
                (_, true) => fmt::Mode::Diff,
                _ => fmt::Mode::Write,
            };
            fmt::run(&paths, mode, stdin, out, err)
        }
        Command::Explain { rule, rules } => explain::run(rules, rule, out, err),
        Command::Serve { config } => serve(&config, err),
        Command::Lsp => crate::lsp::run().map(|()| 0).map_err(Into::into),
        Command::Import {
            language,
            files,
            out: dir,
            report,
        } => {
            let language = match language {
                ImportLanguage::Sigma => crate::import::Language::Sigma,
                ImportLanguage::Falco => crate::import::Language::Falco,
            };
            crate::import::run(
                language,
                &files,
                &dir,
                report == ReportFormat::Json,
                out,
                err,
            )
        }
        Command::Schema { source, prefix } => {
            schema::run(source.as_deref(), prefix.as_deref(), out, err)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "ward: {e}");
            EXIT_USAGE
        }
    }
}

/// `ward serve`: the config, then the rules, checked before anything
/// listens; an error in either is a startup error (exit 2).
fn serve(config: &std::path::Path, err: &mut dyn Write) -> Result<u8, Box<dyn std::error::Error>> {
    use crate::serve::log::{self, log};
    let cfg = crate::serve::config::load(config)?;
    log::set_format(cfg.log.format);
    let text = log::format() == log::Format::Text;
    let loaded = match load_rules(&cfg.rules, true) {
        Ok(loaded) => loaded,
        Err(e) if !text => {
            log!(Error, "serve.failed", "cannot load the rules: {e}");
            return Ok(EXIT_USAGE);
        }
        Err(e) => return Err(e.into()),
    };
    // In JSON the diagnostics are one line's message.
    let mut diagnostics = Vec::new();
    let checked = runnable(&loaded, if text { err } else { &mut diagnostics })?;
    let Some(rules) = checked else {
        let msg = String::from_utf8_lossy(&diagnostics);
        log!(Error, "serve.failed", "{}", msg.trim_end());
        return Ok(EXIT_USAGE);
    };
    let inactive: Vec<(String, Vec<String>)> = (rules.rules.iter())
        .filter(|r| r.enabled && !r.unfilled.is_empty())
        .map(|r| (r.id.clone(), r.unfilled.clone()))
        .collect();
    if let Some(line) = inactive_line(&inactive) {
        let ids: Vec<&str> = inactive.iter().map(|(id, _)| id.as_str()).collect();
        match text {
            true => writeln!(err, "ward: {line}")?,
            false => log!(Warn, "rules.inactive", {rules: ids}, "{line}"),
        }
    }
    match crate::serve::run(cfg, rules) {
        Err(e) if !text => {
            log!(Error, "serve.failed", "{e}");
            Ok(EXIT_USAGE)
        }
        done => done,
    }
}

/// `--source`: one of the bundled sources.
fn parse_source(s: &str) -> Result<&'static str, String> {
    crate::decode::source_named(s).ok_or_else(|| {
        let names: Vec<&str> = ward_compiler::schema::bundled().names().collect();
        format!("unknown source `{s}`; the sources are {}", names.join(", "))
    })
}

/// `16MiB`, `1GiB`, `512KiB` (or K, M, G, the same powers of 1024), or bytes.
pub(crate) fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: usize = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size (16MiB, 1GiB, 4096)"))?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        u => return Err(format!("unknown size unit `{u}` (KiB, MiB, GiB)")),
    };
    n.checked_mul(1 << shift)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is out of range"))
}
