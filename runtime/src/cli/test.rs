//! `ward test`: run every rule's samples against its golden file.

use std::io::Write;
use std::path::PathBuf;

use super::{EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE};
use crate::harness::{self, Require, RuleReport, Status};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum TestFormat {
    /// One line per rule, failures and golden diffs below it
    Human,
    /// One JSON document with every rule's result
    Json,
    /// JUnit XML, one test case per rule
    Junit,
}

pub(super) fn run(
    paths: &[PathBuf],
    format: TestFormat,
    bless: bool,
    allow_missing: bool,
    coverage: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Box<dyn std::error::Error>> {
    let loaded = super::load_rules(paths, false)?;
    let Some(rules) = super::runnable(&loaded, err)? else {
        return Ok(EXIT_USAGE);
    };
    let require = Require {
        alert: !allow_missing,
        quiet: !allow_missing,
    };
    let mut results = harness::run(&loaded.sources, rules, require, bless);
    if coverage {
        // Every leaf test must have been seen true and false by some sample.
        for r in results.iter_mut().filter(|r| r.status != Status::Skip) {
            for leaf in &r.coverage {
                let never = match (leaf.made_true, leaf.made_false) {
                    (true, true) => continue,
                    (false, false) => "never evaluated",
                    (false, true) => "never true",
                    (true, false) => "never false",
                };
                r.failures.push(format!("coverage: {never}: {}", leaf.test));
                r.status = Status::Fail;
            }
        }
    }
    match format {
        TestFormat::Human => human(&results, bless, coverage, out)?,
        TestFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &results)?;
            writeln!(out)?;
        }
        TestFormat::Junit => junit(&results, out)?,
    }
    let failed = results.iter().any(|r| r.status == Status::Fail);
    Ok(if failed { EXIT_FINDINGS } else { EXIT_CLEAN })
}

fn human(
    results: &[RuleReport],
    bless: bool,
    show_coverage: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    for r in results {
        let tag = match r.status {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        };
        let counts = format!(
            "{} alert, {} quiet event(s)",
            r.alert_events, r.quiet_events
        );
        let both = r
            .coverage
            .iter()
            .filter(|l| l.made_true && l.made_false)
            .count();
        let cov = format!(", {both}/{} tests seen true and false", r.coverage.len());
        match r.status {
            Status::Skip => writeln!(out, "{tag} {}: {}", r.rule, r.failures.join("; "))?,
            _ => writeln!(
                out,
                "{tag} {} ({counts}{})",
                r.rule,
                if show_coverage { cov.as_str() } else { "" }
            )?,
        }
        if r.status == Status::Fail {
            for f in &r.failures {
                writeln!(out, "    {f}")?;
            }
            for d in &r.diff {
                writeln!(out, "    {d}")?;
            }
        }
    }
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    writeln!(
        out,
        "{} rule(s): {} passed, {} failed, {} skipped{}",
        results.len(),
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Skip),
        if bless { " (golden files written)" } else { "" }
    )
}

fn junit(results: &[RuleReport], out: &mut dyn Write) -> std::io::Result<()> {
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="ward test" tests="{}" failures="{}" skipped="{}">"#,
        results.len(),
        count(Status::Fail),
        count(Status::Skip)
    )?;
    writeln!(
        out,
        r#"  <testsuite name="rules" tests="{}" failures="{}" skipped="{}">"#,
        results.len(),
        count(Status::Fail),
        count(Status::Skip)
    )?;
    for r in results {
        write!(
            out,
            r#"    <testcase name="{}" classname="{}""#,
            xml(&r.rule),
            xml(&r.file)
        )?;
        match r.status {
            Status::Pass => writeln!(out, "/>")?,
            Status::Skip => writeln!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                xml(&r.failures.join("; "))
            )?,
            Status::Fail => {
                let first = r.failures.first().map(String::as_str).unwrap_or("failed");
                let body: Vec<String> = r.failures.iter().chain(&r.diff).cloned().collect();
                writeln!(
                    out,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    xml(first),
                    xml(&body.join("\n"))
                )?;
            }
        }
    }
    writeln!(out, "  </testsuite>\n</testsuites>")
}

fn xml(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {
                format!("&#{};", c as u32)
            }
            c => c.to_string(),
        })
        .collect()
}
