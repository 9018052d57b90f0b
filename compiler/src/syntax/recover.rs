//! Error recovery and reporting for the parser: syntax errors as
//! diagnostics with a readable "expected", chunked re-parsing so every
//! error of a file is reported, and the nesting bound that keeps hostile
//! input off the stack.

use super::ast::Span;
use super::parse::Rule;
use crate::diagnostic::{Code, Diagnostic, FileId};

/// Deepest `(`/`[` nesting accepted. The parser and checker recurse per
/// level; this bounds their stack use on hostile input.
pub const MAX_NESTING: usize = 64;

/// Most `any`/`all` quantifiers one inside another. Each multiplies the
/// work of its body by its list's length, and the checker and matcher
/// recurse per quantifier (a chain of thousands overflowed the stack).
pub const MAX_QUANTIFIERS: usize = 16;

/// Stack a parse of text that [`too_deep`] accepts may need, twice what
/// the deepest such text (64 brackets around 16 quantifiers) was measured
/// to take: pest takes about 10 KiB of stack per bracket level in a release
/// build and 60 KiB in a debug one, so 0.7 MiB and 4 MiB.
/// `a_parse_needs_no_more_stack_than_it_is_given` runs the deepest texts on
/// this much stack.
pub(super) const PARSE_STACK: usize = if cfg!(debug_assertions) {
    8 << 20
} else {
    3 << 19
};

/// Runs `f`, a parse (pest and what walks its tree) of text that
/// [`too_deep`] accepted, with at least [`PARSE_STACK`] of stack: on this
/// thread's stack when that much is left (a main thread, or a spawned
/// one's 2 MiB near its start in a release build), else on a new one.
pub(super) fn with_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(PARSE_STACK, 2 * PARSE_STACK, f)
}

/// Finds the first bracket nested deeper than [`MAX_NESTING`], or the
/// first quantifier nested deeper than [`MAX_QUANTIFIERS`], skipping
/// strings and comments. pest recurses per level of both (and is built
/// without its own stack probe, which cost a fifth of parsing), so every
/// text is measured here before pest reads it.
///
/// Quantifiers are found by their words, without parsing: a quantifier's
/// body is one `not`-level term, so an `any`/`all` is inside the one
/// before it at the same bracket level only when it starts that one's
/// body (after `:` and any `not`s); anywhere else it starts a new chain.
/// An `and`/`or` ends the chains of its level. A chain is counted until
/// then, or until its bracket closes: that can only overstate the depth.
pub(super) fn too_deep(file: FileId, text: &str) -> Option<Diagnostic> {
    // Bytes, not chars: every byte looked at is ASCII, and no byte of a
    // multi-byte UTF-8 character is.
    let b = text.as_bytes();
    let mut brackets = 0usize;
    // Per open bracket (and the top level): its quantifier chain and where
    // the scan stands in its last quantifier.
    let mut levels = vec![Level::default()];
    let mut quantifiers = 0usize;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let level = levels.last_mut().expect("the top level is never popped");
        match c {
            b'#' => {
                i += b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .unwrap_or(b.len() - i);
            }
            b'"' => {
                level.other();
                let raw = i > 0 && b[i - 1] == b'r';
                i += 1;
                while i < b.len() {
                    match b[i] {
                        b'\\' if !raw => i += 1,
                        b'"' | b'\n' => break,
                        _ => {}
                    }
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                level.other();
                levels.push(Level::default());
                if c != b'{' {
                    brackets += 1;
                    if brackets > MAX_NESTING {
                        return Some(
                            Diagnostic::new(Code::Syntax, file, Span::new(i, i + 1), "nested too deeply")
                                .label(format!("more than {MAX_NESTING} levels of brackets"))
                                .help("flatten the condition: `and`/`or` chains need no parentheses, and macros can name parts"),
                        );
                    }
                }
            }
            b')' | b']' | b'}' => {
                if levels.len() > 1 {
                    if let Some(closed) = levels.pop() {
                        quantifiers -= closed.chain;
                    }
                }
                if c != b'}' {
                    brackets = brackets.saturating_sub(1);
                }
            }
            b':' if level.at == At::Head => level.at = At::BodyStart,
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => {
                let start = i;
                while i + 1 < b.len() && (b[i + 1].is_ascii_alphanumeric() || b[i + 1] == b'_') {
                    i += 1;
                }
                let segment = start > 0 && b[start - 1] == b'.';
                match &b[start..=i] {
                    _ if segment => level.other(),
                    b"any" | b"all" => {
                        if level.at == At::BodyStart {
                            level.chain += 1;
                            quantifiers += 1;
                        } else {
                            quantifiers = quantifiers - level.chain + 1;
                            level.chain = 1;
                        }
                        level.at = At::Head;
                        if quantifiers > MAX_QUANTIFIERS {
                            return Some(quantifiers_too_deep(file, Span::new(start, i + 1)));
                        }
                    }
                    b"not" => {}
                    b"and" | b"or" => {
                        quantifiers -= level.chain;
                        level.chain = 0;
                        level.at = At::Other;
                    }
                    _ => level.other(),
                }
            }
            c if c.is_ascii_whitespace() => {}
            _ => level.other(),
        }
        i += 1;
    }
    None
}

/// One bracket level of [`too_deep`]'s scan.
#[derive(Default)]
struct Level {
    /// Quantifiers of the chain open at this level, each in the body of
    /// the one before.
    chain: usize,
    at: At,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum At {
    /// In a quantifier's head (`any x in LIST`), before its `:`.
    Head,
    /// After a quantifier's `:` and perhaps `not`s: a quantifier here is
    /// in its body.
    BodyStart,
    #[default]
    Other,
}

impl Level {
    /// A token that is no quantifier, `not`, `and` or `or`: a body that
    /// starts with it holds no further quantifier at this level.
    fn other(&mut self) {
        if self.at == At::BodyStart {
            self.at = At::Other;
        }
    }
}

/// The error of a quantifier inside more than [`MAX_QUANTIFIERS`] others,
/// at `span`.
pub(super) fn quantifiers_too_deep(file: FileId, span: Span) -> Diagnostic {
    Diagnostic::new(Code::Syntax, file, span, "quantifiers nested too deeply")
        .label(format!("more than {MAX_QUANTIFIERS} `any`/`all` around this"))
        .help("each quantifier runs its body once per element: test the elements of one list per quantifier, joining them with `and`")
}

/// Byte ranges of the file that start at a top-level keyword in column 0.
pub(super) fn chunks(text: &str) -> Vec<(usize, usize)> {
    const TOP: [&str; 9] = [
        "rule", "list", "macro", "source", "import", "fill", "extend", "tune", "override",
    ];
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let word_end = line
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(line.len());
        if offset > 0 && TOP.contains(&&line[..word_end]) {
            starts.push(offset);
        }
        offset += line.len();
    }
    let mut out = Vec::new();
    for (i, &s) in starts.iter().enumerate() {
        out.push((s, starts.get(i + 1).copied().unwrap_or(text.len())));
    }
    out
}

pub(super) fn syntax_error(
    file: FileId,
    text: &str,
    base: usize,
    e: pest::error::Error<Rule>,
) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let (start, end) = match e.location {
        InputLocation::Pos(p) => (p, p),
        InputLocation::Span((s, e)) => (s, e),
    };
    // Point at the offending token, not an empty gap.
    let found = token_at(text, start);
    let end = if end > start {
        end
    } else {
        start + found.len()
    };
    if found == "(" {
        if let Some(d) = key_call(file, text, base, start) {
            return d;
        }
    }
    let expected = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => describe_expected(positives),
        ErrorVariant::CustomError { message } => message.clone(),
    };
    let found_text = if found.is_empty() {
        "end of file".to_string()
    } else {
        format!("`{found}`")
    };
    Diagnostic::new(
        Code::Syntax,
        file,
        Span::new(base + start, base + end),
        format!("unexpected {found_text}"),
    )
    .label(format!("expected {expected}"))
    .help(syntax_help(&expected, found))
}

/// A call where a `by` key or the field of `count distinct` goes
/// (`count by in_ns(user.username)`, `distinct lower(x)`): the grammar
/// takes only field paths there. `open` is the offset of the `(`.
fn key_call(file: FileId, text: &str, base: usize, open: usize) -> Option<Diagnostic> {
    let before = text.get(..open)?;
    let name_len = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .count();
    let name = &before[open - name_len..];
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    // Back over the keys before it in a `by` list: `by a.b, c, NAME(`.
    let mut rest = before[..open - name_len].trim_end();
    while let Some(r) = rest.strip_suffix(',') {
        let r = r.trim_end();
        let key = r
            .chars()
            .rev()
            .take_while(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '"' | '*')
            })
            .map(char::len_utf8)
            .sum::<usize>();
        if key == 0 {
            return None;
        }
        rest = r[..r.len() - key].trim_end();
    }
    let word_end = |w: &str| {
        rest.strip_suffix(w)
            .is_some_and(|r| !r.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
    };
    let what = if word_end("by") {
        "a `by` key is a field"
    } else if word_end("distinct") {
        "`count distinct` counts a field"
    } else {
        return None;
    };
    let close = text[open..].find(')').map_or(open + 1, |n| open + n + 1);
    let span = Span::new(base + open - name_len, base + close);
    let help = if crate::func::Func::by_name(name).is_some() {
        format!(
            "keys are field paths, and `{name}(...)` is a derived value: key on the field itself"
        )
    } else {
        format!(
            "if `{name}` is a macro, it is a condition, never a value: test it in `when` and key on the field it tests (such as `by objectRef.namespace`)"
        )
    };
    Some(
        Diagnostic::new(Code::BadKey, file, span, format!("{what}, not a call"))
            .label(format!("`{name}(...)` is a call"))
            .help(help),
    )
}

fn token_at(text: &str, pos: usize) -> &str {
    let rest = text.get(pos..).unwrap_or("");
    let first = rest.chars().next();
    let len = match first {
        None => 0,
        Some(c) if c.is_alphanumeric() || c == '_' => rest
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .unwrap_or(rest.len()),
        Some(c) => c.len_utf8(),
    };
    &rest[..len]
}

fn describe_expected(rules: &[Rule]) -> String {
    let mut names: Vec<&str> = rules.iter().map(|r| rule_name(*r)).collect();
    names.sort_unstable();
    names.dedup();
    // pest lists every rule that could have continued; keep the ones that
    // name something a person would type.
    if names.len() > 1 {
        names.retain(|n| *n != "more input" && *n != "`when`");
    }
    match names.as_slice() {
        [] => "something else".into(),
        [one] => (*one).into(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn rule_name(r: Rule) -> &'static str {
    match r {
        Rule::source_decl
        | Rule::import_decl
        | Rule::list_decl
        | Rule::macro_decl
        | Rule::extend_decl
        | Rule::tune_decl
        | Rule::rule_decl => "`rule`, `list`, `macro`, `source` or `import`",
        Rule::EOI => "end of file",
        Rule::ident | Rule::ident_seg => "a name",
        Rule::rule_name => "a rule name",
        Rule::source_name => "a source name such as `k8s.audit`",
        Rule::string | Rule::cooked_string | Rule::raw_string | Rule::quoted_seg => "a string",
        Rule::list_lit => "a list `[...]`",
        Rule::expr | Rule::and_expr | Rule::not_expr | Rule::predicate | Rule::quantifier => {
            "a condition"
        }
        Rule::operand | Rule::path | Rule::paren => "a field or value",
        Rule::number | Rule::int_index => "a number",
        Rule::duration => "a duration such as `5m`",
        Rule::cmp_op => "a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`)",
        Rule::str_op => "a string test",
        Rule::and_op | Rule::or_op => "`and` or `or`",
        Rule::meta_item | Rule::meta_key => "a rule entry (`when`, `title`, `severity`, ...)",
        Rule::when_clause => "`when`",
        Rule::meta_value | Rule::meta_word => "a value",
        Rule::tag | Rule::tag_word | Rule::tag_list => "a tag",
        Rule::kw_in => "`in`",
        Rule::seq_step | Rule::seq_until => "a sequence step `name: condition`",
        Rule::group_by => "`by`",
        _ => "more input",
    }
}

fn syntax_help(expected: &str, found: &str) -> String {
    match found {
        "=" => "compare with `==`; a single `=` only appears in `list` and `macro` definitions".into(),
        "&&" | "&" => "write `and`".into(),
        "||" | "|" => "write `or`".into(),
        "!" => "write `not`, or `!=` for inequality".into(),
        "'" => "strings use double quotes: \"...\"".into(),
        _ if expected.contains("`rule`") => {
            "a file holds `source`, `import`, `list`, `macro` and `rule` items; see spec/language.md".into()
        }
        _ => format!("Ward expected {expected} here; see spec/language.md for the grammar"),
    }
}
