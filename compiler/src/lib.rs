//! The Ward compiler: load, parse, resolve and check detection rules.
//!
//! The pipeline shows in the modules: [`load`] reads files and imports,
//! [`syntax`] parses them, [`resolve`] builds one namespace, [`check`] types
//! every rule against its source's [`schema`].

// pest is built without its `std` feature (see the workspace manifest), and
// the parser it derives then names `alloc`.
extern crate alloc;

pub mod check;
pub mod diagnostic;
pub mod doc;
pub mod func;
pub mod hash;
pub mod json_text;
pub mod load;
pub mod lower;
pub mod pattern;
pub mod plan;
pub mod resolve;
pub mod schema;
pub mod syntax;
mod threads;
pub mod time;

pub use check::{check, check_with};
pub use diagnostic::{Code, Diagnostic, Severity, SourceMap};
