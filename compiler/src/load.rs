//! Loading: read rule files and directories, follow imports, parse each file once.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Code, Diagnostic, FileId, SourceMap};
use crate::syntax::ast::{File, Item};
use crate::syntax::parse::{parse, parse_all};

/// Every file of a rule set, parsed.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: SourceMap,
    /// The identity of each loaded file (canonical path on disk), so one
    /// file reached by two spellings (`./a.ward`, `a.ward`) loads once.
    keys: Vec<PathBuf>,
    pub files: Vec<(FileId, File)>,
    pub diags: Vec<Diagnostic>,
}

/// A path given on the command line could not be read.
#[derive(Debug)]
pub struct LoadError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

impl std::error::Error for LoadError {}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.error)
    }
}

/// Loads files and directories (every `*.ward` below them, in name order).
/// Imports are followed; each file is read and parsed once, so import cycles
/// are harmless.
pub fn load_paths(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    load_layers(&[], paths)
}

/// Loads rules from memory (`(name, text)` pairs, say the bundled library),
/// then the files and directories `paths`, as one rule set: the later
/// layers extend lists of the earlier (`extend list`). Imports name other
/// pairs or files on disk.
pub fn load_layers(texts: &[(&str, &str)], paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    load_with(texts, paths, None)
}

/// Parsed files by path and text, reused across loads: the language server
/// checks the whole workspace after each change, and only the edited file
/// needs parsing again.
#[derive(Debug, Default)]
pub struct ParseCache {
    files: std::collections::HashMap<PathBuf, (String, File, Vec<Diagnostic>)>,
}

/// [`load_layers`] reusing (and filling) `cache` for the in-memory texts.
pub fn load_layers_cached(
    texts: &[(&str, &str)],
    paths: &[PathBuf],
    cache: &mut ParseCache,
) -> Result<Loaded, LoadError> {
    load_with(texts, paths, Some(cache))
}

fn load_with(
    texts: &[(&str, &str)],
    paths: &[PathBuf],
    cache: Option<&mut ParseCache>,
) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    let mut todo = Vec::new();
    for (name, text) in texts {
        let path = normalize(Path::new(name));
        match cache.as_ref().and_then(|c| c.files.get(&path)) {
            Some((t, file, diags)) if t == text => {
                let id = loaded.sources.add(path.clone(), text.to_string());
                loaded.keys.push(path);
                // Parse diagnostics name their own file only.
                let diags = diags.iter().cloned().map(|mut d| {
                    d.labels.iter_mut().for_each(|l| l.file = id);
                    d
                });
                todo.push(Todo::Parsed(id, file.clone(), diags.collect()));
            }
            _ => todo.push(add_file(
                &mut loaded,
                path.clone(),
                path,
                text.as_bytes().to_vec(),
                true,
            )),
        }
    }
    for path in ward_files(paths)? {
        let key = identity(&path);
        if loaded.keys.contains(&key) {
            continue;
        }
        let text = std::fs::read(&path).map_err(|error| LoadError {
            path: path.clone(),
            error,
        })?;
        todo.push(add_file(&mut loaded, path, key, text, false));
    }
    parse_files(&mut loaded, todo, cache);
    resolve_imports(&mut loaded, |p| std::fs::read(p).ok());
    Ok(loaded)
}

/// Loads rules from memory, as `(name, text)` pairs; imports name other pairs.
pub fn load_texts(texts: &[(&str, &str)]) -> Loaded {
    let mut loaded = Loaded::default();
    let todo = texts
        .iter()
        .map(|(name, text)| {
            let path = normalize(Path::new(name));
            add_file(
                &mut loaded,
                path.clone(),
                path,
                text.as_bytes().to_vec(),
                false,
            )
        })
        .collect();
    parse_files(&mut loaded, todo, None);
    // Every text is loaded up front, so an import of anything else fails.
    resolve_imports(&mut loaded, |_| None);
    loaded
}

/// The files `load_paths` would start from: each file given, and every
/// `*.ward` file below each directory given, in name order.
pub fn ward_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files)?;
    }
    Ok(files)
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let meta = std::fs::metadata(path).map_err(|error| LoadError {
        path: path.to_path_buf(),
        error,
    })?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let rd = std::fs::read_dir(path).map_err(|error| LoadError {
        path: path.to_path_buf(),
        error,
    })?;
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            collect(&e, out)?;
        } else if e.extension().is_some_and(|x| x == "ward") {
            out.push(e);
        }
    }
    Ok(())
}

/// A file's identity: its canonical path, or its normalized spelling when it
/// cannot be resolved (in-memory texts, vanished files).
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| normalize(path))
}

/// A file of `Loaded::sources` on its way to `Loaded::files`.
enum Todo {
    /// To parse; the diagnostics found on reading it (bad UTF-8); whether
    /// its tree goes to the cache (texts held in memory: the language
    /// server's open files).
    Read(FileId, Vec<Diagnostic>, bool),
    /// Parsed already (a cached tree), with its parse diagnostics.
    Parsed(FileId, File, Vec<Diagnostic>),
}

/// Registers a file read from `path`; it is parsed by [`parse_files`],
/// and its tree cached if `keep`.
fn add_file(loaded: &mut Loaded, path: PathBuf, key: PathBuf, bytes: Vec<u8>, keep: bool) -> Todo {
    loaded.keys.push(key);
    let (text, bad_utf8) = match String::from_utf8(bytes) {
        Ok(t) => (t, None),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            (String::from_utf8_lossy(e.as_bytes()).into_owned(), Some(at))
        }
    };
    let id = loaded.sources.add(path, text);
    let diags = bad_utf8
        .map(|at| {
            Diagnostic::new(
                Code::Io,
                id,
                crate::syntax::ast::Span::new(at, at + char::REPLACEMENT_CHARACTER.len_utf8()),
                "file is not valid UTF-8",
            )
            .label("invalid byte here")
            .help("save the rule file as UTF-8")
        })
        .into_iter()
        .collect();
    Todo::Read(id, diags, keep)
}

/// Parses the files of `todo` (side by side: [`parse_all`]) and adds them
/// to `loaded` in order, each with its diagnostics; fills `cache` with the
/// trees parsed.
fn parse_files(loaded: &mut Loaded, todo: Vec<Todo>, mut cache: Option<&mut ParseCache>) {
    let texts: Vec<(FileId, &str)> = todo
        .iter()
        .filter_map(|t| match t {
            Todo::Read(id, ..) => Some((*id, loaded.sources.get(*id).text())),
            Todo::Parsed(..) => None,
        })
        .collect();
    let mut parsed = parse_all(&texts).into_iter();
    for t in todo {
        let (id, file, diags) = match t {
            Todo::Parsed(id, file, diags) => (id, file, diags),
            Todo::Read(id, mut diags, keep) => {
                // `parse_all` gives one tree per text, in order.
                let (file, parse_diags) = parsed
                    .next()
                    .unwrap_or_else(|| parse(id, loaded.sources.get(id).text()));
                if let Some(c) = cache.as_deref_mut().filter(|_| keep) {
                    let src = loaded.sources.get(id);
                    c.files.insert(
                        src.path.clone(),
                        (src.text().to_string(), file.clone(), parse_diags.clone()),
                    );
                }
                diags.extend(parse_diags);
                (id, file, diags)
            }
        };
        loaded.diags.extend(diags);
        loaded.files.push((id, file));
    }
}

/// Follows imports breadth-first; `read` returns a file's bytes, or `None`
/// when it cannot be read. Files already loaded are not read again.
fn resolve_imports(loaded: &mut Loaded, read: impl Fn(&Path) -> Option<Vec<u8>>) {
    let mut i = 0;
    while i < loaded.files.len() {
        let (id, _) = loaded.files[i];
        let imports: Vec<_> = loaded.files[i]
            .1
            .items
            .iter()
            .filter_map(|it| match it {
                Item::Import(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        let dir = loaded
            .sources
            .get(id)
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        for imp in imports {
            let target = normalize(&dir.join(&imp.value));
            let key = identity(&target);
            if loaded.keys.contains(&key) {
                continue;
            }
            match read(&target) {
                Some(bytes) => {
                    let todo = add_file(loaded, target, key, bytes, false);
                    parse_files(loaded, vec![todo], None);
                }
                None => loaded.diags.push(
                    Diagnostic::new(
                        Code::Io,
                        id,
                        imp.span,
                        format!("cannot import `{}`", imp.value),
                    )
                    .label(format!("no readable file at {}", target.display()))
                    .help("import paths are relative to the importing file"),
                ),
            }
        }
        i += 1;
    }
}

/// `a/./b/../c` to `a/c`, lexically, so one file has one name.
pub fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}
