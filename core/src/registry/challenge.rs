//! `WWW-Authenticate` challenges (RFC 7235), as registries send them.

use std::collections::BTreeMap;

/// One `WWW-Authenticate` challenge: scheme (lower-case) and parameters (keys lower-case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// Parses a `WWW-Authenticate` value (RFC 7235): one or more challenges, each a scheme and
/// comma-separated `name=token` or `name="quoted \"string\""` parameters.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let b = header.as_bytes();
    let mut i = 0;
    let mut out: Vec<Challenge> = Vec::new();
    let is_tchar = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t' || b[*i] == b',') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && is_tchar(b[i]) {
            i += 1;
        }
        if i == start {
            i += 1;
            continue;
        }
        let token = &header[start..i];
        // Peek: `token =` is a parameter of the current challenge, else a new scheme.
        let mut j = i;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        if j < b.len() && b[j] == b'=' && !out.is_empty() {
            // token68 (`Basic abc==`) has '=' at the end too; a parameter has a value.
            j += 1;
            while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                j += 1;
            }
            let value = if j < b.len() && b[j] == b'"' {
                j += 1;
                // Bytes, then UTF-8: a quoted value may hold any UTF-8 (a realm in
                // another script); pushing each byte as a char would mangle it.
                let mut v = Vec::new();
                while j < b.len() && b[j] != b'"' {
                    if b[j] == b'\\' && j + 1 < b.len() {
                        j += 1;
                    }
                    v.push(b[j]);
                    j += 1;
                }
                j += 1;
                String::from_utf8_lossy(&v).into_owned()
            } else {
                let s = j;
                while j < b.len() && b[j] != b',' && b[j] != b' ' {
                    j += 1;
                }
                header[s..j].to_string()
            };
            i = j;
            if let Some(c) = out.last_mut() {
                c.params.insert(token.to_ascii_lowercase(), value);
            }
        } else {
            out.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: BTreeMap::new(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic_challenges() {
        let c = parse_challenges(
            r#"Bearer realm="https://g.example/v2/token",service="container_registry",scope="*""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].params["realm"], "https://g.example/v2/token");
        assert_eq!(c[0].params["service"], "container_registry");
        assert_eq!(c[0].params["scope"], "*");
        let c = parse_challenges(
            r#"Basic realm="Registry Realm", Bearer realm="https://a/token",scope="repository:x/y:pull,push", error="invalid_token""#,
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].params["realm"], "Registry Realm");
        assert_eq!(c[1].params["scope"], "repository:x/y:pull,push");
        assert_eq!(c[1].params["error"], "invalid_token");
        let c = parse_challenges(r#"Bearer realm="a\"b", service=tok"#);
        assert_eq!(c[0].params["realm"], "a\"b");
        assert_eq!(c[0].params["service"], "tok");
    }

    #[test]
    fn quoted_values_keep_their_utf8() {
        let c = parse_challenges(
            "Bearer realm=\"https://reg.example/token\",service=\"Registre numéro 1 — 東京\"",
        );
        assert_eq!(c[0].params["service"], "Registre numéro 1 — 東京");
        assert_eq!(c[0].params["realm"], "https://reg.example/token");
    }
}
