//! `ward_spark._ward`: Ward's rules over batches of lines, for the Spark
//! job in `python/ward_spark/` (spec/spark.md). A thin layer over
//! `ward_runtime::batch`: rules loaded and checked once per Python worker,
//! batches of lines in, alert lines out exactly as `ward scan` writes them.

use std::borrow::Cow;
use std::path::PathBuf;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use ward_runtime::batch::{self, Hunt, Options};

create_exception!(
    _ward,
    WardError,
    PyException,
    "Rules that cannot be loaded or do not check; the message holds the rendered diagnostics."
);

/// A checked rule set (`Rules(paths, ...)`), as `ward scan --rules PATH...`
/// loads it: files, directories, and `bundled` for the embedded library.
#[pyclass(unsendable, module = "ward_spark._ward")]
struct Rules {
    hunt: Hunt,
    lateness_ns: i64,
}

/// The bytes of a line given as `str` or `bytes`.
fn line_bytes<'a>(v: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(b.as_bytes()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(match s.to_cow()? {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        });
    }
    Err(pyo3::exceptions::PyTypeError::new_err(
        "a line is str or bytes",
    ))
}

/// Alert lines (each with its newline) as a list of `bytes`, one a line,
/// without their newlines.
fn lines_of<'py>(py: Python<'py>, text: &[u8]) -> Vec<Bound<'py, PyBytes>> {
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| PyBytes::new(py, l))
        .collect()
}

#[pymethods]
impl Rules {
    /// `paths`: rule files and directories, `bundled` for the library (none:
    /// the library). `with_event`: alerts carry the event (as `ward scan`;
    /// `--no-event` is `False`). `source`: take every event as of this
    /// source (`--source`). `lateness_ns`, `max_keys`: `--lateness`,
    /// `--max-keys` of the single scan the job stands for.
    #[new]
    #[pyo3(signature = (paths, with_event=true, source=None, lateness_ns=None, max_keys=None))]
    fn new(
        paths: Vec<String>,
        with_event: bool,
        source: Option<String>,
        lateness_ns: Option<i64>,
        max_keys: Option<usize>,
    ) -> PyResult<Rules> {
        let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
        let loaded = batch::load(&paths).map_err(WardError::new_err)?;
        let source = match source {
            None => None,
            Some(name) => Some(ward_runtime::decode::source_named(&name).ok_or_else(|| {
                WardError::new_err(format!("no source named {name}; `ward schema` lists them"))
            })?),
        };
        let mut opts = Options {
            with_event,
            source,
            ..Options::default()
        };
        if let Some(l) = lateness_ns {
            opts.lateness_ns = l;
        }
        if let Some(k) = max_keys {
            opts.max_keys = k;
        }
        Ok(Rules {
            hunt: Hunt::new(loaded, opts),
            lateness_ns: opts.lateness_ns,
        })
    }

    /// Rule ids, by index.
    #[getter]
    fn rule_ids(&self) -> Vec<String> {
        self.hunt.ids.clone()
    }

    /// Indices of the active stateful rules.
    #[getter]
    fn stateful(&self) -> Vec<usize> {
        self.hunt.stateful.clone()
    }

    /// Rules kept inactive by `fill list`s no file filled: (id, lists).
    #[getter]
    fn inactive(&self) -> Vec<(String, Vec<String>)> {
        self.hunt.inactive.clone()
    }

    /// Runs consecutive `lines` (str or bytes) of file `file`, the first of
    /// them line `first_line`. Returns a dict: `alerts` (the stateless
    /// rules' alert lines, bytes), `keyed` (per event and stateful rule:
    /// `(rule, key, time_ns or None, line, payload)`), `max_time`,
    /// `max_keyed` (ns or None), and the counts `events`, `unknown`,
    /// `malformed`, `too_long`.
    fn batch<'py>(
        &mut self,
        py: Python<'py>,
        file: &str,
        first_line: usize,
        lines: Vec<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let texts = lines.iter().map(line_bytes).collect::<PyResult<Vec<_>>>()?;
        let out = (self.hunt).batch(file, first_line.max(1), texts.iter().map(|t| &t[..]));
        let d = pyo3::types::PyDict::new(py);
        d.set_item("alerts", lines_of(py, &out.alerts))?;
        let keyed: Vec<_> = (out.keyed.into_iter())
            .map(|k| (k.rule, k.key, k.time, k.line, PyBytes::new(py, &k.payload)))
            .collect();
        d.set_item("keyed", keyed)?;
        d.set_item("max_time", out.max_time)?;
        d.set_item("max_keyed", out.max_keyed)?;
        d.set_item("events", out.events)?;
        d.set_item("unknown", out.unknown)?;
        d.set_item("malformed", out.malformed)?;
        d.set_item("too_long", out.too_long)?;
        Ok(d)
    }

    /// The event time where a single scan of the whole input ends, from
    /// the greatest `max_time` and `max_keyed` of all batches.
    fn end_time(&self, max_time: Option<i64>, max_keyed: Option<i64>) -> Option<i64> {
        batch::end_time(max_time, max_keyed, self.lateness_ns)
    }

    /// A scan of stateful rule `rule` alone over its records, fed in the
    /// order of (time, file order, line); `end`: [`Rules::end_time`].
    #[pyo3(signature = (rule, end=None))]
    fn rule_scan(slf: Bound<'_, Self>, rule: usize, end: Option<i64>) -> PyResult<RuleScan> {
        let mut this = slf.borrow_mut();
        if !this.hunt.stateful.contains(&rule) {
            return Err(WardError::new_err(format!(
                "rule {rule} is not an active stateful rule"
            )));
        }
        let scan = this.hunt.rule_scan(rule, end);
        drop(this);
        Ok(RuleScan {
            scan: Some(scan),
            rules: slf.unbind(),
        })
    }
}

/// One stateful rule over records in time order (`Rules.rule_scan`).
#[pyclass(unsendable, module = "ward_spark._ward")]
struct RuleScan {
    scan: Option<batch::RuleScan>,
    /// Where the scan goes back once finished, to run its rule again.
    rules: Py<Rules>,
}

#[pymethods]
impl RuleScan {
    /// Runs records `(file, line, payload)`; returns the alert lines they
    /// completed (bytes).
    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        records: Vec<(String, usize, Vec<u8>)>,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let scan =
            (self.scan.as_mut()).ok_or_else(|| WardError::new_err("the scan is finished"))?;
        let it = (records.iter()).map(|(f, l, p)| (f.as_str(), *l, p.as_slice()));
        Ok(lines_of(py, &scan.feed(it)))
    }

    /// Ends the scan as at the end of input; returns the last alert lines.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let mut scan =
            (self.scan.take()).ok_or_else(|| WardError::new_err("the scan is finished"))?;
        let alerts = scan.finish();
        self.rules.borrow_mut(py).hunt.recycle(scan);
        Ok(lines_of(py, &alerts))
    }
}

/// Synthetic events for tests and benchmarks, one JSON document a string:
/// `kind` is `k8s` (audit events), `cloudtrail` (records) or `benign`
/// (ordinary control-plane traffic).
#[pyfunction]
fn corpus(kind: &str, n: usize, seed: u64) -> PyResult<Vec<String>> {
    use ward_runtime::corpus;
    Ok(match kind {
        "k8s" => corpus::k8s_events(n, seed),
        "cloudtrail" => corpus::cloudtrail_records(n, seed),
        "benign" => corpus::benign_k8s(seed).take(n).collect(),
        _ => {
            return Err(WardError::new_err(format!(
                "no corpus {kind}: k8s, cloudtrail or benign"
            )))
        }
    })
}

#[pymodule]
fn _ward(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Rules>()?;
    m.add_class::<RuleScan>()?;
    m.add_function(wrap_pyfunction!(corpus, m)?)?;
    m.add("WardError", m.py().get_type::<WardError>())?;
    Ok(())
}
