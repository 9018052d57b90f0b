//! Ward's runtime and command line. The `ward` binary is a thin wrapper
//! around [`cli::run`], so tests drive the CLI in-process.

pub mod cli;
