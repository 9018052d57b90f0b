//! Formatter tests: the layout of each construct, comments in every place a
//! rule can hold one, and the formatter's two promises on each input: a
//! second run changes nothing, and every comment survives in order.

use super::format::{comment_texts, format};
use crate::diagnostic::FileId;

/// Formats `text`, checking idempotence and comment preservation.
fn fmt(text: &str) -> String {
    let once = format(FileId(0), text).unwrap_or_else(|d| panic!("{d:#?}"));
    let twice = format(FileId(0), &once).unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(once, twice, "not idempotent; first output:\n{once}");
    assert_eq!(
        comment_texts(text),
        comment_texts(&once),
        "comments changed"
    );
    once
}

#[test]
fn items_and_clauses() {
    insta::assert_snapshot!(fmt(r#"
source   k8s.audit
import "common.ward"
list   ports=[1,2 , 3]
macro  anon =user.username=="system:anonymous"
rule r{title "T" severity high
tags [a.b, "c d",]
when anon and verb in ["get","list"]
    except x == 1
output "{verb}" }
rule empty {}
"#));
}

#[test]
fn long_chains_break_one_operand_per_line() {
    insta::assert_snapshot!(fmt(r#"
rule r {
  when objectRef.resource == "pods" and objectRef.subresource in ["exec", "attach", "portforward"] and verb in ["create", "get"]
  except (user.username startswith "system:serviceaccount:kube-system:" or user.username startswith "system:node:") and not any c in requestObject.spec.containers: c.image icontains "pause"
}
macro m = aaaaaaaaaaaaaaaaaaaa == 1 and bbbbbbbbbbbbbbbbbbbbbbbbbbbbb == 2 or ccccccccccccccccccccccccccc == 3 and dddddddddddddddddd == 4
"#));
}

#[test]
fn short_chains_join_one_line() {
    insta::assert_snapshot!(fmt(r#"
rule r {
  when a
       and b
       or (c
           and not d)
}
"#));
}

#[test]
fn literals_are_copied_as_written() {
    insta::assert_snapshot!(fmt(r#"
rule r {
  title "tab\there \u{41} \"q\""
  when a matches r"^/x#y\d+$" and b == -1.50 and c."odd key"[0] >= 007 and d is not null and e exists
  count distinct a.b by c, d[-1] within 90s >= 10
}
"#));
}

#[test]
fn long_lists_fill_lines() {
    insta::assert_snapshot!(fmt(r#"
list miner_images = ["xmrig", "minergate", "cryptonight", "coinhive", "nicehash", "monero", "stratum", "kdevtmpfsi", "kinsing", "ethminer", "t-rex"]
list short = [
  1,
  2,
]
list none = []
"#));
}

#[test]
fn sequences_line_up_their_steps() {
    insta::assert_snapshot!(fmt(r#"
rule s {
  severity high
  sequence by objectRef.namespace within 30m {
  create: verb == "create" and objectRef.resource == "pods" and requestObject.spec.hostPID == true and objectRef.namespace == "default"
  not cleanup: verb == "delete"
  exec: objectRef.subresource == "exec" by user.username
  until verb == "delete" }
}
"#));
}

#[test]
fn comments_everywhere() {
    insta::assert_snapshot!(fmt(r#"# header

# about the source
source k8s.audit # trailing on source
list l = [ # after the bracket
  "a", # after a
  # before b
  "b"
  # before the bracket
]
macro m = a # inside a short chain
  and b
rule r { # after the brace
  # before title

  title "T"   # after title
  when a and # after and
    # own line before b
    b and c == # inside a predicate
    1
  # before except
  except x in [1, # in an inline list
    2]
  sequence within 5m { # after sequence brace
    # before a step
    one: a # after step one
    two: b
    # before the closing brace
  }
  # last in the rule
} # after the rule
# end of file
"#));
}

#[test]
fn blank_lines_keep_at_most_one() {
    insta::assert_snapshot!(fmt("\n\n# c\n\n\n\nsource k8s.audit\nlist a = [1]\n\n\n\nlist b = [2]\nrule r {\n\n  title \"T\"\n\n\n  severity low\n\n}\nrule q { when x }\n\n\n"));
}

#[test]
fn a_file_that_does_not_parse_is_not_formatted() {
    let errs = format(FileId(0), "rule r { when a == }").expect_err("syntax error");
    assert_eq!(errs[0].code, crate::diagnostic::Code::Syntax);
    let errs = format(FileId(0), "rule r { title \"\\q\" }").expect_err("bad escape");
    assert_eq!(errs[0].code, crate::diagnostic::Code::BadEscape);
}

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(fmt(""), "");
    assert_eq!(fmt("\n\n"), "");
    assert_eq!(fmt("# only\n\n\n# comments"), "# only\n\n# comments\n");
    assert_eq!(fmt("source k8s.audit"), "source k8s.audit\n");
}

#[test]
fn crlf_and_tabs_become_newlines_and_spaces() {
    let text = "source k8s.audit\r\n\r\n# c  \r\nrule r {\r\n\ttitle \"x\" # t\r\n\twhen a and\r\n\r\n b\r\n}\r\n";
    assert_eq!(
        fmt(text),
        "source k8s.audit\n\n# c\nrule r {\n  title \"x\" # t\n  when  a and b\n}\n"
    );
}

#[test]
fn comments_inside_single_tests_move_to_the_line_end() {
    insta::assert_snapshot!(fmt(r#"
macro m = (a # c
) and b
macro n = not # x
 (a or b)
rule r { tags [a, # t
 b] when any c in # q
 xs: c == 1 and y }
"#));
}

#[test]
fn calls_print_canonically() {
    assert_eq!(
        fmt("rule r { when lower(  user.username ) == \"a\" and len( query(requestURI ,\"c\") )>1 }\n"),
        "rule r {\n  when lower(user.username) == \"a\" and len(query(requestURI, \"c\")) > 1\n}\n"
    );
    assert_eq!(
        fmt("rule r { when any v in query( requestURI,\"command\" ):v==\"sh\" and is_private(sourceIPs[0]) }\n"),
        "rule r {\n  when any v in query(requestURI, \"command\"): v == \"sh\" and is_private(sourceIPs[0])\n}\n"
    );
    assert_eq!(fmt("rule r { when f() }\n"), "rule r {\n  when f()\n}\n");
}

#[test]
fn calls_holding_comments_break() {
    insta::assert_snapshot!(fmt(r#"
rule r {
  when query( # the exec URI
    requestURI, "command" # the parameter
  ) == [] and lower(x # trailing
  ) == "a"
}
"#));
}

#[test]
fn macro_parameters_and_calls() {
    let out = fmt(r#"
macro image_in( x ,L )=registry(x)in L
override   macro  priv (c)= c.securityContext.privileged==true
rule r { when any c in requestObject.spec.containers : image_in( c.image,allowed ) and priv(c) }
"#);
    assert_eq!(
        out,
        "macro image_in(x, L) = registry(x) in L\n\
         override macro priv(c) = c.securityContext.privileged == true\n\
         \n\
         rule r {\n  when any c in requestObject.spec.containers: image_in(c.image, allowed) and priv(c)\n}\n"
    );
}

/// A comment inside a macro's parameter list breaks the list one
/// parameter per line, each comment after its parameter; in a macro
/// call's arguments, as in any call.
#[test]
fn comments_in_macro_parameters_and_calls() {
    insta::assert_snapshot!(fmt(r#"
macro image_in(x, # the image
  L # allowed registries
) = registry(x) in L
  override macro priv( # the container
c) = c.securityContext.privileged == true
macro in_ns(# only
  ns) = objectRef.namespace == ns
rule r {
  when any c in requestObject.spec.containers: image_in(c.image, # its image
    allowed) and priv(c # the element
  ) and in_ns(
    "kube-system" # a namespace
  )
}
"#));
}

/// The AST of `text` without its spans: what formatting must keep.
fn ast(text: &str) -> String {
    let (file, diags) = super::parse(FileId(0), text);
    assert!(diags.is_empty(), "{diags:?}");
    let debug = format!("{:?}", file.items);
    let mut out = String::new();
    let mut rest = debug.as_str();
    while let Some(i) = rest.find("Span {") {
        out.push_str(&rest[..i]);
        out.push_str("Span");
        rest = rest[i..].split_once('}').map_or("", |(_, r)| r);
    }
    out.push_str(rest);
    out
}

/// Formats an item whose head holds a comment: exactly `want`, and it
/// parses to the same item.
fn head(text: &str, want: &str) {
    let out = fmt(text);
    assert_eq!(out, want, "from:\n{text}");
    assert_eq!(ast(text), ast(&out), "AST changed:\n{out}");
}

/// A comment in a macro's head stays where it was written: the head
/// breaks there, and what follows goes on a line of its own.
#[test]
fn comments_in_a_macro_head_stay_put() {
    // Between the name and `(`: trailing, and on its own line.
    head(
        "macro image_in # why\n(x, L) = registry(x) in L\nrule r { when image_in(verb, [\"a\"]) }\n",
        "macro image_in # why\n  (x, L) = registry(x) in L\n\nrule r {\n  when image_in(verb, [\"a\"])\n}\n",
    );
    head(
        "macro image_in\n# why\n(x, L) = registry(x) in L\n",
        "macro image_in\n  # why\n  (x, L) = registry(x) in L\n",
    );
    // Between the last parameter and `)`: the list breaks, one per line.
    head(
        "macro image_in(x, L # allowed\n) = registry(x) in L\n",
        "macro image_in(\n  x,\n  L # allowed\n) = registry(x) in L\n",
    );
    // Between `)` and `=`.
    head(
        "macro image_in(x, L) # why\n= registry(x) in L\n",
        "macro image_in(x, L) # why\n  = registry(x) in L\n",
    );
    // Between `=` and the body; a long body then breaks under itself.
    head(
        "macro image_in(x, L) = # why\nregistry(x) in L\n",
        "macro image_in(x, L) = # why\n  registry(x) in L\n",
    );
    head(
        "macro m(x) = # why\n aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa == x and bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb == x and c == x\n",
        "macro m(x) = # why\n  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa == x\n  and bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb == x\n  and c == x\n",
    );
    // A plain macro, between its name and `=`; after `macro`; after
    // `override macro`.
    head(
        "macro anon # why\n= user.username == \"system:anonymous\"\n",
        "macro anon # why\n  = user.username == \"system:anonymous\"\n",
    );
    head(
        "macro # why\nimage_in(x, L) = registry(x) in L\n",
        "macro # why\n  image_in(x, L) = registry(x) in L\n",
    );
    head(
        "override macro # why\nimage_in(x, L) = registry(x) in L\n",
        "override macro # why\n  image_in(x, L) = registry(x) in L\n",
    );
    // Several places at once, and a parameter list that breaks after a
    // broken head.
    head(
        "macro image_in # a\n( # b\nx, L) # c\n= # d\nregistry(x) in L\n",
        "macro image_in # a\n  ( # b\n    x,\n    L\n  ) # c\n  = # d\n  registry(x) in L\n",
    );
}

/// A comment in the head of a list or a rule ends the line that opens it
/// (a list's or a rule's head does not break as a macro's does): it stays
/// before the values and the clauses, never after them.
#[test]
fn comments_in_a_list_or_rule_head_end_its_first_line() {
    head(
        "list l # why\n  = [\"a\", \"b\"]\nlist m = # more\n  [\"c\"]\n",
        "list l = [\"a\", \"b\"] # why\nlist m = [\"c\"] # more\n",
    );
    head(
        "list l # why\n= [\"aaaaaaaaaaaaaaaaaaaa\", \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", \"cccccccccccccccccccccccccccc\", \"dddddddddddddddddd\"]\n",
        "list l = [ # why\n  \"aaaaaaaaaaaaaaaaaaaa\", \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", \"cccccccccccccccccccccccccccc\",\n  \"dddddddddddddddddd\",\n]\n",
    );
    head(
        "rule r # the rule\n{ # brace\n  severity low\n  when verb == \"get\"\n}\n",
        "rule r { # the rule\n  # brace\n  severity low\n  when     verb == \"get\"\n}\n",
    );
}

/// In a call, the name and `(` are one token (`f (x)` is no call), so no
/// comment can come between them; one before `)` breaks the arguments.
#[test]
fn comments_in_a_macro_call() {
    assert!(format(FileId(0), "rule r { when image_in # c\n(verb, [\"a\"]) }\n").is_err());
    let text = "rule r { when image_in(verb, [\"a\"] # c\n) }\n";
    let out = fmt(text);
    assert_eq!(
        out,
        "rule r {\n  when image_in(\n         verb,\n         [\"a\"] # c\n       )\n}\n"
    );
    assert_eq!(ast(text), ast(&out));
}
