//! Output templates: `"{user.username} ran {requestURI}"`, with `{{` and
//! `}}` for literal braces. Shared by the checker and the alert renderer.

/// One piece of a template, with byte offsets into the decoded string.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Text(String),
    /// The text between braces, trimmed, and where it starts.
    Field {
        path: String,
        at: usize,
    },
}

/// A `{` without its `}`, at this offset.
#[derive(Clone, Debug, PartialEq)]
pub struct Unclosed(pub usize);

pub fn parse(template: &str) -> Result<Vec<Piece>, Unclosed> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = template.char_indices().peekable();
    while let Some((i, c)) = rest.next() {
        match c {
            '{' if rest.peek().map(|x| x.1) == Some('{') => {
                rest.next();
                text.push('{');
            }
            '}' if rest.peek().map(|x| x.1) == Some('}') => {
                rest.next();
                text.push('}');
            }
            '{' => {
                let close = template[i..].find('}').map(|c| i + c).ok_or(Unclosed(i))?;
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                let inner = &template[i + 1..close];
                let lead = inner.len() - inner.trim_start().len();
                pieces.push(Piece::Field {
                    path: inner.trim().to_string(),
                    at: i + 1 + lead,
                });
                while rest.peek().is_some_and(|(j, _)| *j <= close) {
                    rest.next();
                }
            }
            other => text.push(other),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces() {
        let p = parse("{{x}} by { user.username }: {a.\"b/c\"}").expect("parses");
        assert_eq!(
            p,
            [
                Piece::Text("{x} by ".into()),
                Piece::Field {
                    path: "user.username".into(),
                    at: 11
                },
                Piece::Text(": ".into()),
                Piece::Field {
                    path: "a.\"b/c\"".into(),
                    at: 29
                },
            ]
        );
        assert_eq!(parse("a {b"), Err(Unclosed(2)));
        assert_eq!(
            parse("é{x}"),
            Ok(vec![
                Piece::Text("é".into()),
                Piece::Field {
                    path: "x".into(),
                    at: 3
                }
            ])
        );
    }
}
