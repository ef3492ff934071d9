//! Splitting parameter strings into text and `{{ … }}` expressions.

use switchyard_model::path::Segment;

#[derive(Debug, Clone, PartialEq)]
pub enum Part<'a> {
    Text(&'a str),
    /// An expression's source (between the braces) and its byte offset in the string.
    Expr(&'a str, usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {at})")]
pub struct TemplateError {
    pub message: String,
    pub at: usize,
}

/// Whether a string contains an expression at all.
pub fn has_expression(s: &str) -> bool {
    s.contains("{{")
}

/// Splits `s` into text and expressions. Inside an expression, braces and string literals
/// are balanced, so `{{ #{a: #{b: 1}} }}` and `{{ "}}" }}` work.
pub fn split(s: &str) -> Result<Vec<Part<'_>>, TemplateError> {
    let bytes = s.as_bytes();
    let mut parts = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'{' && bytes[i + 1] == b'{' {
            if i > text_start {
                parts.push(Part::Text(&s[text_start..i]));
            }
            let open = i;
            let end = find_close(s, i + 2).ok_or_else(|| TemplateError {
                message: "'{{' is not closed by '}}'".into(),
                at: s[..open].chars().count(),
            })?;
            let source = &s[open + 2..end];
            if source.trim().is_empty() {
                return Err(TemplateError { message: "the expression is empty".into(), at: s[..open].chars().count() });
            }
            parts.push(Part::Expr(source, open + 2));
            i = end + 2;
            text_start = i;
        } else {
            i += 1;
        }
    }
    if text_start < s.len() {
        parts.push(Part::Text(&s[text_start..]));
    }
    Ok(parts)
}

/// Finds the `}}` that closes an expression starting at `from`.
fn find_close(s: &str, from: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'{' => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b'}' if i + 1 < bytes.len() && bytes[i + 1] == b'}' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// A plain path into the current item (`json.a.b[0]`, `json["x y"]`), evaluated without the
/// script engine. Returns `None` for anything else.
pub fn as_item_path(source: &str) -> Option<Vec<Segment>> {
    let rest = source.trim().strip_prefix("json")?;
    if rest.is_empty() {
        return Some(Vec::new());
    }
    if !(rest.starts_with('.') || rest.starts_with('[')) {
        return None;
    }
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    let segments = switchyard_model::path::parse(rest).ok()?;
    // Only plain identifiers and literal indexes: `json.a-b` is arithmetic in a script.
    let plain = segments.iter().all(|s| match s {
        Segment::Key(k) => {
            !k.contains(|c: char| !(c.is_alphanumeric() || c == '_' || c == ' ' || c == '$' || c == '-'))
        }
        Segment::Index(_) => true,
    });
    let unquoted_ok =
        rest.split(['.', '[']).filter(|p| !p.is_empty() && !p.starts_with('"') && !p.starts_with('\'')).all(|p| {
            let p = p.trim_end_matches(']');
            p.chars().all(|c| c.is_ascii_digit()) || p.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        });
    (plain && unquoted_ok).then_some(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_expressions() {
        assert_eq!(
            split("Hello {{ json.name }}!").unwrap(),
            vec![Part::Text("Hello "), Part::Expr(" json.name ", 8), Part::Text("!")]
        );
        assert_eq!(split("{{ #{a: #{b: 1}} }}").unwrap(), vec![Part::Expr(" #{a: #{b: 1}} ", 2)]);
        assert_eq!(split(r#"{{ "}}" }}"#).unwrap(), vec![Part::Expr(r#" "}}" "#, 2)]);
        assert_eq!(split("no braces").unwrap(), vec![Part::Text("no braces")]);
    }

    #[test]
    fn reports_unclosed_and_empty() {
        assert_eq!(split("a {{ json.x").unwrap_err().at, 2);
        assert!(split("{{  }}").is_err());
    }

    #[test]
    fn recognises_plain_paths() {
        assert_eq!(as_item_path(" json.a.b[0] ").unwrap().len(), 3);
        assert_eq!(as_item_path("json[\"x y\"]").unwrap(), vec![Segment::Key("x y".into())]);
        assert!(as_item_path("json.a + 1").is_none());
        assert!(as_item_path("json.a-b").is_none());
        assert!(as_item_path("jsonx").is_none());
        assert!(as_item_path("json.len()").is_none());
        assert_eq!(as_item_path("json").unwrap(), vec![]);
    }
}
