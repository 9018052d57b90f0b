//! Parser tests: precedence, paths, literals, clauses, error recovery.

use super::ast::*;
use super::parse;
use crate::diagnostic::{Code, FileId};

fn rule(text: &str) -> RuleDecl {
    let (file, diags) = parse(FileId(0), text);
    assert!(diags.is_empty(), "{diags:#?}");
    file.items
        .into_iter()
        .find_map(|i| match i {
            Item::Rule(r) => Some(*r),
            _ => None,
        })
        .expect("a rule")
}

/// The `when` of `rule r { when COND }` as an S-expression.
fn when(cond: &str) -> String {
    sexp(&rule(&format!("rule r {{ when {cond} }}")).when[0])
}

fn sexp(e: &Expr) -> String {
    match &e.kind {
        ExprKind::And(a, b) => format!("(and {} {})", sexp(a), sexp(b)),
        ExprKind::Or(a, b) => format!("(or {} {})", sexp(a), sexp(b)),
        ExprKind::Not(a) => format!("(not {})", sexp(a)),
        ExprKind::Quant {
            kind,
            var,
            list,
            body,
        } => format!("({kind:?} {} {} {})", var.name, opnd(list), sexp(body)),
        ExprKind::Compare { op, lhs, rhs } => {
            format!("({} {} {})", op.as_str(), opnd(lhs), opnd(rhs))
        }
        ExprKind::In { negated, lhs, rhs } => format!(
            "({}in {} {})",
            if *negated { "not-" } else { "" },
            opnd(lhs),
            opnd(rhs)
        ),
        ExprKind::Cidr { negated, lhs, rhs } => format!(
            "({}cidr {} {})",
            if *negated { "not-" } else { "" },
            opnd(lhs),
            opnd(rhs)
        ),
        ExprKind::Str {
            negated,
            op,
            lhs,
            rhs,
        } => format!(
            "({}{op} {} {})",
            if *negated { "not-" } else { "" },
            opnd(lhs),
            opnd(rhs)
        ),
        ExprKind::IsNull { negated, operand } => format!(
            "({} {})",
            if *negated { "not-null" } else { "null" },
            opnd(operand)
        ),
        ExprKind::Exists(o) => format!("(exists {})", opnd(o)),
        ExprKind::Value(o) => opnd(o),
    }
}

fn opnd(o: &Operand) -> String {
    match o {
        Operand::Path(p) => p.to_string(),
        Operand::Lit(l) => lit(l),
        Operand::Call(c) => format!(
            "({}{})",
            c.name.name,
            c.args
                .iter()
                .map(|a| format!(" {}", opnd(a)))
                .collect::<String>()
        ),
    }
}

fn lit(l: &Literal) -> String {
    match &l.kind {
        LitKind::Str(s) => format!("{:?}", s.value),
        LitKind::Int(i) => i.to_string(),
        LitKind::Float(f) => format!("{f:?}"),
        LitKind::Bool(b) => b.to_string(),
        LitKind::Null => "null".into(),
        LitKind::Duration(ms) => format!("{ms}ms"),
        LitKind::List(items) => {
            format!("[{}]", items.iter().map(lit).collect::<Vec<_>>().join(" "))
        }
    }
}

#[test]
fn precedence_is_or_and_not() {
    assert_eq!(when("a or b and not c"), "(or a (and b (not c)))");
    assert_eq!(when("(a or b) and c"), "(and (or a b) c)");
    assert_eq!(when("not not a"), "(not (not a))");
}

#[test]
fn quantifier_body_is_one_term() {
    assert_eq!(
        when("any c in xs: c.p == true and y"),
        "(and (Any c xs (== c.p true)) y)"
    );
    assert_eq!(when("all c in xs: (c.a or c.b)"), "(All c xs (or c.a c.b))");
}

#[test]
fn predicates() {
    assert_eq!(when("x != 1"), "(!= x 1)");
    assert_eq!(when("x not in [\"a\", 2]"), "(not-in x [\"a\" 2])");
    assert_eq!(
        when("ip not in cidr [\"10.0.0.0/8\"]"),
        "(not-cidr ip [\"10.0.0.0/8\"])"
    );
    assert_eq!(when("x not icontains \"A\""), "(not-icontains x \"A\")");
    assert_eq!(when("x imatches r\"\\d+\""), "(imatches x \"\\\\d+\")");
    assert_eq!(
        when("x is not null and y is null and z exists"),
        "(and (not-null x) (and (null y) (exists z)))"
    );
    assert_eq!(when("x == null"), "(== x null)");
    assert_eq!(when("x >= -1.5"), "(>= x -1.5)");
}

#[test]
fn calls_are_operands() {
    assert_eq!(when("lower(x) == \"a\""), "(== (lower x) \"a\")");
    assert_eq!(
        when("len(query(requestURI, \"command\")) > 2"),
        "(> (len (query requestURI \"command\")) 2)"
    );
    assert_eq!(
        when("any v in query( u ,\"c\" ): v == \"sh\""),
        "(Any v (query u \"c\") (== v \"sh\"))"
    );
    assert_eq!(
        when("\"sh\" in query(u, \"c\")"),
        "(in \"sh\" (query u \"c\"))"
    );
    assert_eq!(
        when("is_private(ip) and not f()"),
        "(and (is_private ip) (not (f)))"
    );
    // Function names are not reserved: alone, they are names.
    assert_eq!(when("len == lower.upper"), "(== len lower.upper)");
    // A keyword followed by `(` is the keyword.
    assert_eq!(when("not(a)"), "(not a)");
    // The name and `(` are one token: `len (x)` is no call.
    let (_, diags) = parse(FileId(0), "rule r { when len (x) == 1 }");
    assert_eq!(
        diags.iter().map(|d| d.code).collect::<Vec<_>>(),
        [Code::Syntax]
    );
    let (_, diags) = parse(FileId(0), "rule r { when a.len(x) == 1 }");
    assert_eq!(
        diags.iter().map(|d| d.code).collect::<Vec<_>>(),
        [Code::Syntax]
    );
}

#[test]
fn paths_with_quotes_and_indexes() {
    assert_eq!(
        when("annotations.\"authorization.k8s.io/decision\" == \"allow\""),
        "(== annotations.\"authorization.k8s.io/decision\" \"allow\")"
    );
    assert_eq!(
        when("sourceIPs[0] == sourceIPs[-1]"),
        "(== sourceIPs[0] sourceIPs[-1])"
    );
    // Keywords are not names, but names may start with one.
    assert_eq!(when("index == notes"), "(== index notes)");
}

#[test]
fn strings_and_escapes() {
    assert_eq!(
        when(r#"x == "a\"b\\c\n\u{1F600}""#),
        "(== x \"a\\\"b\\\\c\\n😀\")"
    );
    let (_, diags) = parse(FileId(0), r#"rule r { when x == "\q" }"#);
    assert_eq!(
        diags.iter().map(|d| d.code).collect::<Vec<_>>(),
        [Code::BadEscape]
    );
    assert_eq!(
        diags[0].span(),
        Span::new(20, 22),
        "the span covers the escape"
    );
}

#[test]
fn durations_and_their_limit() {
    let r = rule("rule r { when a count by k within 90s > 5 }");
    let c = r.count.expect("count");
    assert_eq!(c.within.kind, LitKind::Duration(90_000));
    assert_eq!(c.threshold.kind, LitKind::Int(5));
    let (_, diags) = parse(FileId(0), "rule r { when a count by k within 31d > 5 }");
    assert_eq!(
        diags.iter().map(|d| d.code).collect::<Vec<_>>(),
        [Code::BadDuration]
    );
}

#[test]
fn metadata_and_clauses() {
    let r = rule(
        "rule k8s-exec.v2 {\n title \"T\"\n severity high\n tags [attack.t1609, \"x y\"]\n enabled false\n \
         when a\n except b\n except c\n output \"{x}\"\n}",
    );
    assert_eq!(r.name.name, "k8s-exec.v2");
    assert!(
        matches!(&r.meta("severity").expect("severity").value, MetaValue::Word(w) if w.name == "high")
    );
    let MetaValue::Tags(tags) = &r.meta("tags").expect("tags").value else {
        panic!("tags")
    };
    assert_eq!(
        tags.iter().map(|t| t.value.as_str()).collect::<Vec<_>>(),
        ["attack.t1609", "x y"]
    );
    assert!(matches!(
        r.meta("enabled").expect("enabled").value,
        MetaValue::Bool(false, _)
    ));
    assert_eq!(r.excepts.len(), 2);
    assert_eq!(r.output.expect("output").value, "{x}");
}

#[test]
fn sequences_parse() {
    let r = rule(
        "rule r { sequence by user.username within 10m {\n grant: verb == \"create\"\n not revoke: verb == \"delete\" by objectRef.name\n \
         exec: objectRef.subresource == \"exec\"\n until: verb == \"logout\"\n } }",
    );
    let s = r.sequence.expect("sequence");
    assert_eq!(s.by[0].to_string(), "user.username");
    let steps: Vec<(bool, &str, usize)> = s
        .steps
        .iter()
        .map(|st| (st.negated, st.name.name.as_str(), st.by.len()))
        .collect();
    assert_eq!(
        steps,
        [(false, "grant", 0), (true, "revoke", 1), (false, "exec", 0)]
    );
    assert!(s.until.is_some());
}

#[test]
fn every_syntax_error_is_reported_and_good_items_survive() {
    let text = "source k8s.audit\nrule a { when verb = \"get\" }\nrule ok { when verb == \"get\" }\nrule b { when && }\nlist l = [1,\n";
    let (file, diags) = parse(FileId(0), text);
    let lines: Vec<usize> = diags
        .iter()
        .map(|d| text[..d.span().start].matches('\n').count() + 1)
        .collect();
    assert_eq!(lines, [2, 4, 6]);
    assert!(diags.iter().all(|d| d.code == Code::Syntax));
    let names: Vec<String> = file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Rule(r) => Some(r.name.name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["ok"]);
    assert_eq!(
        diags[0].help.as_deref(),
        Some("compare with `==`; a single `=` only appears in `list` and `macro` definitions")
    );
}

#[test]
fn item_and_clause_keywords_match_whole_words_only() {
    // `nothing:` and `note:` are steps named so, not `not hing:`.
    let r = rule(
        "rule r { sequence by user.username within 10m {\n  nothing: verb == \"a\"\n  note: verb == \"b\"\n  not notable: verb == \"c\"\n} }",
    );
    let steps = &r.sequence.as_ref().expect("a sequence").steps;
    let names: Vec<(&str, bool)> = steps
        .iter()
        .map(|s| (s.name.name.as_str(), s.negated))
        .collect();
    assert_eq!(
        names,
        [("nothing", false), ("note", false), ("notable", true)]
    );
    // Glued keywords are names, so these do not parse as items or clauses.
    for text in [
        "sourcek8s.audit",
        "rulex { when verb == \"a\" }",
        "rule r { whenverb == \"a\" }",
        "rule r { when verb == \"a\" count byx within 5m > 1 }",
        "rule r { when verb == \"a\" count by x within5m > 1 }",
    ] {
        let (_, diags) = parse(FileId(0), text);
        assert!(
            diags.iter().any(|d| d.code == Code::Syntax),
            "{text:?} must not parse"
        );
    }
    // A metadata key that starts with a clause keyword is a metadata key.
    let r = rule("rule r { whenever \"x\" sources high when verb == \"a\" }");
    let keys: Vec<&str> = r.meta.iter().map(|m| m.key.name.as_str()).collect();
    assert_eq!(keys, ["whenever", "sources"]);
}

#[test]
fn comments_are_found_outside_strings_only() {
    let t = "a \"#x\" # one\nr\"two\n# not\" # three\n\"unterminated # four\n# five";
    let got: Vec<&str> = super::comments(t).into_iter().map(|r| &t[r]).collect();
    // A raw string spans lines; an unterminated cooked one ends at its line.
    assert_eq!(got, ["# one", "# three", "# five"]);
}

/// Lists of plain strings read by hand ([`super::lists`]) give the tree and
/// diagnostics pest gives, spans included: on every bundled rule file (all
/// of their lists taken by hand), and on files where the hand-read lists sit
/// before, between and after other items, hold escapes, bad escapes and raw
/// strings, or where a later syntax error sends the file back to pest.
#[test]
fn lists_read_by_hand_parse_as_pest_does() {
    use super::parse::parse_with;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let mut texts: Vec<String> = Vec::new();
    for dir in ["k8s", "aws", "calico"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("rules dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "ward") {
                texts.push(std::fs::read_to_string(&path).expect("rule file"));
            }
        }
    }
    assert!(texts.len() >= 10, "found {} rule files", texts.len());
    let list =
        "list big = [\n  \"a\\\"b\", r\"c\\d\", # comment\n  \"\\u{e9}t\u{e9}\", \"x\\qy\",\n]\n";
    let rule = "rule r {\n  when user.username in big and verb == \"get\"\n}\n";
    texts.extend([
        format!("source k8s.audit\n{list}{rule}{list}"),
        format!("{list}macro m = verb in [\"a\", \"b\"]\n{list}"),
        format!("{list}{rule}rule broken {{ when == }}\n{list}"),
        format!("{list}list small = [1, 2]\nlist nested = [[\"a\"]]\n"),
        "list e = []\nlist f = [ ]\nlist g = [\"only\"]\n".to_string(),
    ]);
    let mut by_hand = 0;
    for text in &texts {
        let pest = parse_with(FileId(3), text, usize::MAX);
        let hand = parse_with(FileId(3), text, 1);
        assert_eq!(format!("{pest:?}"), format!("{hand:?}"), "{text}");
        by_hand += super::lists::plain_lists(text, 1).len();
    }
    assert!(by_hand >= 20, "{by_hand} lists read by hand");
}

/// `RESERVED` is the grammar's `keyword` rule, word for word, and
/// `is_plain_name` agrees with the parser on names.
#[test]
fn reserved_words_are_the_grammars() {
    let pest = include_str!("ward.pest");
    let rule = pest
        .split("keyword = @{")
        .nth(1)
        .and_then(|r| r.split('}').next())
        .expect("keyword rule");
    let mut grammar: Vec<&str> = rule.split('"').skip(1).step_by(2).collect();
    let mut ours = super::RESERVED.to_vec();
    grammar.sort_unstable();
    ours.sort_unstable();
    assert_eq!(grammar, ours);
    for w in super::RESERVED
        .iter()
        .copied()
        .chain(["x-y", "1a", "a.b", ""])
    {
        assert!(!super::is_plain_name(w), "{w}");
    }
    for w in ["andx", "_in", "verb", "equals_2"] {
        assert!(super::is_plain_name(w), "{w}");
        let (_, diags) = super::parse(crate::diagnostic::FileId(0), &format!("list {w} = []\n"));
        assert!(diags.is_empty(), "{w}: {diags:?}");
    }
    for w in super::RESERVED {
        let (_, diags) = super::parse(crate::diagnostic::FileId(0), &format!("list {w} = []\n"));
        assert!(!diags.is_empty(), "{w} parsed as a name");
    }
}

/// `any x0 in l: any x1 in l: ... x0 == 1`, `n` quantifiers deep.
fn quantifier_chain(n: usize) -> String {
    let body: String = (0..n).map(|i| format!("any x{i} in l: ")).collect();
    format!("rule r {{ when {body}x0 == 1 }}")
}

/// Sixteen quantifiers one inside another parse; a seventeenth is E001
/// at it, reported once. A chain of thousands (which overflowed the
/// checker's stack) is one E001 too: this one, or pest's own limit on its
/// recursion where the stack is small.
#[test]
fn quantifiers_nest_at_most_sixteen_deep() {
    let r = rule(&quantifier_chain(16));
    assert!(sexp(&r.when[0]).starts_with("(Any x0 l (Any x1 l"));
    let text = quantifier_chain(17);
    let (_, diags) = parse(FileId(0), &text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = &diags[0];
    assert_eq!(d.code, Code::Syntax);
    assert_eq!(d.message, "quantifiers nested too deeply");
    let at = text.find("any x16 ").expect("the seventeenth");
    assert_eq!(d.span().start, at);
    let (_, diags) = parse(FileId(0), &quantifier_chain(3000));
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].code, Code::Syntax);
}

/// A rule file of `n` generated rules (about 150 bytes each), with the
/// constructs that make parsing in pieces hard: values whose
/// diagnostics carry spans, a long plain list (read by hand), a raw string
/// over lines with a column-0 `rule` inside.
fn generated(n: usize) -> String {
    let mut s = String::from("source k8s.audit\n");
    for i in 0..n {
        s += &format!(
            "rule r{i} {{\n  severity medium\n  when verb == \"create\" and user.username == \"u{i}@x\"\n}}\n"
        );
        if i % 700 == 350 {
            s += "list long = [";
            s += &(0..300)
                .map(|k| format!("\"v{k}\""))
                .collect::<Vec<_>>()
                .join(", ");
            s += "]\nrule odd { when userAgent matches r\"a\nrule fake {\n}\" and verb == \"\\q\" }\n";
            s += "rule late { when verb == \"x\" count by user.username within 99d > 1 }\n";
        }
    }
    s
}

#[test]
fn files_parsed_side_by_side_give_the_trees_of_one_by_one() {
    let big = generated(2000);
    assert!(big.len() > 4 * 32 * 1024, "{}", big.len());
    let broken_late = format!("{big}rule tail {{ when verb == }}\n");
    let broken_early = format!("rule head {{ when == }}\n{big}");
    let deep = format!(
        "{big}rule d {{ when {}verb{} }}\n",
        "(".repeat(80),
        ")".repeat(80)
    );
    let files = [
        big.as_str(),
        "source k8s.audit\nrule small { when verb == \"get\" }\n",
        broken_late.as_str(),
        broken_early.as_str(),
        deep.as_str(),
    ];
    let with_ids: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(k, t)| (FileId(k), *t))
        .collect();
    let one_by_one: Vec<_> = with_ids.iter().map(|&(id, t)| parse(id, t)).collect();
    for threads in [1, 2, 4] {
        let side_by_side = super::parse::parse_on(&with_ids, threads);
        assert_eq!(side_by_side.len(), files.len());
        for (k, (a, b)) in one_by_one.iter().zip(&side_by_side).enumerate() {
            assert_eq!(
                format!("{a:?}"),
                format!("{b:?}"),
                "file {k}, {threads} threads"
            );
        }
    }
    // What the comparison covers: value diagnostics past the first piece,
    // the rules of every piece, and the syntax errors.
    let (file, diags) = &one_by_one[0];
    assert_eq!(file.items.len(), 1 + 2000 + 3 * 3);
    assert!(diags.len() >= 6, "{diags:#?}");
    assert!(diags.iter().all(|d| d.code != Code::Syntax));
    assert!(one_by_one[2].1.iter().any(|d| d.code == Code::Syntax));
    assert!(one_by_one[3].1.iter().any(|d| d.code == Code::Syntax));
    assert!(one_by_one[4].0.items.is_empty());
}

/// The deepest texts the nesting bounds accept, each of one shape: pest
/// (built without its stack probe) and the passes after it recurse per
/// level, so each must parse, and be tokenized, on a thread with a quarter
/// of the stack that spawned threads get (debug build). One bracket or
/// quantifier more is one E001, and so are chains of a hundred thousand.
#[test]
fn the_deepest_accepted_nesting_fits_a_small_stack() {
    let refused = [
        format!("rule r {{ when {}verb{} }}", "(".repeat(65), ")".repeat(65)),
        format!("rule r {{ when {}x0 == 1 }}", quantifier_chain_of(17)),
        format!("rule r {{ when {}x0 == 1 }}", quantifier_chain_of(100_000)),
        format!(
            "rule r {{ when {}x0 == 1 }}",
            "any x in l: not ".repeat(100_000)
        ),
        format!("rule r {{ when {}verb }}", "(".repeat(100_000)),
        format!(
            "rule r {{ when any x0 in l: ({}x0 == 1) }}",
            quantifier_chain_of(16)
        ),
    ];
    for text in deepest_accepted() {
        let text_head: String = text.chars().take(60).collect();
        let done = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || {
                let (file, diags) = parse(FileId(0), &text);
                let tokens = super::tokens::tokens(&text);
                (file.items.len(), diags, tokens.len())
            })
            .expect("thread")
            .join()
            .expect("no overflow");
        let (items, diags, tokens) = done;
        assert_eq!(items, 1, "{diags:#?}");
        assert!(diags.iter().all(|d| d.code != Code::Syntax), "{diags:#?}");
        // At least `rule`, its name, `when` and three of the condition.
        assert!(tokens >= 6, "{tokens} tokens of {text_head}");
    }
    for text in refused {
        let done = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || {
                (
                    parse(FileId(0), &text).1,
                    super::tokens::tokens(&text).len(),
                )
            })
            .expect("thread")
            .join()
            .expect("no overflow");
        let (diags, _) = done;
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert_eq!(diags[0].code, Code::Syntax);
    }
}

/// The stack `with_stack` makes sure of is enough: the deepest accepted
/// texts parse (without `with_stack`) on a thread of just that much.
#[test]
fn a_parse_needs_no_more_stack_than_it_is_given() {
    for text in deepest_accepted() {
        std::thread::Builder::new()
            .stack_size(super::recover::PARSE_STACK)
            .spawn(move || super::parse::parse_accepted(FileId(0), &text, super::lists::MIN_ITEMS))
            .expect("thread")
            .join()
            .expect("no overflow");
    }
}

/// `any x0 in l: any x1 in l: ... `, `k` quantifiers.
fn quantifier_chain_of(k: usize) -> String {
    (0..k).map(|i| format!("any x{i} in l: ")).collect()
}

/// The deepest texts the nesting bounds accept, one of each shape.
fn deepest_accepted() -> Vec<String> {
    let n = super::recover::MAX_NESTING;
    let q = super::recover::MAX_QUANTIFIERS;
    let chain = quantifier_chain_of;
    vec![
        // Brackets around a full quantifier chain.
        format!(
            "rule r {{ when {}{}x0 == 1{} }}",
            "(".repeat(n),
            chain(q),
            ")".repeat(n)
        ),
        // A quantifier in each parenthesised body, then brackets.
        format!(
            "rule r {{ when {}{}x == 1{}{} }}",
            (0..q)
                .map(|i| format!("any x{i} in l: not ("))
                .collect::<String>(),
            "(".repeat(n - q),
            ")".repeat(n - q),
            ")".repeat(q)
        ),
        // Lists in a list, and calls in a call.
        format!(
            "rule r {{ when verb in {}1{} }}",
            "[".repeat(n),
            "]".repeat(n)
        ),
        format!(
            "rule r {{ when {}verb{} == 1 }}",
            "lower(".repeat(n),
            ")".repeat(n)
        ),
        // Quantifiers side by side, and after a field named like one.
        format!(
            "rule r {{ when {} and a.any == 1 }}",
            (0..200)
                .map(|i| format!("any x{i} in l: x{i} == 1"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    ]
}
