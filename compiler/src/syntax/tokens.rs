//! Classified tokens of a file, for editors' semantic highlighting: what
//! each name is (a list, a macro, a rule, a field, a metadata key), which
//! words are keywords, and the literals and comments. Read from the pest
//! tree item by item, so a syntax error costs only the item it is in.

use pest::iterators::Pair;
use pest::Parser;

use super::ast::Span;
use super::parse::{Grammar, Rule};
use crate::diagnostic::FileId;

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Keyword,
    Operator,
    String,
    Number,
    Comment,
    /// A list's name, where declared, extended or used.
    List,
    /// A macro's name where declared.
    Macro,
    /// A rule's name.
    Rule,
    /// A field, or a bare name (a macro, a list or a variable in use).
    Field,
    /// A rule's metadata key.
    Property,
    /// A word value: a severity, a source name, a tag.
    Value,
    /// A function's name in a call (`lower` in `lower(x)`).
    Function,
}

/// The tokens of `text`, in order, none overlapping.
pub fn tokens(text: &str) -> Vec<(Span, Kind)> {
    let mut out: Vec<(Span, Kind)> = super::comments(text)
        .into_iter()
        .map(|r| (Span::new(r.start, r.end), Kind::Comment))
        .collect();
    for (start, end) in super::recover::chunks(text) {
        let Some(chunk) = text.get(start..end) else {
            continue;
        };
        // A chunk nested too deep for pest's recursion is left plain (the
        // parse reports it).
        if super::recover::too_deep(FileId(0), chunk).is_some() {
            continue;
        }
        super::recover::with_stack(|| {
            if let Ok(pairs) = Grammar::parse(Rule::file, chunk) {
                for p in pairs {
                    walk(p, start, None, &mut out);
                }
            }
        });
    }
    out.sort_by_key(|(s, _)| (s.start, s.end));
    out.dedup_by(|b, a| b.0.start < a.0.end);
    out
}

fn walk(p: Pair<'_, Rule>, base: usize, parent: Option<Rule>, out: &mut Vec<(Span, Kind)>) {
    let span = Span::new(base + p.as_span().start(), base + p.as_span().end());
    let kind = match p.as_rule() {
        r if super::parse::item_keyword(r) => Some(Kind::Keyword),
        Rule::kw_until
        | Rule::kw_in
        | Rule::kw_not
        | Rule::kw_is
        | Rule::kw_null
        | Rule::kw_exists
        | Rule::kw_cidr
        | Rule::fill_mark
        | Rule::override_mark
        | Rule::or_op
        | Rule::and_op
        | Rule::not_op
        | Rule::quant_kind
        | Rule::seq_not
        | Rule::str_op
        | Rule::bool_lit
        | Rule::null_lit => Some(Kind::Keyword),
        Rule::cmp_op => Some(Kind::Operator),
        Rule::string => Some(Kind::String),
        Rule::number | Rule::duration => Some(Kind::Number),
        Rule::rule_name => Some(Kind::Rule),
        Rule::call_name => Some(Kind::Function),
        Rule::meta_key => Some(Kind::Property),
        Rule::meta_word | Rule::tag_word | Rule::source_name => Some(Kind::Value),
        Rule::ident => Some(match parent {
            Some(Rule::list_decl | Rule::extend_decl) => Kind::List,
            Some(Rule::macro_decl) => Kind::Macro,
            _ => Kind::Field,
        }),
        Rule::ident_seg | Rule::quoted_seg => Some(Kind::Field),
        _ => None,
    };
    if let Some(k) = kind {
        out.push((span, k));
        return;
    }
    let rule = p.as_rule();
    for c in p.into_inner() {
        walk(c, base, Some(rule), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keywords_and_literals_are_classified() {
        let text = "source k8s.audit\n# note\nfill list bad = [\"x\"]\nmacro m = verb == \"get\"\n\
                    rule r {\n  severity high\n  when m and user.username in bad and len(user.groups) > 1\n}\n\
                    rule broken {\n  when verb within\n}\n";
        let got: Vec<(&str, Kind)> = tokens(text)
            .into_iter()
            .map(|(s, k)| (&text[s.start..s.end], k))
            .collect();
        for want in [
            ("source", Kind::Keyword),
            ("k8s.audit", Kind::Value),
            ("# note", Kind::Comment),
            ("fill", Kind::Keyword),
            ("bad", Kind::List),
            ("\"x\"", Kind::String),
            ("m", Kind::Macro),
            ("==", Kind::Operator),
            ("r", Kind::Rule),
            ("severity", Kind::Property),
            ("high", Kind::Value),
            ("user", Kind::Field),
            ("username", Kind::Field),
            ("len", Kind::Function),
            ("groups", Kind::Field),
        ] {
            assert!(got.contains(&want), "{want:?} in {got:?}");
        }
        // The last rule does not parse (`within` ends it): it has no tokens
        // but its comments, and the items before it keep theirs.
        assert!(!got.iter().any(|(t, _)| *t == "broken"));
    }
}
