//! Secrets out of messages: every error text that can be stored (execution history, an
//! account's last test, the delivery log) or shown goes through [`redact_urls`] first, since
//! HTTP clients put the whole URL, query string and user info included, into their errors.

/// `text` with every URL in it (`scheme://…`) shown without its user info, query string and
/// fragment: `https://user:pw@api.example.com/v1?api_key=s3cret#x` → `https://api.example.com/v1`.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        out.push_str(&rest[..at + 3]);
        let after = &rest[at + 3..];
        let end =
            after.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`')).unwrap_or(after.len());
        let url = &after[..end];
        // A closing parenthesis after a URL in prose, "(see http://x/?a=1)", is not the URL's.
        let (url, close) = match url.strip_suffix(')') {
            Some(inner) if !inner.contains('(') => (inner, ")"),
            _ => (url, ""),
        };
        let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        let authority = &url[..authority_end];
        let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let path = &url[authority_end..];
        let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
        out.push_str(host);
        out.push_str(path);
        out.push_str(close);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_urls;

    #[test]
    fn urls_lose_user_info_query_and_fragment() {
        assert_eq!(
            redact_urls("error sending request for url (http://127.0.0.1:1/me?api_key=k-123&x=1)"),
            "error sending request for url (http://127.0.0.1:1/me)"
        );
        assert_eq!(redact_urls("https://ada:pw@example.com/a?token=s#frag done"), "https://example.com/a done");
        assert_eq!(redact_urls("GET https://example.com answered 500"), "GET https://example.com answered 500");
        assert_eq!(redact_urls("no url here: a?b=c"), "no url here: a?b=c");
        assert_eq!(redact_urls("\"wss://h/p?k=1\" and ftp://u@h"), "\"wss://h/p\" and ftp://h");
        assert_eq!(redact_urls("é https://x/?q=é"), "é https://x/");
    }
}
