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

/// The values of an Arrow binary or string column: `offsets`, the column's
/// offsets buffer from its first value on (`len + 1` of them, 32-bit, or
/// 64-bit when `large`), little-endian; `data`, its data buffer from the
/// first value's start on (offsets are taken relative to the first).
fn arrow_values<'a>(offsets: &[u8], data: &'a [u8], large: bool) -> PyResult<Vec<&'a [u8]>> {
    let at: Vec<usize> = match large {
        false => (offsets.chunks_exact(4))
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as usize)
            .collect(),
        true => (offsets.chunks_exact(8))
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as usize)
            .collect(),
    };
    let base = at.first().copied().unwrap_or(0);
    (at.windows(2))
        .map(|w| {
            data.get(w[0].wrapping_sub(base)..w[1].wrapping_sub(base))
                .ok_or_else(|| {
                    pyo3::exceptions::PyValueError::new_err("Arrow offsets out of the data buffer")
                })
        })
        .collect()
}

/// Values as the buffers of an Arrow binary column: `(len, offsets, data)`,
/// 32-bit little-endian offsets.
fn arrow_binary<'py, 'v>(
    py: Python<'py>,
    values: impl IntoIterator<Item = &'v [u8]>,
) -> (usize, Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
    let (mut offsets, mut data) = (0i32.to_le_bytes().to_vec(), Vec::new());
    let mut n = 0;
    for v in values {
        data.extend_from_slice(v);
        offsets.extend_from_slice(&(data.len() as i32).to_le_bytes());
        n += 1;
    }
    (n, PyBytes::new(py, &offsets), PyBytes::new(py, &data))
}

/// Alert lines (each with its newline) as an Arrow binary column
/// ([`arrow_binary`]), one a line, without their newlines.
fn arrow_lines<'py>(
    py: Python<'py>,
    text: &[u8],
) -> (usize, Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
    arrow_binary(py, text.split(|&b| b == b'\n').filter(|l| !l.is_empty()))
}

/// Sort key of an event without a time: before any other.
const NO_TIME: i64 = i64::MIN;

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

    /// [`Rules::batch`] over an Arrow column of lines (string or binary):
    /// `offsets` and `data` as [`arrow_values`] takes them. Returns a dict:
    /// `alerts` (the alert lines as `(len, offsets, data)`, an Arrow binary
    /// column's buffers), `keyed` (`len`), the records' columns `rule`
    /// (int32), `time` (int64, ns; the least int64 when none) and `line`
    /// (int64) as little-endian buffers, `key` and `payload` as
    /// `(len, offsets, data)`; and `max_time`, `max_keyed` and the counts
    /// as [`Rules::batch`].
    #[pyo3(signature = (file, first_line, offsets, data, large=false))]
    fn batch_arrow<'py>(
        &mut self,
        py: Python<'py>,
        file: &str,
        first_line: usize,
        offsets: &[u8],
        data: &[u8],
        large: bool,
    ) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let lines = arrow_values(offsets, data, large)?;
        let out = (self.hunt).batch(file, first_line.max(1), lines);
        let d = pyo3::types::PyDict::new(py);
        d.set_item("alerts", arrow_lines(py, &out.alerts))?;
        let (mut rule, mut time, mut line) = (Vec::new(), Vec::new(), Vec::new());
        for k in &out.keyed {
            rule.extend_from_slice(&(k.rule as i32).to_le_bytes());
            time.extend_from_slice(&k.time.unwrap_or(NO_TIME).to_le_bytes());
            line.extend_from_slice(&(k.line as i64).to_le_bytes());
        }
        d.set_item("keyed", out.keyed.len())?;
        d.set_item("rule", PyBytes::new(py, &rule))?;
        d.set_item("time", PyBytes::new(py, &time))?;
        d.set_item("line", PyBytes::new(py, &line))?;
        d.set_item(
            "key",
            arrow_binary(py, out.keyed.iter().map(|k| k.key.as_bytes())),
        )?;
        d.set_item(
            "payload",
            arrow_binary(py, out.keyed.iter().map(|k| &k.payload[..])),
        )?;
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

    /// [`RuleScan::feed`] over Arrow columns: the records' files by index
    /// into `files`, `ford` (int32) and `line` (int64) as little-endian
    /// buffers, `payload` as [`arrow_values`] takes it (64-bit offsets when
    /// there are twice as many bytes of them). Returns the alert lines as
    /// `(len, offsets, data)` (an Arrow binary column's buffers).
    fn feed_arrow<'py>(
        &mut self,
        py: Python<'py>,
        files: Vec<String>,
        ford: &[u8],
        line: &[u8],
        offsets: &[u8],
        data: &[u8],
    ) -> PyResult<(usize, Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        let large = offsets.len() == 8 * (ford.len() / 4 + 1);
        let scan =
            (self.scan.as_mut()).ok_or_else(|| WardError::new_err("the scan is finished"))?;
        let payloads = arrow_values(offsets, data, large)?;
        let ford = ford
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()));
        let line = line
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()));
        let mut records = Vec::with_capacity(payloads.len());
        for ((f, l), p) in ford.zip(line).zip(payloads) {
            let file = (files.get(f as usize))
                .ok_or_else(|| WardError::new_err(format!("no file {f}")))?;
            records.push((file.as_str(), l as usize, p));
        }
        Ok(arrow_lines(py, &scan.feed(records)))
    }

    /// Ends the scan as at the end of input, its last alert lines as
    /// `(len, offsets, data)` (an Arrow binary column's buffers).
    fn finish_arrow<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<(usize, Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        let mut scan =
            (self.scan.take()).ok_or_else(|| WardError::new_err("the scan is finished"))?;
        let alerts = scan.finish();
        self.rules.borrow_mut(py).hunt.recycle(scan);
        Ok(arrow_lines(py, &alerts))
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
