//! Line and column of every value in a JSON text, by JSONPath, so that validation errors can
//! point into the file the user wrote.

use crate::path::Segment;
use std::collections::HashMap;

/// JSONPath of a value: `$`, `$.nodes[2].parameters.url`, `$.pinData["my node"]`.
pub fn json_path(segments: &[Segment]) -> String {
    let mut out = String::from("$");
    for s in segments {
        out.push_str(&s.to_string());
    }
    out
}

/// Positions (1-based line and column) of chosen values in a JSON text.
///
/// Only the values on the paths asked for (and their ancestors) are located, in one pass
/// that keeps no path strings: memory is bounded by the paths asked for, whatever the text
/// holds (a long key over many array elements once cost gigabytes as full path strings).
#[derive(Debug, Default)]
pub struct Locations {
    wanted: Vec<Want>,
}

/// A node of the tree of wanted paths.
#[derive(Debug, Default)]
struct Want {
    keys: HashMap<String, usize>,
    indexes: HashMap<usize, usize>,
    pos: Option<(u32, u32)>,
}

/// The segments of a JSONPath as [`json_path`] writes it (`$.nodes[2]["a b"]`).
fn segments(path: &str) -> Vec<Segment> {
    let rest = path.strip_prefix('$').unwrap_or(path);
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    if rest.is_empty() {
        return Vec::new();
    }
    crate::path::parse(rest).unwrap_or_default()
}

impl Locations {
    /// Scans `text`, which should be valid JSON (scanning stops quietly at anything else),
    /// for the values at `paths` and their ancestors.
    pub fn scan<'p>(text: &str, paths: impl IntoIterator<Item = &'p str>) -> Locations {
        let mut wanted = vec![Want::default()];
        for path in paths {
            let mut at = 0;
            for segment in segments(path) {
                let next = wanted.len();
                let child = match segment {
                    Segment::Key(k) => *wanted[at].keys.entry(k).or_insert(next),
                    Segment::Index(i) => *wanted[at].indexes.entry(i).or_insert(next),
                };
                if child == next {
                    wanted.push(Want::default());
                }
                at = child;
            }
        }
        let mut scanner = Scanner::new(text, wanted, None);
        scanner.skip_ws();
        scanner.value(Some(0));
        Locations { wanted: scanner.wanted }
    }

    /// The position of the value at `path` (one of those scanned for), or of its nearest
    /// ancestor that exists.
    pub fn find(&self, path: &str) -> Option<(u32, u32)> {
        let mut at = 0;
        let mut found = self.wanted.first()?.pos;
        for segment in segments(path) {
            let next = match segment {
                Segment::Key(k) => self.wanted[at].keys.get(&k),
                Segment::Index(i) => self.wanted[at].indexes.get(&i),
            };
            let Some(&next) = next else { break };
            match self.wanted[next].pos {
                Some(pos) => found = Some(pos),
                None => break,
            }
            at = next;
        }
        found
    }
}

/// A key given twice in one JSON object (parsers keep the last one silently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The JSONPath of the repeated member.
    pub path: String,
    /// Where the key stands first and again (line, column).
    pub first: (u32, u32),
    pub again: (u32, u32),
}

/// Every key given twice in one object of `text` (valid JSON), in text order.
pub fn duplicate_keys(text: &str) -> Vec<DuplicateKey> {
    let mut scanner = Scanner::new(text, Vec::new(), Some(Duplicates::default()));
    scanner.skip_ws();
    scanner.value(None);
    scanner.duplicates.map(|d| d.found).unwrap_or_default()
}

/// The duplicate-key search's state: the path to the current value, and what it found.
#[derive(Default)]
struct Duplicates {
    path: Vec<Segment>,
    found: Vec<DuplicateKey>,
}

struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
    line: u32,
    col: u32,
    wanted: Vec<Want>,
    duplicates: Option<Duplicates>,
}

impl Scanner<'_> {
    fn new(text: &str, wanted: Vec<Want>, duplicates: Option<Duplicates>) -> Scanner<'_> {
        Scanner { text: text.as_bytes(), pos: 0, line: 1, col: 1, wanted, duplicates }
    }

    /// Runs `read` for a member or element at `segment` (tracked only when looking for
    /// duplicate keys, the one search that needs the whole path).
    fn within(&mut self, segment: impl FnOnce() -> Segment, read: impl FnOnce(&mut Self) -> bool) -> bool {
        if let Some(d) = self.duplicates.as_mut() {
            d.path.push(segment());
        }
        let ok = read(self);
        if let Some(d) = self.duplicates.as_mut() {
            d.path.pop();
        }
        ok
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn bump(&mut self) {
        if let Some(b) = self.peek() {
            self.pos += 1;
            if b == b'\n' {
                self.line += 1;
                self.col = 1;
            } else if b & 0xC0 != 0x80 {
                // Count characters, not UTF-8 continuation bytes.
                self.col += 1;
            }
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.bump();
        }
    }

    /// Reads one value; `want` is its node in the tree of wanted paths, if it is on one.
    fn value(&mut self, want: Option<usize>) -> bool {
        if let Some(w) = want {
            self.wanted[w].pos = Some((self.line, self.col));
        }
        match self.peek() {
            Some(b'{') => self.object(want),
            Some(b'[') => self.array(want),
            Some(b'"') => self.string(false).is_some(),
            Some(_) => {
                while matches!(self.peek(), Some(b) if !matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                {
                    self.bump();
                }
                true
            }
            None => false,
        }
    }

    /// Reads a string; decodes it only when `decode` (keys on a wanted path). `None` at
    /// the end of the text or when it does not decode.
    fn string(&mut self, decode: bool) -> Option<String> {
        let start = self.pos + 1;
        self.bump();
        loop {
            match self.peek()? {
                b'\\' => {
                    self.bump();
                    self.bump();
                }
                b'"' => {
                    let raw = &self.text[start..self.pos];
                    self.bump();
                    if !decode {
                        return Some(String::new());
                    }
                    let raw = std::str::from_utf8(raw).ok()?;
                    if !raw.contains('\\') {
                        return Some(raw.to_string());
                    }
                    return serde_json::from_str(&format!("\"{raw}\"")).ok();
                }
                _ => self.bump(),
            }
        }
    }

    fn object(&mut self, want: Option<usize>) -> bool {
        self.bump();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.bump();
            return true;
        }
        let look = want.filter(|w| !self.wanted[*w].keys.is_empty());
        let mut seen: HashMap<String, (u32, u32)> = HashMap::new();
        loop {
            self.skip_ws();
            let at = (self.line, self.col);
            let Some(key) = self.string(look.is_some() || self.duplicates.is_some()) else { return false };
            if let Some(d) = self.duplicates.as_mut() {
                match seen.get(&key) {
                    Some(&first) => {
                        d.path.push(Segment::Key(key.clone()));
                        d.found.push(DuplicateKey { path: json_path(&d.path), first, again: at });
                        d.path.pop();
                    }
                    None => {
                        seen.insert(key.clone(), at);
                    }
                }
            }
            self.skip_ws();
            if self.peek() != Some(b':') {
                return false;
            }
            self.bump();
            self.skip_ws();
            let child = look.and_then(|w| self.wanted[w].keys.get(&key).copied());
            if !self.within(|| Segment::Key(key), |s| s.value(child)) {
                return false;
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b'}') => {
                    self.bump();
                    return true;
                }
                _ => return false,
            }
        }
    }

    fn array(&mut self, want: Option<usize>) -> bool {
        self.bump();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.bump();
            return true;
        }
        let mut index = 0;
        loop {
            self.skip_ws();
            let child = want.and_then(|w| self.wanted[w].indexes.get(&index).copied());
            if !self.within(|| Segment::Index(index), |s| s.value(child)) {
                return false;
            }
            index += 1;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b']') => {
                    self.bump();
                    return true;
                }
                _ => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values() {
        let text = "{\n  \"nodes\": [\n    {\"id\": \"a\", \"parameters\": {\"url\": 5}},\n    {\"n é\": true}\n  ]\n}";
        let paths =
            ["$", "$.nodes", "$.nodes[0].parameters.url", "$.nodes[1][\"n é\"]", "$.nodes[0].parameters.method"];
        let loc = Locations::scan(text, paths);
        assert_eq!(loc.find("$"), Some((1, 1)));
        assert_eq!(loc.find("$.nodes"), Some((2, 12)));
        assert_eq!(loc.find("$.nodes[0].parameters.url"), Some((3, 39)));
        assert_eq!(loc.find("$.nodes[1][\"n é\"]"), Some((4, 13)));
        // Missing keys fall back to the nearest existing ancestor.
        assert_eq!(loc.find("$.nodes[0].parameters.method"), Some((3, 31)));
        // Ancestors of the paths scanned for are located too; other paths fall back.
        assert_eq!(loc.find("$.nodes[1]"), Some((4, 5)));
        assert_eq!(loc.find("$.nodes[0].id"), Some((3, 5)));
    }

    #[test]
    fn finds_duplicate_keys_with_both_places() {
        let text = "{\"a\": 1,\n \"nodes\": [{\"id\": \"x\", \"id\": \"y\"}],\n \"a\": 2}";
        let found = duplicate_keys(text);
        assert_eq!(
            found,
            vec![
                DuplicateKey { path: "$.nodes[0].id".into(), first: (2, 13), again: (2, 24) },
                DuplicateKey { path: "$.a".into(), first: (1, 2), again: (3, 2) },
            ]
        );
        assert!(duplicate_keys("{\"a\": {\"b\": 1}, \"c\": {\"b\": 2}}").is_empty());
    }

    #[test]
    fn a_long_key_over_many_elements_costs_no_path_strings() {
        let key = "k".repeat(100_000);
        let text = format!("{{\"{key}\": [{}0]}}", "0,".repeat(100_000));
        let path = format!("$.{key}[99999]");
        let loc = Locations::scan(&text, [path.as_str()]);
        assert_eq!(loc.find(&path), Some((1, 100_007 + 2 * 99_999)));
        assert!(loc.wanted.len() <= 3);
    }
}
