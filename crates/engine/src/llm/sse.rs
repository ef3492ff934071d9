//! Server-sent events as chat model servers stream them: `data:` lines, an empty line ends
//! an event; chunks may split lines (and UTF-8 characters) anywhere.

/// Turns a stream's bytes into the data of its events.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of a line not yet ended.
    line: Vec<u8>,
    /// Data lines of the event being read.
    data: Option<String>,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// Feeds a chunk; `on_event` gets each event's data (its `data:` lines joined by
    /// newlines) as soon as the empty line after it arrives.
    pub fn feed<E>(&mut self, chunk: &[u8], on_event: &mut impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            self.line.extend_from_slice(&rest[..end]);
            rest = &rest[end + 1..];
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.line_done(&line, on_event)?;
        }
        self.line.extend_from_slice(rest);
        Ok(())
    }

    /// The stream ended: an event whose closing empty line never came is still handed on
    /// (some servers end with `data: [DONE]` and close).
    pub fn finish<E>(&mut self, on_event: &mut impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, on_event)?;
        }
        match self.data.take() {
            Some(data) => on_event(&data),
            None => Ok(()),
        }
    }

    fn line_done<E>(&mut self, line: &[u8], on_event: &mut impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
        if line.is_empty() {
            return match self.data.take() {
                Some(data) => on_event(&data),
                None => Ok(()),
            };
        }
        let text = String::from_utf8_lossy(line);
        // Comments (`: keep-alive`) and other fields (`event:`, `id:`, `retry:`) carry no data.
        if let Some(value) = text.strip_prefix("data:") {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<String> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        let mut push = |d: &str| -> Result<(), ()> {
            out.push(d.to_string());
            Ok(())
        };
        for chunk in chunks {
            parser.feed(chunk, &mut push).unwrap();
        }
        parser.finish(&mut push).unwrap();
        out
    }

    #[test]
    fn lines_split_anywhere_still_make_whole_events() {
        let whole =
            "data: {\"a\":1}\n\n: keep-alive\n\ndata: caf\u{e9}\r\n\r\nevent: x\ndata: one\ndata: two\n\ndata: [DONE]";
        let bytes = whole.as_bytes();
        let expected = vec!["{\"a\":1}", "café", "one\ntwo", "[DONE]"];
        assert_eq!(events(&[bytes]), expected);
        // Every split point, including inside the two bytes of "é".
        for cut in 0..bytes.len() {
            assert_eq!(events(&[&bytes[..cut], &bytes[cut..]]), expected, "cut at {cut}");
        }
        let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(events(&one_by_one), expected);
    }
}
