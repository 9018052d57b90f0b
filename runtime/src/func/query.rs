//! Query parameters of a request URI, read as Go's `url.ParseQuery` (which
//! the Kubernetes API server uses) reads them.

/// The values of parameter `name` in `uri`'s query, URL-decoded, in order:
/// `command=sh&command=-c` gives both. Pairs are split at `&`; a pair
/// without `=` has the empty value; `+` is a space and `%XX` a byte. As in
/// Go, a pair holding a `;` or a malformed `%` escape is skipped. Decoded
/// bytes that are not UTF-8 become U+FFFD.
pub fn values(uri: &str, name: &str) -> Vec<String> {
    match uri.split_once('?') {
        Some((_, query)) => in_query(query, name),
        None => Vec::new(),
    }
}

/// [`values`] of a query string alone (what follows the `?`).
pub fn in_query(query: &str, name: &str) -> Vec<String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.contains(';'))
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = decode(k)?;
            let v = decode(v)?;
            (k == name).then_some(v)
        })
        .collect()
}

/// `+` to a space, `%XX` to its byte; `None` on a `%` without two hex digits.
fn decode(s: &str) -> Option<String> {
    if !s.contains(['%', '+']) {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
                let (hi, lo) = (hex(i + 1)?, hex(i + 2)?);
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::values;

    const EXEC: &str = "/api/v1/namespaces/x/pods/y/exec?command=sh&command=-c&command=cat%20%2Fetc%2Fshadow&container=c&stdin=true";

    #[test]
    fn repeated_parameters_in_order() {
        assert_eq!(values(EXEC, "command"), ["sh", "-c", "cat /etc/shadow"]);
        assert_eq!(values(EXEC, "container"), ["c"]);
        assert_eq!(values(EXEC, "stdin"), ["true"]);
    }

    #[test]
    fn missing_parameters_and_queries() {
        assert!(values(EXEC, "tty").is_empty());
        assert!(
            values(EXEC, "Command").is_empty(),
            "names are case-sensitive"
        );
        assert!(values("/api/v1/pods", "command").is_empty());
        assert!(values("/api/v1/pods?", "command").is_empty());
        assert!(values("", "command").is_empty());
    }

    #[test]
    fn plus_percent_and_empty_values() {
        assert_eq!(
            values("/x?c=a+b&c=a%20b&c=a%2Bb", "c"),
            ["a b", "a b", "a+b"]
        );
        assert_eq!(values("/x?c&c=&c==", "c"), ["", "", "="]);
        assert_eq!(values("/x?na%6De=v", "name"), ["v"], "keys are decoded too");
        assert_eq!(values("/x?c=%E2%9C%93&c=%ff", "c"), ["✓", "\u{FFFD}"]);
        assert_eq!(values("/x?a=1&&c=2&", "c"), ["2"]);
        assert_eq!(values("/x?c=1?c=2", "c"), ["1?c=2"]);
    }

    #[test]
    fn pairs_go_skips_are_skipped() {
        assert_eq!(values("/x?c=%zz&c=%4&c=%&c=ok", "c"), ["ok"]);
        assert_eq!(values("/x?c=a;b&c=ok;&c=fine", "c"), ["fine"]);
    }
}
