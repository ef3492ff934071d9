//! Field paths into item JSON, as users type them in node parameters:
//! `address.city`, `tags[0]`, `["first name"]`, `orders[2].lines[0].sku`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Key(k) if is_identifier(k) => write!(f, ".{k}"),
            Segment::Key(k) => write!(f, "[{}]", serde_json::to_string(k).unwrap_or_default()),
            Segment::Index(i) => write!(f, "[{i}]"),
        }
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid field path {path:?} at character {at}: {reason}")]
pub struct PathError {
    pub path: String,
    pub at: usize,
    pub reason: &'static str,
}

/// Parses a field path. An empty path is an error: a field must be named.
pub fn parse(path: &str) -> Result<Vec<Segment>, PathError> {
    let err = |at: usize, reason| PathError { path: path.to_string(), at, reason };
    let bytes = path.as_bytes();
    let mut segments = Vec::new();
    let mut i = 0;
    if path.trim().is_empty() {
        return Err(err(0, "the path is empty"));
    }
    while i < bytes.len() {
        match bytes[i] {
            b'[' => {
                let close = path[i..].find(']').map(|j| i + j).ok_or_else(|| err(i, "'[' is not closed"))?;
                let inner = path[i + 1..close].trim();
                if let Some(quote) = inner.chars().next().filter(|c| *c == '"' || *c == '\'') {
                    // Quoted keys may contain ']' so find the matching quote first.
                    let start = path[i..].find(quote).map(|j| i + j).unwrap_or(i);
                    let end = path[start + 1..]
                        .find(quote)
                        .map(|j| start + 1 + j)
                        .ok_or_else(|| err(start, "quote is not closed"))?;
                    let after = path[end + 1..].trim_start();
                    if !after.starts_with(']') {
                        return Err(err(end + 1, "expected ']' after the quoted key"));
                    }
                    segments.push(Segment::Key(path[start + 1..end].to_string()));
                    i = path.len() - after.len() + 1;
                } else {
                    let index = inner.parse::<usize>().map_err(|_| err(i + 1, "an index must be a whole number"))?;
                    segments.push(Segment::Index(index));
                    i = close + 1;
                }
            }
            b'.' => {
                if i == 0 || i + 1 == bytes.len() || bytes[i + 1] == b'.' {
                    return Err(err(i, "a '.' must separate two names"));
                }
                i += 1;
                if bytes[i] == b'[' {
                    return Err(err(i, "use a[0] or a[\"key\"], not a.[...]"));
                }
            }
            _ => {
                let end = path[i..].find(['.', '[']).map_or(path.len(), |j| i + j);
                let key = path[i..end].trim();
                if key.is_empty() {
                    return Err(err(i, "a field name is empty"));
                }
                segments.push(Segment::Key(key.to_string()));
                i = end;
            }
        }
    }
    Ok(segments)
}

/// Formats segments back into a path string.
pub fn format(segments: &[Segment]) -> String {
    let mut out = String::new();
    for s in segments {
        out.push_str(&s.to_string());
    }
    out.strip_prefix('.').map(str::to_string).unwrap_or(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(
            parse("orders[2].lines[0].sku").unwrap(),
            vec![
                Segment::Key("orders".into()),
                Segment::Index(2),
                Segment::Key("lines".into()),
                Segment::Index(0),
                Segment::Key("sku".into()),
            ]
        );
        assert_eq!(
            parse(r#"["first name"].x"#).unwrap(),
            vec![Segment::Key("first name".into()), Segment::Key("x".into())]
        );
        assert_eq!(parse("a['b]c']").unwrap(), vec![Segment::Key("a".into()), Segment::Key("b]c".into())]);
    }

    #[test]
    fn rejects_bad_paths_with_position() {
        assert_eq!(parse("a..b").unwrap_err().at, 1);
        assert_eq!(parse("a[x]").unwrap_err().reason, "an index must be a whole number");
        assert!(parse("a[1").is_err());
        assert!(parse("").is_err());
        assert!(parse("a.").is_err());
    }

    #[test]
    fn formats_back() {
        assert_eq!(format(&parse(r#"a[0]["b c"].d"#).unwrap()), r#"a[0]["b c"].d"#);
    }
}
