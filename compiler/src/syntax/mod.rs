//! Syntax: the grammar, the tree and the parser.

pub mod ast;
pub mod parse;
mod recover;
pub mod template;

pub use parse::parse;

#[cfg(test)]
mod tests;
