//! Plain dotenv files, parsed by dotenv's rules and never by a shell (docs/decisions/0014).
//!
//! The rules are python-dotenv's, the most widely documented ones:
//! - `KEY=value` lines; blank lines and `#` comment lines are skipped; an `export ` prefix
//!   is allowed; spaces around `=` are allowed.
//! - Unquoted values end at the end of the line or at a ` #` comment, trimmed.
//! - `'single'` quoted values are literal: no escapes, no expansion; they may span lines.
//! - `"double"` quoted values may span lines and take the escapes `\n \r \t \" \\ \' \$`.
//! - `${VAR}` and `${VAR:-default}` expand in unquoted and double-quoted values (from the
//!   keys above in the same file, then the environment; an unset variable is empty). A bare
//!   `$VAR`, `$(command)` and backticks are text: nothing is ever run.
//! - A later line with the same key replaces the value.
//!
//! A syntax error names the file and the line, never the line's text: it may hold a secret.

use super::redact::SecretString;
use crate::error::{Error, Result};

/// Parses dotenv `text`. `origin` names it in errors (a file path); `env` looks up a
/// variable that `${VAR}` names and the file does not define.
pub fn parse(
    text: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, SecretString)>> {
    let mut p = Parser {
        s: text.strip_prefix('\u{feff}').unwrap_or(text).as_bytes(),
        i: 0,
        line: 1,
        origin,
        out: Vec::new(),
        env,
    };
    p.run()?;
    Ok(p.out)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    line: usize,
    origin: &'a str,
    out: Vec<(String, SecretString)>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

fn is_key_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.'
}

impl Parser<'_> {
    fn err(&self, line: usize, what: &str) -> Error {
        Error::invalid(format!(
            "{} line {line}: {what} (the line's text is not shown: it may hold a secret)",
            self.origin
        ))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_blank(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// At a line end (`\n`, `\r\n`) or the end of the text.
    fn at_eol(&self) -> bool {
        match self.peek() {
            None | Some(b'\n') => true,
            Some(b'\r') => matches!(self.s.get(self.i + 1), None | Some(b'\n')),
            _ => false,
        }
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.peek() {
            self.i += 1;
            if c == b'\n' {
                self.line += 1;
                return;
            }
        }
    }

    fn run(&mut self) -> Result<()> {
        loop {
            self.skip_blank();
            match self.peek() {
                None => return Ok(()),
                Some(b'#') => self.skip_line(),
                _ if self.at_eol() => self.skip_line(),
                _ => self.assignment()?,
            }
        }
    }

    fn assignment(&mut self) -> Result<()> {
        let line = self.line;
        if self.s[self.i..].starts_with(b"export")
            && matches!(self.s.get(self.i + 6), Some(b' ' | b'\t'))
        {
            self.i += 6;
            self.skip_blank();
        }
        let start = self.i;
        if !self.peek().is_some_and(is_key_start) {
            return Err(self.err(line, "a key must start with a letter or '_'"));
        }
        while self.peek().is_some_and(is_key_char) {
            self.i += 1;
        }
        let key = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        self.skip_blank();
        if self.peek() != Some(b'=') {
            return Err(self.err(
                line,
                "expected '=' after the key (keys hold only letters, digits, '_' and '.')",
            ));
        }
        self.i += 1;
        self.skip_blank();
        let value = match self.peek() {
            Some(b'\'') => self.single_quoted(line)?,
            Some(b'"') => self.double_quoted(line)?,
            _ => return self.unquoted(key),
        };
        self.skip_blank();
        if !self.at_eol() && self.peek() != Some(b'#') {
            return Err(self.err(line, "unexpected text after the closing quote"));
        }
        self.skip_line();
        self.set(key, value);
        Ok(())
    }

    fn set(&mut self, key: String, value: String) {
        let value = SecretString::new(value);
        match self.out.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.out.push((key, value)),
        }
    }

    fn single_quoted(&mut self, line: usize) -> Result<String> {
        self.i += 1;
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == b'\'' {
                let v = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                return Ok(v);
            }
            if c == b'\n' {
                self.line += 1;
            }
            self.i += 1;
        }
        Err(self.err(line, "a single-quoted value opened here is never closed"))
    }

    fn double_quoted(&mut self, line: usize) -> Result<String> {
        self.i += 1;
        let mut v = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(String::from_utf8_lossy(&v).into_owned());
                }
                b'\\' => {
                    let e = self.s.get(self.i + 1).copied();
                    match e {
                        Some(b'n') => v.push(b'\n'),
                        Some(b'r') => v.push(b'\r'),
                        Some(b't') => v.push(b'\t'),
                        Some(b @ (b'"' | b'\\' | b'\'' | b'$')) => v.push(b),
                        _ => {
                            // An unknown escape stays as written, like python-dotenv's.
                            v.push(b'\\');
                            self.i += 1;
                            continue;
                        }
                    }
                    self.i += 2;
                }
                b'$' => self.expand(&mut v),
                _ => {
                    if c == b'\n' {
                        self.line += 1;
                    }
                    v.push(c);
                    self.i += 1;
                }
            }
        }
        Err(self.err(line, "a double-quoted value opened here is never closed"))
    }

    fn unquoted(&mut self, key: String) -> Result<()> {
        let start = self.i;
        let mut end = start;
        while !self.at_eol() {
            let c = self.s[self.i];
            if c == b'#' && self.i > start && matches!(self.s[self.i - 1], b' ' | b'\t') {
                break;
            }
            self.i += 1;
            end = self.i;
        }
        let raw = &self.s[start..end];
        let trimmed_len = raw
            .iter()
            .rposition(|c| !matches!(c, b' ' | b'\t'))
            .map_or(0, |p| p + 1);
        let raw = &raw[..trimmed_len];
        let mut v = Vec::with_capacity(raw.len());
        let saved = (self.s, self.i);
        // Expand within the value only: point the cursor at it.
        self.s = raw;
        self.i = 0;
        while let Some(c) = self.peek() {
            if c == b'$' {
                self.expand(&mut v);
            } else {
                v.push(c);
                self.i += 1;
            }
        }
        (self.s, self.i) = saved;
        self.skip_line();
        self.set(key, String::from_utf8_lossy(&v).into_owned());
        Ok(())
    }

    /// At a `$`: `${NAME}` or `${NAME:-default}` expands; anything else is the `$` itself.
    fn expand(&mut self, v: &mut Vec<u8>) {
        let rest = &self.s[self.i..];
        if let Some(body) = rest.strip_prefix(b"${") {
            if let Some(close) = body.iter().position(|&c| c == b'}') {
                let inner = &body[..close];
                let (name, default) = match inner.windows(2).position(|w| w == b":-") {
                    Some(p) => (&inner[..p], Some(&inner[p + 2..])),
                    None => (inner, None),
                };
                let valid = name.first().is_some_and(|&c| is_key_start(c))
                    && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_');
                let no_newline = !inner.contains(&b'\n');
                if valid && no_newline {
                    let name = String::from_utf8_lossy(name);
                    let found = self
                        .out
                        .iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| v.expose().to_owned())
                        .or_else(|| (self.env)(&name))
                        .filter(|s| !s.is_empty() || default.is_none());
                    match (found, default) {
                        (Some(s), _) => v.extend_from_slice(s.as_bytes()),
                        (None, Some(d)) => v.extend_from_slice(d),
                        (None, None) => {}
                    }
                    self.i += 2 + close + 1;
                    return;
                }
            }
        }
        v.push(b'$');
        self.i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOME_DIR").then(|| "/home/me".to_owned())
    }

    fn p(text: &str) -> Vec<(String, String)> {
        parse(text, "test.env", &env)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.expose().to_owned()))
            .collect()
    }

    fn one(text: &str) -> String {
        let v = p(text);
        assert_eq!(v.len(), 1, "{v:?}");
        v[0].1.clone()
    }

    #[test]
    fn shell_syntax_is_text() {
        assert_eq!(one("X=$(rm -rf ~)"), "$(rm -rf ~)");
        assert_eq!(one("X=\"$(rm -rf ~)\""), "$(rm -rf ~)");
        assert_eq!(one("X=`id`; rm -rf ~"), "`id`; rm -rf ~");
        assert_eq!(one("X=$HOME_DIR"), "$HOME_DIR");
        assert_eq!(one("X='${HOME_DIR}'"), "${HOME_DIR}");
    }

    #[test]
    fn quotes_escapes_comments_export() {
        let v = p(
            "# comment\n\nexport A=1\nB = two words  # trailing\nC='a # b'\n\
             D=\"x\\ny\\t\\\"q\\\" \\$5\"\nE=a#b\nF=\nG=\"\" # c\n",
        );
        let want = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "a # b"),
            ("D", "x\ny\t\"q\" $5"),
            ("E", "a#b"),
            ("F", ""),
            ("G", ""),
        ];
        assert_eq!(v, want.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec());
    }

    #[test]
    fn multiline_and_crlf() {
        let v = p("K=\"-----BEGIN-----\nabc\n-----END-----\"\r\nL='x\ny'\r\nM=z\r\n");
        assert_eq!(v[0].1, "-----BEGIN-----\nabc\n-----END-----");
        assert_eq!(v[1].1, "x\ny");
        assert_eq!(v[2].1, "z");
    }

    #[test]
    fn expansion_where_dotenv_expands() {
        let v = p(
            "A=one\nB=${A}-${HOME_DIR}\nC=\"${A}\"\nD='${A}'\nE=${NOPE:-dflt}\nF=${NOPE}x\n\
             G=\\${A}\nA=two\nH=${A}",
        );
        let get = |k: &str| v.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("B"), "one-/home/me");
        assert_eq!(get("C"), "one");
        assert_eq!(get("D"), "${A}");
        assert_eq!(get("E"), "dflt");
        assert_eq!(get("F"), "x");
        assert_eq!(get("G"), "\\one", "no escapes in unquoted values");
        assert_eq!(get("A"), "two", "a later line replaces the value");
        assert_eq!(get("H"), "two");
        assert_eq!(v[0].0, "A", "order of first appearance");
    }

    #[test]
    fn errors_name_file_and_line_never_text() {
        for (text, line, what) in [
            ("A=1\nsecret-hunter2=x\n", 2, "expected '='"),
            ("A=1\n\nhunter2\n", 3, "expected '='"),
            ("A=1\nB=\"hunter2\n\nC=3", 2, "never closed"),
            ("B='hunter2", 1, "never closed"),
            ("B=\"x\" hunter2", 1, "after the closing quote"),
            ("1B=hunter2", 1, "key must start"),
        ] {
            let e = parse(text, "/app/.env", &env).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidInput);
            assert!(
                e.message.starts_with(&format!("/app/.env line {line}: ")),
                "{text:?}: {}",
                e.message
            );
            assert!(e.message.contains(what), "{}", e.message);
            assert!(!e.message.contains("hunter2"), "{}", e.message);
        }
    }
}
