//! `ward lsp` driven over stdio as an editor drives it: initialize, the
//! diagnostics of the workspace, didOpen/didChange, hover, completion,
//! definition, references, formatting, code actions, shutdown and exit.
//! Answers are snapshots with the workspace path replaced by `WS`.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Client {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    next: u64,
    /// Notifications read while waiting for a response.
    pending: Vec<Value>,
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ward lsp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut len = None;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; len.expect("Content-Length")];
                if r.read_exact(&mut body).is_err() {
                    return;
                }
                let v: Value = serde_json::from_slice(&body).expect("JSON-RPC message");
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Client {
            child,
            stdin,
            rx,
            next: 1,
            pending: Vec::new(),
        }
    }

    fn send(&mut self, msg: &Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let m = self
                .rx
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no answer to {method}"));
            if m["id"] == id {
                assert!(m.get("error").is_none(), "{method}: {m}");
                return m["result"].clone();
            }
            self.pending.push(m);
        }
    }

    /// The next diagnostics published for a file whose URI ends with
    /// `name`.
    fn diagnostics(&mut self, name: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(i) = self.pending.iter().position(|m| {
                m["method"] == "textDocument/publishDiagnostics"
                    && m["params"]["uri"]
                        .as_str()
                        .is_some_and(|u| u.ends_with(name))
            }) {
                return self.pending.remove(i)["params"]["diagnostics"].clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self
                .rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no diagnostics for {name}"));
            self.pending.push(m);
        }
    }
}

const LISTS: &str = "source k8s.audit\n\nlist admins = [\"alice\", \"bob\"]\n\nmacro pod_exec = objectRef.resource == \"pods\" and objectRef.subresource == \"exec\"\n";

/// A typo'd field after non-ASCII text on the same line: columns count
/// UTF-16 units (é is one, 𝄞 two).
const RULES: &str = "source k8s.audit\n\nrule exec_by_admin {\n  title \"Exec by an admin\"\n  when  pod_exec and user.username in admins and \"é𝄞\" != objectRef.resorce\n}\n\nrule pod_images {\n  title \"Images\"\n  when  objectRef.resource == \"pods\" and any c in requestObject.spec.containers: c.image == \"x\"\n}\n";

fn pos(text: &str, needle: &str, extra: usize) -> Value {
    let at = text.find(needle).expect("needle") + extra;
    let line = text[..at].matches('\n').count();
    let start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    let col: usize = text[start..at].chars().map(char::len_utf16).sum();
    json!({"line": line, "character": col})
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("JSON")
}

fn redact(v: &Value, root: &str) -> Value {
    serde_json::from_str(&v.to_string().replace(root, "WS")).expect("JSON")
}

#[test]
fn an_editor_session() {
    let ws = std::env::temp_dir().join(format!("ward-lsp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&ws);
    std::fs::create_dir_all(&ws).expect("mkdir");
    let ws = ws.canonicalize().expect("canonical");
    std::fs::write(ws.join("lists.ward"), LISTS).expect("write");
    std::fs::write(ws.join("rules.ward"), RULES).expect("write");
    let root = format!("file://{}", ws.display());
    let rules_uri = format!("{root}/rules.ward");

    let mut c = Client::start();
    let init = c.request(
        "initialize",
        json!({"processId": null, "capabilities": {}, "workspaceFolders": [{"uri": root, "name": "ws"}]}),
    );
    let caps = &init["capabilities"];
    assert_eq!(caps["positionEncoding"], "utf-16");
    for cap in [
        "hoverProvider",
        "completionProvider",
        "definitionProvider",
        "referencesProvider",
        "documentFormattingProvider",
        "codeActionProvider",
    ] {
        assert!(!caps[cap].is_null(), "{cap}: {caps}");
    }
    c.notify("initialized", json!({}));

    // The whole workspace is checked: the typo is reported with its code,
    // at its UTF-16 range, and the names of lists.ward resolve.
    let diags = c.diagnostics("rules.ward");
    insta::assert_snapshot!("lsp_diagnostics", pretty(&redact(&diags, &root)));
    assert_eq!(diags[0]["range"]["start"], pos(RULES, "resorce", 0));
    assert_eq!(c.diagnostics("lists.ward"), json!([]));

    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": rules_uri, "languageId": "ward", "version": 1, "text": RULES}}),
    );
    let at = |needle: &str, extra: usize| json!({"textDocument": {"uri": rules_uri}, "position": pos(RULES, needle, extra)});

    // Hover: a field (after the non-ASCII text), a list, a macro.
    let hover = c.request("textDocument/hover", at("username in admins", 2));
    insta::assert_snapshot!("lsp_hover_field", pretty(&hover));
    // After the non-ASCII text on that line (é is one UTF-16 unit, 𝄞 two).
    let hover = c.request("textDocument/hover", at("objectRef.resorce", 3));
    assert!(
        hover["contents"]["value"]
            .as_str()
            .is_some_and(|s| s.starts_with("**`objectRef`**")),
        "{hover}"
    );
    assert_eq!(hover["range"]["start"], pos(RULES, "objectRef.resorce", 0));
    let hover = c.request("textDocument/hover", at("admins and", 1));
    assert!(
        hover["contents"]["value"]
            .as_str()
            .is_some_and(|s| s.contains("list `admins`")),
        "{hover}"
    );
    let hover = c.request("textDocument/hover", at("pod_exec and", 1));
    assert!(
        hover["contents"]["value"]
            .as_str()
            .is_some_and(|s| s.contains("objectRef.subresource == \"exec\"")),
        "{hover}"
    );

    // Completion after a dot: the fields of `objectRef`; in a rule guarded
    // on pods, a quantifier variable over containers completes to a
    // container's fields.
    let labels = |v: &Value| -> Vec<String> {
        let mut l: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["label"].as_str().map(str::to_string))
            .collect();
        l.sort();
        l
    };
    let done = c.request("textDocument/completion", at("objectRef.resorce", 10));
    let got = labels(&done);
    for want in ["resource", "namespace", "name", "subresource", "apiGroup"] {
        assert!(got.iter().any(|g| g == want), "{want} in {got:?}");
    }
    let done = c.request("textDocument/completion", at("c.image", 2));
    let got = labels(&done);
    for want in ["image", "securityContext", "command", "args"] {
        assert!(got.iter().any(|g| g == want), "{want} in {got:?}");
    }
    let done = c.request(
        "textDocument/completion",
        at("requestObject.spec.containers", 19),
    );
    let got = labels(&done);
    for want in ["containers", "hostPID", "volumes"] {
        assert!(got.iter().any(|g| g == want), "{want} in {got:?}");
    }

    // Semantic tokens: what each name is (decoded from the relative form).
    let toks = c.request(
        "textDocument/semanticTokens/full",
        json!({"textDocument": {"uri": rules_uri}}),
    );
    let data: Vec<u64> = toks["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    let legend = &init["capabilities"]["semanticTokensProvider"]["legend"]["tokenTypes"];
    let lines: Vec<&str> = RULES.lines().collect();
    let (mut line, mut col) = (0usize, 0usize);
    let mut seen = Vec::new();
    for t in data.chunks(5) {
        let (dl, ds, len, ty) = (t[0] as usize, t[1] as usize, t[2] as usize, t[3] as usize);
        col = if dl == 0 { col + ds } else { ds };
        line += dl;
        let units: Vec<u16> = lines[line].encode_utf16().collect();
        let word = String::from_utf16_lossy(&units[col..col + len]);
        seen.push(format!("{word}:{}", legend[ty].as_str().unwrap_or("?")));
    }
    for want in [
        "rule:keyword",
        "exec_by_admin:class",
        "title:property",
        "pod_exec:function",
        "admins:variable",
        "username:property",
        "\"é𝄞\":string",
        "resorce:property",
        "==:operator",
    ] {
        assert!(seen.iter().any(|s| s == want), "{want} in {seen:?}");
    }

    // Definition and references across files.
    let def = c.request("textDocument/definition", at("pod_exec and", 2));
    insta::assert_snapshot!("lsp_definition", pretty(&redact(&def, &root)));
    let refs = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": rules_uri}, "position": pos(RULES, "admins and", 0), "context": {"includeDeclaration": true}}),
    );
    insta::assert_snapshot!("lsp_references", pretty(&redact(&refs, &root)));

    // The did-you-mean as a quick fix.
    let range = json!({"start": pos(RULES, "resorce", 0), "end": pos(RULES, "resorce", 7)});
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": rules_uri}, "range": range, "context": {"diagnostics": []}}),
    );
    insta::assert_snapshot!("lsp_code_actions", pretty(&redact(&actions, &root)));

    // Formatting gives what `ward fmt` writes (here, the layout of the
    // `when` entry the user just broke).
    let messy = RULES.replacen("  when  pod_exec", "  when pod_exec", 1);
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": rules_uri, "version": 2}, "contentChanges": [{"text": messy}]}),
    );
    let edits = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": rules_uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(edits[0]["newText"].as_str(), Some(RULES), "{edits}");

    // A file that does not parse (a path left at its dot) still completes.
    let broken = format!("{RULES}\nrule typing {{\n  when objectRef.\n");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": rules_uri, "version": 3}, "contentChanges": [{"text": broken}]}),
    );
    let done = c.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": rules_uri}, "position": pos(&broken, "when objectRef.\n", 15)}),
    );
    let got = labels(&done);
    assert!(got.iter().any(|g| g == "resource"), "{got:?}");

    // Fixing the typo clears the file's diagnostics.
    let fixed = RULES.replace("resorce", "resource");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": rules_uri, "version": 4}, "contentChanges": [{"text": fixed}]}),
    );
    // (Diagnostics of the broken text may come first: the last word wins.)
    let mut last = c.diagnostics("rules.ward");
    while last != json!([]) {
        last = c.diagnostics("rules.ward");
    }

    assert_eq!(c.request("shutdown", Value::Null), Value::Null);
    c.notify("exit", Value::Null);
    let status = c.child.wait().expect("exits");
    assert!(status.success(), "{status}");
}

/// A parameterised macro and a rule that calls it.
const MACROS: &str = "source k8s.audit\n\nlist allowed_registries = [\"gcr.io\", \"registry.example.com\"]\n\nmacro image_in(x, L) = registry(x) in L or x startswith \"localhost/\"\n\nrule untrusted_image {\n  title \"Untrusted image\"\n  when  objectRef.resource == \"pods\"\n        and any c in requestObject.spec.containers: not image_in(c.image, allowed_registries)\n}\n";

/// Macro parameters: hover in the body names the parameter, its place in
/// the signature and the signature; hover on a call shows the signature,
/// what each parameter is in that call, and the definition; completion in
/// the body offers the parameters (also while the macro is being typed);
/// definition and references of a parameter stay in its macro.
#[test]
fn macro_parameters() {
    let ws = std::env::temp_dir().join(format!("ward-lsp-macros-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&ws);
    std::fs::create_dir_all(&ws).expect("mkdir");
    let ws = ws.canonicalize().expect("canonical");
    std::fs::write(ws.join("macros.ward"), MACROS).expect("write");
    let root = format!("file://{}", ws.display());
    let uri = format!("{root}/macros.ward");

    let mut c = Client::start();
    let init = c.request(
        "initialize",
        json!({"processId": null, "capabilities": {}, "workspaceFolders": [{"uri": root, "name": "ws"}]}),
    );
    c.notify("initialized", json!({}));
    // The file is clean: no diagnostic to explain the answers below.
    assert_eq!(c.diagnostics("macros.ward"), json!([]));
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "ward", "version": 1, "text": MACROS}}),
    );
    let at = |text: &str, needle: &str, extra: usize| json!({"textDocument": {"uri": uri}, "position": pos(text, needle, extra)});
    let value = |v: &Value| v["contents"]["value"].as_str().unwrap_or("").to_string();

    // Hover on a parameter in the body.
    let hover = c.request("textDocument/hover", at(MACROS, "in L or", 3));
    insta::assert_snapshot!("lsp_hover_macro_parameter", pretty(&hover));
    assert_eq!(hover["range"]["start"], pos(MACROS, "in L or", 3));
    let hover = c.request("textDocument/hover", at(MACROS, "x startswith", 0));
    assert!(
        value(&hover).starts_with("parameter `x` of macro `image_in(x, L)` (1 of 2)"),
        "{hover}"
    );
    // In the signature, too.
    let hover = c.request("textDocument/hover", at(MACROS, "x, L)", 0));
    assert!(value(&hover).starts_with("parameter `x` of"), "{hover}");
    // `c.image` in the rule is a field under the rule's variable, not `x`.
    let hover = c.request("textDocument/hover", at(MACROS, "c.image,", 3));
    assert!(!value(&hover).contains("parameter"), "{hover}");

    // Hover on the call: signature, the arguments, the definition.
    let hover = c.request("textDocument/hover", at(MACROS, "image_in(c.image", 2));
    let path = ws.display().to_string();
    insta::assert_snapshot!("lsp_hover_macro_call", pretty(&redact(&hover, &path)));

    // Completion in the body offers the parameters, with their places;
    // in the rule they are not names.
    let items = |v: &Value| -> Vec<(String, String)> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                let s = |k: &str| i[k].as_str().unwrap_or("").to_string();
                (s("label"), s("detail"))
            })
            .collect()
    };
    let got = items(&c.request("textDocument/completion", at(MACROS, "L or", 0)));
    for want in [("x", "parameter 1 of 2"), ("L", "parameter 2 of 2")] {
        assert!(
            got.iter().any(|(l, d)| l == want.0 && d == want.1),
            "{want:?} in {got:?}"
        );
    }
    let got = items(&c.request("textDocument/completion", at(MACROS, "not image_in", 0)));
    assert!(got.iter().any(|(l, _)| l == "c"), "{got:?}");
    assert!(!got.iter().any(|(l, _)| l == "x" || l == "L"), "{got:?}");

    // Semantic tokens: parameters are variables, in the signature and the
    // body; the field under the rule's variable is not.
    let toks = c.request(
        "textDocument/semanticTokens/full",
        json!({"textDocument": {"uri": uri}}),
    );
    let legend = &init["capabilities"]["semanticTokensProvider"]["legend"]["tokenTypes"];
    let lines: Vec<&str> = MACROS.lines().collect();
    let (mut line, mut col) = (0usize, 0usize);
    let mut seen = Vec::new();
    let data: Vec<u64> = (toks["data"].as_array().into_iter().flatten())
        .filter_map(Value::as_u64)
        .collect();
    for t in data.chunks(5) {
        let (dl, ds, len, ty) = (t[0] as usize, t[1] as usize, t[2] as usize, t[3] as usize);
        col = if dl == 0 { col + ds } else { ds };
        line += dl;
        let word = lines[line].get(col..col + len).unwrap_or("?");
        seen.push(format!(
            "{line}:{word}:{}",
            legend[ty].as_str().unwrap_or("?")
        ));
    }
    for want in [
        "4:x:variable",
        "4:L:variable",
        "9:image:property",
        "9:allowed_registries:variable",
    ] {
        assert_eq!(
            seen.iter().filter(|s| s.as_str() == want).count(),
            if want.starts_with("4:x") {
                3
            } else if want.starts_with("4:L") {
                2
            } else {
                1
            },
            "{want} in {seen:?}"
        );
    }

    // Definition of a parameter use: the parameter in the signature.
    let def = c.request("textDocument/definition", at(MACROS, "x startswith", 0));
    assert_eq!(def["uri"], json!(uri));
    assert_eq!(def["range"]["start"], pos(MACROS, "x, L)", 0));
    assert_eq!(def["range"]["end"], pos(MACROS, "x, L)", 1));
    // References: the signature and both uses, nothing in the rule.
    let refs = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri}, "position": pos(MACROS, "registry(x)", 9), "context": {"includeDeclaration": true}}),
    );
    let starts: Vec<Value> = refs
        .as_array()
        .expect("locations")
        .iter()
        .map(|l| l["range"]["start"].clone())
        .collect();
    assert_eq!(
        starts,
        [
            pos(MACROS, "x, L)", 0),
            pos(MACROS, "registry(x)", 9),
            pos(MACROS, "x startswith", 0)
        ]
    );

    // While a macro is being typed (the file does not parse), its
    // parameters complete after the `=`.
    let typing =
        format!("{MACROS}\nmacro in_ns(ns, verbs) = verb in verbs and objectRef.namespace == \n");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": typing}]}),
    );
    let got = items(&c.request(
        "textDocument/completion",
        at(&typing, "namespace == \n", 13),
    ));
    for want in [("ns", "parameter 1 of 2"), ("verbs", "parameter 2 of 2")] {
        assert!(
            got.iter().any(|(l, d)| l == want.0 && d == want.1),
            "{want:?} in {got:?}"
        );
    }

    assert_eq!(c.request("shutdown", Value::Null), Value::Null);
    c.notify("exit", Value::Null);
    let status = c.child.wait().expect("exits");
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&ws);
}

/// What a macro call's expansion finds in the body, error or warning, is
/// published on the file of the call, its range the call's, with the body
/// (in the macro's own file) as related information; the macro's file has
/// nothing.
#[test]
fn findings_in_a_macro_body_are_published_at_the_call() {
    const M: &str = "source k8s.audit\nmacro bad(x) = x == 3\nmacro verb_is(v) = verb == v or verb == \"gett\"\n";
    const R: &str = "source k8s.audit\nrule r {\n  title \"R\"\n  when verb_is(\"get\") and bad(user.username)\n}\n";
    let ws = std::env::temp_dir().join(format!("ward-lsp-expansion-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&ws);
    std::fs::create_dir_all(&ws).expect("mkdir");
    let ws = ws.canonicalize().expect("canonical");
    std::fs::write(ws.join("m.ward"), M).expect("write");
    std::fs::write(ws.join("r.ward"), R).expect("write");
    let root = format!("file://{}", ws.display());

    let mut c = Client::start();
    c.request(
        "initialize",
        json!({"processId": null, "capabilities": {}, "workspaceFolders": [{"uri": root, "name": "ws"}]}),
    );
    c.notify("initialized", json!({}));
    let range = |text: &str, needle: &str| {
        let end = pos(text, needle, needle.len());
        json!({"start": pos(text, needle, 0), "end": end})
    };
    let diags = c.diagnostics("/r.ward");
    let got: Vec<Value> = (diags.as_array().into_iter().flatten())
        .map(|d| {
            let related: Vec<Value> = (d["relatedInformation"].as_array().into_iter().flatten())
                .map(|r| json!([r["location"]["uri"], r["location"]["range"], r["message"]]))
                .collect();
            json!([d["code"], d["range"], related])
        })
        .collect();
    let m = format!("{root}/m.ward");
    assert_eq!(
        got,
        [
            json!([
                "W003",
                range(R, "verb_is(\"get\")"),
                [[
                    m,
                    range(M, "\"gett\""),
                    "never seen in this field; in the body of macro `verb_is`, with v = \"get\""
                ]]
            ]),
            json!([
                "E021",
                range(R, "bad(user.username)"),
                [
                    [
                        m,
                        range(M, "3"),
                        "this is an int; in the body of macro `bad`, with x = user.username"
                    ],
                    [
                        m,
                        json!({"start": pos(M, "x == 3", 0), "end": pos(M, "x == 3", 1)}),
                        "this is a string"
                    ]
                ]
            ]),
        ]
    );
    assert_eq!(c.diagnostics("/m.ward"), json!([]));

    assert_eq!(c.request("shutdown", Value::Null), Value::Null);
    c.notify("exit", Value::Null);
    let status = c.child.wait().expect("exits");
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&ws);
}
