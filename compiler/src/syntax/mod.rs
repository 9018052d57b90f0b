//! Syntax: the grammar, the tree and the parser.

pub mod ast;
pub mod format;
pub mod parse;
mod recover;
pub mod template;

pub use parse::parse;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod format_tests;
