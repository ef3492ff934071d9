//! The hosts an account's credentials may be sent to. A rule is a host name or IP
//! (`api.github.com`, `127.0.0.1`, `[::1]`), optionally with a port (`127.0.0.1:9999`: only that
//! port; without one, any port), or `*.` and a domain (`*.googleapis.com`: its subdomains at any
//! depth, not the domain itself). Names compare without case and without a trailing dot.

/// A rule in its one written form, or why `text` is not one. A URL is accepted and reduced to
/// its host and port (`https://api.example.com/v1` → `api.example.com`).
pub fn normalize_rule(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    let (authority, default_port) = match trimmed.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = &rest[..end];
            let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
            (authority, default_port(scheme))
        }
        None => (trimmed, None),
    };
    let (host, port) = split_port(authority).ok_or_else(|| format!("\"{trimmed}\" is not a host name"))?;
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Err("a host cannot be empty".into());
    }
    let name = host.strip_prefix("*.").unwrap_or(&host);
    if name.is_empty() || name.contains('*') {
        return Err(format!(
            "\"{trimmed}\": a wildcard is only allowed as \"*.\" before a domain (an account cannot be allowed every host)"
        ));
    }
    let is_ipv6 = host.starts_with('[');
    if !is_ipv6 && !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_') {
        return Err(format!("\"{trimmed}\" holds characters a host name cannot have"));
    }
    Ok(label(&host, port, default_port))
}

/// A host name as rules compare it: lowercase, no trailing dot, an IPv6 address in brackets.
fn host_name(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host }
}

/// How a host is named in rules and messages: lowercase, `:port` only when it is not the
/// scheme's default.
pub fn label(host: &str, port: Option<u16>, default_port: Option<u16>) -> String {
    let host = host_name(host);
    match port {
        Some(p) if Some(p) != default_port => format!("{host}:{p}"),
        _ => host,
    }
}

/// The port a scheme uses when a URL names none.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// `host` and its port from `host`, `host:port`, `[v6]` or `[v6]:port`.
pub fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, rest) = authority.split_at(close + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Some((host, Some(port.parse().ok()?))),
            None if rest.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match authority.split_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((authority, None)),
    }
}

/// Whether `rule` lets credentials go to `host` on `port` (the port the request uses).
pub fn rule_matches(rule: &str, host: &str, port: u16) -> bool {
    let Some((rule_host, rule_port)) = split_port(rule) else { return false };
    if rule_port.is_some_and(|p| p != port) {
        return false;
    }
    let host = host_name(host);
    match rule_host.strip_prefix("*.") {
        Some(domain) => {
            host.len() > domain.len() + 1 && host.ends_with(domain) && {
                let cut = host.len() - domain.len();
                host.as_bytes()[cut - 1] == b'.'
            }
        }
        None => host == rule_host,
    }
}

/// Whether any of `rules` allows `host` on `port` (the port the request really uses).
pub fn allowed(rules: &[String], host: &str, port: u16) -> bool {
    rules.iter().any(|rule| rule_matches(rule, host, port))
}

/// The host a URL parameter names when it can be known before the run: its scheme and host
/// are literal text (`https://api.example.com/users/{{ json.id }}` names `api.example.com`;
/// `{{ json.url }}` names none).
pub fn static_host(url_text: &str) -> Option<String> {
    let text = url_text.trim();
    let (scheme, rest) = text.split_once("://")?;
    if scheme.contains("{{") || !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.contains("{{") || (end == rest.len() && rest.contains("{{")) {
        return None;
    }
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let (host, port) = split_port(authority)?;
    if host.is_empty() {
        return None;
    }
    Some(label(host, port, default_port(scheme)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_written_one_way() {
        assert_eq!(normalize_rule(" API.GitHub.com. ").unwrap(), "api.github.com");
        assert_eq!(normalize_rule("https://api.example.com:443/v1?x=1").unwrap(), "api.example.com");
        assert_eq!(normalize_rule("http://127.0.0.1:9999/hook").unwrap(), "127.0.0.1:9999");
        assert_eq!(normalize_rule("*.GoogleAPIs.com").unwrap(), "*.googleapis.com");
        assert_eq!(normalize_rule("[::1]:8080").unwrap(), "[::1]:8080");
        for bad in ["", "*", "*.", "a*.b", "exa mple.com", "host:port", "[::1"] {
            assert!(normalize_rule(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rules_match_hosts_ports_and_subdomains() {
        let rules = vec!["api.github.com".to_string(), "127.0.0.1:9999".into(), "*.googleapis.com".into()];
        assert!(allowed(&rules, "API.github.com", 443));
        assert!(allowed(&rules, "api.github.com", 8443), "no port in the rule: any port");
        assert!(allowed(&rules, "127.0.0.1", 9999));
        assert!(!allowed(&rules, "127.0.0.1", 9998));
        assert!(allowed(&rules, "sheets.googleapis.com", 443));
        assert!(allowed(&rules, "a.b.googleapis.com", 443));
        assert!(!allowed(&rules, "googleapis.com", 443));
        assert!(!allowed(&rules, "evilgoogleapis.com", 443));
        assert!(!allowed(&rules, "api.github.com.evil.example", 443));
        assert!(allowed(&["[::1]".to_string()], "::1", 80));
    }

    #[test]
    fn static_hosts_are_read_from_literal_urls_only() {
        assert_eq!(static_host("https://api.example.com/users/{{ json.id }}").as_deref(), Some("api.example.com"));
        assert_eq!(static_host("http://127.0.0.1:9999/x").as_deref(), Some("127.0.0.1:9999"));
        assert_eq!(static_host("http://user:pw@Example.com:80").as_deref(), Some("example.com"));
        assert_eq!(static_host("{{ json.url }}"), None);
        assert_eq!(static_host("https://{{ json.host }}/x"), None);
        assert_eq!(static_host("https://api.{{ json.region }}.example.com/x"), None);
        assert_eq!(static_host("ftp://example.com"), None);
    }
}
