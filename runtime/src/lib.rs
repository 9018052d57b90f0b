//! Ward's runtime and command line: `decode` events, `eval` rules on them,
//! `scan` streams, build each `alert`. The `ward` binary is a thin wrapper
//! around [`cli::run`], so tests drive the CLI in-process.

pub mod alert;
pub mod batch;
pub mod bundled;
pub mod cli;
pub mod corpus;
pub mod decode;
pub mod describe;
pub mod drift;
pub mod eval;
pub mod extract;
pub mod func;
pub mod harness;
pub mod import;
pub mod lsp;
pub mod matcher;
pub mod parallel;
pub mod scan;
pub mod serve;
pub mod state;
