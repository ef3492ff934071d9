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

/// Positions (1-based line and column) of the values in a JSON text.
#[derive(Debug, Default)]
pub struct Locations {
    positions: HashMap<String, (u32, u32)>,
}

impl Locations {
    /// Scans `text`, which should be valid JSON; scanning stops quietly at anything else.
    pub fn scan(text: &str) -> Locations {
        let mut scanner = Scanner { text: text.as_bytes(), pos: 0, line: 1, col: 1, out: HashMap::new() };
        let mut path = Vec::new();
        scanner.skip_ws();
        scanner.value(&mut path);
        Locations { positions: scanner.out }
    }

    /// The position of the value at `path`, or of its nearest ancestor that exists.
    pub fn find(&self, path: &str) -> Option<(u32, u32)> {
        let mut p = path;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return Some(*pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
    line: u32,
    col: u32,
    out: HashMap<String, (u32, u32)>,
}

impl Scanner<'_> {
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

    fn value(&mut self, path: &mut Vec<Segment>) -> bool {
        self.out.insert(json_path(path), (self.line, self.col));
        match self.peek() {
            Some(b'{') => self.object(path),
            Some(b'[') => self.array(path),
            Some(b'"') => self.string().is_some(),
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

    fn string(&mut self) -> Option<String> {
        let start = self.pos + 1;
        self.bump();
        loop {
            match self.peek()? {
                b'\\' => {
                    self.bump();
                    self.bump();
                }
                b'"' => {
                    let raw = std::str::from_utf8(&self.text[start..self.pos]).ok()?;
                    self.bump();
                    let quoted = format!("\"{raw}\"");
                    return serde_json::from_str(&quoted).ok();
                }
                _ => self.bump(),
            }
        }
    }

    fn object(&mut self, path: &mut Vec<Segment>) -> bool {
        self.bump();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.bump();
            return true;
        }
        loop {
            self.skip_ws();
            let Some(key) = self.string() else { return false };
            self.skip_ws();
            if self.peek() != Some(b':') {
                return false;
            }
            self.bump();
            self.skip_ws();
            path.push(Segment::Key(key));
            let ok = self.value(path);
            path.pop();
            if !ok {
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

    fn array(&mut self, path: &mut Vec<Segment>) -> bool {
        self.bump();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.bump();
            return true;
        }
        let mut index = 0;
        loop {
            self.skip_ws();
            path.push(Segment::Index(index));
            let ok = self.value(path);
            path.pop();
            if !ok {
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
        let loc = Locations::scan(text);
        assert_eq!(loc.find("$"), Some((1, 1)));
        assert_eq!(loc.find("$.nodes"), Some((2, 12)));
        assert_eq!(loc.find("$.nodes[0].parameters.url"), Some((3, 39)));
        assert_eq!(loc.find("$.nodes[1][\"n é\"]"), Some((4, 13)));
        // Missing keys fall back to the nearest existing ancestor.
        assert_eq!(loc.find("$.nodes[0].parameters.method"), Some((3, 31)));
    }
}
