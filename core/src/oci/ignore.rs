//! `.dockerignore` matching with Docker's semantics.
//!
//! This reproduces what `docker build` does with a build context: moby's
//! `ignorefile.ReadAll` for the lines, `patternmatcher.New` for the patterns and
//! `MatchesOrParentMatches` for each path. A context that builds differently here than under
//! Docker is a bug report waiting to happen, so the quirks are reproduced too:
//!
//! - `#` starts a comment only in the first column (`  #x` is a pattern). Lines are trimmed,
//!   blank ones skipped, `filepath.Clean`ed (`./a`, `a/`, `a//b` normalize) and lose one
//!   leading `/`, also after `!`.
//! - A pattern without wildcards is compared as a plain string. `**` ending an otherwise
//!   literal pattern is a plain prefix test (`dir/**` matches `dir/x` but not `dir`, and
//!   `abc**` matches `abcdef`); `**` starting an otherwise literal pattern is a plain suffix
//!   test (`**/foo` matches `foo` and `a/foo`, and `**.go` matches `a/b.go`).
//! - Any other pattern becomes a Go regexp: `*` is `[^/]*`, `?` is `[^/]`, `**` is `(.*/)?`
//!   (any number of leading directories, including none; at the end `.*`), classes like
//!   `[a-c]` and `[^a-c]` pass through (so `[!a]` is the set of `!` and `a`, and a class can
//!   match `/`), `\` escapes. Go's `.` does not match a newline, so neither does `**`. moby
//!   escapes only `.+()$` for the regexp (its escape table overflows for `|{}`), so `|`
//!   splits a pattern into unanchored alternatives, `{n,m}` repeats, and `^` is an anchor.
//!   We interpret that regexp with a small engine for the RE2 syntax it can contain.
//! - A pattern that matches a parent directory of a path matches the path.
//! - The last matching pattern wins; a `!` pattern re-includes what it matches.
//! - `New` checks a pattern by matching it against `"."` with `filepath.Match`, which stops
//!   at the first part that fails to match: `a*\` passes (the regexp turns the `\` into a
//!   literal `$` and drops the end anchor) while `\` and `[` alone are errors.
//!
//! Known divergences, all for patterns Docker only handles by accident: a pattern whose
//! regexp does not compile is rejected here when parsing, where Docker fails on the first
//! path it tries (and never, for an exception that no earlier pattern gives a chance to
//! apply); Unicode classes (`\p{Greek}`) know regex-syntax's names, a few more than Go's
//! tables; and a pattern whose regexp would need more than 20,000
//! instructions (dozens of `{1000}` repeats) is rejected as too complex.

use crate::error::{Error, Result};
use std::path::Path;

/// Most patterns, and most regular-expression instructions summed over all patterns, one
/// context may exclude with: each path is matched against all of them (a backtracker bounded
/// by program length x path length per pattern).
const MAX_PATTERNS: usize = 10_000;
const MAX_TOTAL_PROGRAM: usize = 100_000;

/// Largest `.dockerignore` read: far above any real one (Docker's own repository's is 1 KiB).
const MAX_DOCKERIGNORE: u64 = 1 << 20;

/// The bytes of `.dockerignore`: a regular file (a symlink to one is followed, as Docker
/// does; to `/dev/zero` or a FIFO it is refused) of at most [`MAX_DOCKERIGNORE`] bytes.
fn read_dockerignore(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a .dockerignore must be one)",
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_DOCKERIGNORE + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_DOCKERIGNORE {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_DOCKERIGNORE} bytes"
        )));
    }
    Ok(bytes)
}

/// The compiled patterns of a `.dockerignore` file plus any extra excludes.
#[derive(Debug, Clone, Default)]
pub struct IgnoreMatcher {
    patterns: Vec<Pattern>,
    has_exceptions: bool,
    /// Regular-expression instructions over all patterns (a literal pattern counts 1).
    cost: usize,
}

impl IgnoreMatcher {
    /// Parses patterns (already split into lines; comments/blank lines handled here too).
    ///
    /// Each entry goes through the same handling as a `.dockerignore` line.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self> {
        let mut matcher = IgnoreMatcher::default();
        for line in patterns {
            matcher.push_line(line.as_ref())?;
        }
        Ok(matcher)
    }

    /// Reads `<context>/.dockerignore` if present (missing file -> empty matcher), then
    /// appends `extra` patterns.
    pub fn for_context<S: AsRef<str>>(context: &Path, extra: &[S]) -> Result<Self> {
        let path = context.join(".dockerignore");
        let mut matcher = IgnoreMatcher::default();
        match read_dockerignore(&path) {
            Ok(bytes) => {
                // Docker reads the file as bytes: a stray invalid byte must not fail the
                // build, and a pattern containing one could not match a UTF-8 path anyway.
                let text = String::from_utf8_lossy(&bytes);
                let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
                for (n, line) in text.lines().enumerate() {
                    matcher
                        .push_line(line)
                        .map_err(|e| e.context(format!("{}:{}", path.display(), n + 1)))?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("read", &path, e)),
        }
        for line in extra {
            matcher.push_line(line.as_ref())?;
        }
        Ok(matcher)
    }

    /// `rel_path` is slash-separated, relative to the context root, without leading "./"
    /// or "/". The root itself (`""` or `"."`) is never excluded.
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        // Docker never lets a pattern exclude the context root itself.
        if rel_path.is_empty() || rel_path == "." {
            return false;
        }
        self.last_match(rel_path)
            .is_some_and(|i| !self.patterns[i].exception)
    }

    /// True when any `!` pattern exists: then an excluded directory must still be walked.
    pub fn has_exceptions(&self) -> bool {
        self.has_exceptions
    }

    /// True when the directory `rel_dir` is excluded AND no exception could re-include
    /// anything under it (so the walker may skip the whole subtree). Conservative: when in
    /// doubt it returns false.
    pub fn can_skip_dir(&self, rel_dir: &str) -> bool {
        if rel_dir.is_empty() || rel_dir == "." {
            return false;
        }
        let Some(last) = self.last_match(rel_dir) else {
            return false;
        };
        if self.patterns[last].exception {
            return false;
        }
        // The pattern that excludes the directory also matches everything below it (through
        // the parent rule), so only a later exception can flip a descendant back. Such an
        // exception matches neither the directory nor its parents (else it would have been
        // the last match here), so it would have to match a path starting with `rel_dir/`.
        let mut under = None::<String>;
        !self.patterns[last + 1..]
            .iter()
            .filter(|p| p.exception)
            .any(|p| p.could_match_under(under.get_or_insert_with(|| format!("{rel_dir}/"))))
    }

    /// True when there are no patterns: nothing is excluded.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The index of the last pattern matching `path` or one of its parent directories.
    ///
    /// Docker scans forwards, skipping patterns that could not change the running verdict;
    /// that always ends on the verdict of the last matching pattern, so scanning backwards
    /// and stopping at the first match is equivalent and does less work.
    fn last_match(&self, path: &str) -> Option<usize> {
        self.patterns
            .iter()
            .rposition(|p| p.matches_self_or_parent(path))
    }

    /// Applies `ignorefile.ReadAll`'s and then `patternmatcher.New`'s handling to one line.
    fn push_line(&mut self, line: &str) -> Result<()> {
        // ReadAll: a comment only when `#` is the very first character, before trimming.
        if line.starts_with('#') {
            return Ok(());
        }
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return Ok(());
        }
        let (invert, body) = match trimmed.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, trimmed),
        };
        let mut normalized = String::with_capacity(body.len() + 1);
        if invert {
            normalized.push('!');
        }
        if !body.is_empty() {
            let cleaned = clean(body);
            // Patterns are relative to the context: `/a` means `a`, but `/` stays `/`.
            match cleaned.strip_prefix('/') {
                Some(rest) if !rest.is_empty() => normalized.push_str(rest),
                _ => normalized.push_str(&cleaned),
            }
        }
        // New trims and cleans once more: `/ a` becomes `a`, and `!/` a bare `!`.
        let cleaned = clean(normalized.trim());
        let (exception, text) = match cleaned.strip_prefix('!') {
            Some("") => return Err(invalid(trimmed, "`!` must be followed by a pattern")),
            Some(rest) => (true, rest),
            None => (false, cleaned.as_str()),
        };
        filepath_match(text, ".").map_err(|reason| invalid(trimmed, reason))?;
        let kind = compile(text).map_err(|reason| invalid(trimmed, &reason))?;
        // Every path is matched against every pattern, so the whole file's cost is what
        // must be bounded, not each pattern's alone.
        self.cost += match &kind {
            Kind::Regex(r) => r.program_len(),
            _ => 1,
        };
        if self.cost > MAX_TOTAL_PROGRAM || self.patterns.len() >= MAX_PATTERNS {
            return Err(invalid(
                trimmed,
                &format!(
                    "the exclude patterns are too complex as a whole (over {MAX_PATTERNS} patterns or \
                     {MAX_TOTAL_PROGRAM} regular-expression instructions); simplify them, e.g. exclude a \
                     directory instead of listing its files"
                ),
            ));
        }
        self.has_exceptions |= exception;
        self.patterns.push(Pattern { exception, kind });
        Ok(())
    }
}

fn invalid(line: &str, reason: &str) -> Error {
    Error::invalid(format!("invalid .dockerignore pattern {line:?}: {reason}"))
}

/// Go's `path.Clean`: drops empty and `.` elements, resolves `..` lexically, and turns an
/// empty result into `.`.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    // `..` above a relative start is kept; above the root it vanishes.
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

#[derive(Debug, Clone)]
struct Pattern {
    /// A `!` pattern: a match re-includes the path.
    exception: bool,
    kind: Kind,
}

/// The four ways moby's `Pattern.compile` can end up matching.
#[derive(Debug, Clone)]
enum Kind {
    /// No wildcard at all: the path must equal the pattern.
    Exact(Box<str>),
    /// Literal text followed by a final `**`: the path must start with the text.
    Prefix(Box<str>),
    /// A leading `**` followed by literal text: the path must end with the text or, when
    /// the text starts with `/`, equal the rest of it.
    Suffix(Box<str>),
    /// Anything else: a regexp.
    Regex(Box<re::Regex>),
}

impl Pattern {
    /// moby's `MatchesOrParentMatches` for one pattern: the path itself or any of its
    /// parent directories matches.
    fn matches_self_or_parent(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact(text) => {
                path == &**text
                    || (path.starts_with(&**text) && path.as_bytes().get(text.len()) == Some(&b'/'))
            }
            // A parent with the prefix means the path has it too.
            Kind::Prefix(prefix) => path.starts_with(&**prefix),
            Kind::Suffix(suffix) => self_and_parents(path).any(|p| suffix_matches(p, suffix)),
            Kind::Regex(re) => {
                // Parents are prefixes of the path: one cheap check can rule out all.
                re.may_match_within(path) && self_and_parents(path).any(|p| re.is_match(p))
            }
        }
    }

    /// Whether this pattern could match some path starting with `under` (which ends in `/`).
    /// May answer true when it could not; never false when it could.
    fn could_match_under(&self, under: &str) -> bool {
        match &self.kind {
            Kind::Exact(text) => text.starts_with(under),
            Kind::Prefix(prefix) => prefix.starts_with(under) || under.starts_with(&**prefix),
            // `<under>x<suffix>` always matches.
            Kind::Suffix(_) => true,
            Kind::Regex(re) => re.could_match_extension_of(under),
        }
    }
}

fn suffix_matches(path: &str, suffix: &str) -> bool {
    path.ends_with(suffix) || suffix.strip_prefix('/') == Some(path)
}

/// The path followed by its parent directories (`a/b/c`, `a`, `a/b`), as slices.
fn self_and_parents(path: &str) -> impl Iterator<Item = &str> {
    std::iter::once(path).chain(path.match_indices('/').map(move |(i, _)| &path[..i]))
}

/// moby's `Pattern.compile`, transliterated: decides how a cleaned pattern (without its
/// `!`) matches and, for the regexp case, builds the same regexp text Docker does.
fn compile(text: &str) -> std::result::Result<Kind, String> {
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut detected = Detected::Exact;
    let mut regex = String::from("^");
    let mut chars = text.chars().peekable();
    // Counts scan steps, not characters, like the Go loop: only a `**` at step 0 makes a
    // suffix match.
    let mut step = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                // `**/` is treated as `**`.
                chars.next_if_eq(&'/');
                if chars.peek().is_some() {
                    regex.push_str("(.*/)?");
                    detected = Detected::Regex;
                } else if detected == Detected::Exact {
                    detected = Detected::Prefix;
                } else {
                    regex.push_str(".*");
                    detected = Detected::Regex;
                }
                if step == 0 {
                    // A later wildcard turns this back into a regexp.
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                regex.push_str("[^/]*");
                detected = Detected::Regex;
            }
            '?' => {
                regex.push_str("[^/]");
                detected = Detected::Regex;
            }
            // moby's `shouldEscape` table is meant to hold `.+()|{}$`, but its bit shifts
            // overflow for bytes from 64 up, which drops `|`, `{` and `}`.
            '.' | '+' | '(' | ')' | '$' => {
                regex.push('\\');
                regex.push(c);
            }
            '\\' => {
                regex.push('\\');
                if let Some(escaped) = chars.next() {
                    regex.push(escaped);
                    detected = Detected::Regex;
                }
                // A trailing `\` stays alone and escapes the final `$` (see the module doc).
            }
            '[' | ']' => {
                regex.push(c);
                detected = Detected::Regex;
            }
            _ => regex.push(c),
        }
        step += 1;
    }
    Ok(match detected {
        Detected::Exact => Kind::Exact(text.into()),
        Detected::Prefix => Kind::Prefix(text[..text.len() - 2].into()),
        Detected::Suffix => Kind::Suffix(text[2..].into()),
        Detected::Regex => {
            regex.push('$');
            Kind::Regex(Box::new(re::Regex::new(&regex)?))
        }
    })
}

/// Go's `filepath.Match` on Unix, whose only use here is `patternmatcher.New`'s syntax
/// check: `Match(pattern, ".")`, keeping just the error. Ported as is, because which parts
/// of a pattern it looks at (it stops at the first part that cannot match) decides which
/// malformed patterns Docker accepts.
fn filepath_match(pattern: &str, name: &str) -> std::result::Result<bool, &'static str> {
    let mut pattern = pattern;
    let mut name = name;
    'chunks: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing `*` matches the rest of the name unless it has a `/`.
            return Ok(!name.contains('/'));
        }
        if let Some(t) = match_chunk(chunk, name)? {
            // The last chunk must use up the name, or a star could still match more.
            if t.is_empty() || !pattern.is_empty() {
                name = t;
                continue;
            }
        }
        if star {
            // Let the star eat one more character at a time, never a `/`.
            for (i, c) in name.char_indices() {
                if c == '/' {
                    break;
                }
                if let Some(t) = match_chunk(chunk, &name[i + c.len_utf8()..])? {
                    if pattern.is_empty() && !t.is_empty() {
                        continue;
                    }
                    name = t;
                    continue 'chunks;
                }
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Splits off the leading stars and the text up to the next star outside a class.
fn scan_chunk(pattern: &str) -> (bool, &str, &str) {
    let rest = pattern.trim_start_matches('*');
    let star = rest.len() != pattern.len();
    let bytes = rest.as_bytes();
    let mut in_range = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            // Skips the escaped byte; a trailing `\` is left for match_chunk to reject.
            b'\\' if i + 1 < bytes.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => return (star, &rest[..i], &rest[i..]),
            _ => {}
        }
        i += 1;
    }
    (star, rest, "")
}

/// Matches one star-free chunk at the start of `s`: `Some(rest of s)` on a match. After a
/// mismatch it keeps parsing the chunk, so a malformed chunk is an error either way.
fn match_chunk<'a>(chunk: &str, s: &'a str) -> std::result::Result<Option<&'a str>, &'static str> {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while let Some(c) = chunk.chars().next() {
        failed |= s.is_empty();
        match c {
            '[' => {
                let r = if failed {
                    None
                } else {
                    let r = s.chars().next();
                    s = &s[r.map_or(0, char::len_utf8)..];
                    r
                };
                chunk = &chunk[1..];
                let negated = chunk.starts_with('^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if ranges > 0 && chunk.starts_with(']') {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = class_char(chunk)?;
                    let (hi, rest) = match rest.strip_prefix('-') {
                        Some(rest) => class_char(rest)?,
                        None => (lo, rest),
                    };
                    chunk = rest;
                    matched |= r.is_some_and(|r| lo <= r && r <= hi);
                    ranges += 1;
                }
                failed |= matched == negated;
            }
            '?' => {
                if let (false, Some(r)) = (failed, s.chars().next()) {
                    failed = r == '/';
                    s = &s[r.len_utf8()..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                let literal = if c == '\\' {
                    chunk = &chunk[1..];
                    chunk
                        .chars()
                        .next()
                        .ok_or("a trailing `\\` escapes nothing")?
                } else {
                    c
                };
                if !failed {
                    failed = !s.starts_with(literal);
                    if !failed {
                        s = &s[literal.len_utf8()..];
                    }
                }
                chunk = &chunk[literal.len_utf8()..];
            }
        }
    }
    Ok((!failed).then_some(s))
}

/// One character of a `filepath.Match` class (Go's `getEsc`): `-` and `]` must be escaped,
/// and something must follow.
fn class_char(chunk: &str) -> std::result::Result<(char, &str), &'static str> {
    const UNTERMINATED: &str = "unterminated character class (a `[` without its `]`)";
    let chunk = match chunk.chars().next() {
        None => return Err(UNTERMINATED),
        Some('-' | ']') => {
            return Err("a character class needs a member, and a `-` or `]` member must be escaped")
        }
        Some('\\') => &chunk[1..],
        Some(_) => chunk,
    };
    let c = chunk.chars().next().ok_or(UNTERMINATED)?;
    let rest = &chunk[c.len_utf8()..];
    if rest.is_empty() {
        return Err(UNTERMINATED);
    }
    Ok((c, rest))
}

/// The subset of Go's regexp syntax (RE2, Perl flags) that moby's conversion can produce,
/// parsed the way Go parses it (with Go's errors and Go's meanings: ASCII `\d \s \w \b`,
/// `{` that starts no repeat is text, no nested repetition) into a small tree, which becomes
/// regex-syntax's HIR and is run by regex-automata: linear time in the input whatever the
/// pattern, no engine of our own (decision 0009).
mod re {
    use regex_automata::nfa::thompson;
    use regex_automata::{hybrid, meta, Anchored, Input};
    use regex_syntax::hir::{
        Class as HirClass, ClassUnicode, ClassUnicodeRange, Dot, Hir, Look, Repetition,
    };

    /// The largest automaton we build (in NFA states); no sane pattern gets near.
    pub const MAX_PROGRAM: usize = 20_000;
    /// Memory bound of one pattern's NFA while it is built (before the state count check).
    const NFA_BYTES: usize = 8 << 20;

    /// A pattern's Go regexp, matched by regex-automata (a meta regex for matches, a lazy
    /// DFA for "could a longer path still match"), with cheap literal pre-checks.
    #[derive(Debug, Clone)]
    pub struct Regex {
        matcher: meta::Regex,
        prefix_dfa: hybrid::dfa::DFA,
        states: usize,
        /// The match can only start at position 0 (a top-level leading `^`).
        anchored: bool,
        /// Text every match starts with / ends with / contains (empty when unknown), for
        /// cheap rejects.
        prefix: Box<str>,
        suffix: Box<str>,
        required: Box<str>,
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Assertion {
        /// `^`, `\A`
        BeginText,
        /// `$`, `\z`
        EndText,
        /// `\b`, ASCII word characters.
        WordBoundary,
        /// `\B`
        NotWordBoundary,
    }

    #[derive(Debug, Clone)]
    struct Class {
        negated: bool,
        ranges: Vec<(u32, u32)>,
    }

    enum Node {
        Char(u32),
        Class(Class),
        AnyNotNl,
        Assert(Assertion),
        Concat(Vec<Node>),
        Alternate(Vec<Node>),
        Repeat {
            node: Box<Node>,
            min: u32,
            max: Option<u32>,
        },
    }

    impl Regex {
        pub fn new(text: &str) -> Result<Regex, String> {
            let mut parser = Parser { rest: text };
            // At depth 0 a `)` is an error, so this consumes all the text.
            let node = parser.alternate(0)?;
            let literals = match &node {
                Node::Concat(items) => literals(items),
                _ => Literals::default(),
            };
            let hir = to_hir(&node);
            let too_complex = || "the pattern is too complex (its regular expression is too large)";
            let nfa = thompson::Compiler::new()
                .configure(thompson::Config::new().nfa_size_limit(Some(NFA_BYTES)))
                .build_from_hir(&hir)
                .map_err(|_| too_complex())?;
            let states = nfa.states().len();
            if states > MAX_PROGRAM {
                return Err(too_complex().into());
            }
            let matcher = meta::Builder::new()
                .build_from_hir(&hir)
                .map_err(|e| format!("the regular expression does not compile: {e}"))?;
            let prefix_dfa = hybrid::dfa::DFA::builder()
                .build_from_nfa(nfa)
                .map_err(|e| format!("the regular expression does not compile: {e}"))?;
            Ok(Regex {
                matcher,
                prefix_dfa,
                states,
                anchored: literals.anchored,
                prefix: literals.prefix.into(),
                suffix: literals.suffix.into(),
                required: literals.longest.into(),
            })
        }

        /// States of the compiled automaton (its matching cost per input byte).
        pub fn program_len(&self) -> usize {
            self.states
        }

        /// A cheap necessary condition for `is_match` on `path` or on any prefix of it.
        pub fn may_match_within(&self, path: &str) -> bool {
            path.starts_with(&*self.prefix) && path.contains(&*self.required)
        }

        /// Go's `MatchString`: a match anywhere (the pattern's own `^...$` anchor it).
        pub fn is_match(&self, input: &str) -> bool {
            input.starts_with(&*self.prefix)
                && input.ends_with(&*self.suffix)
                && input.contains(&*self.required)
                && self.matcher.is_match(input)
        }

        /// Whether some string starting with `prefix` might match; may be wrongly true.
        pub fn could_match_extension_of(&self, prefix: &str) -> bool {
            // An unanchored alternative can match text after the prefix.
            if !self.anchored {
                return true;
            }
            // Walk the lazy DFA over the prefix from the anchored start: only a dead state
            // proves no extension can match. Anything the DFA cannot answer counts as maybe.
            let dfa = &self.prefix_dfa;
            let mut cache = dfa.create_cache();
            let input = Input::new(prefix).anchored(Anchored::Yes);
            let Ok(mut state) = dfa.start_state_forward(&mut cache, &input) else {
                return true;
            };
            for &byte in prefix.as_bytes() {
                match dfa.next_state(&mut cache, state, byte) {
                    Ok(next) if next.is_dead() => return false,
                    Ok(next) => state = next,
                    Err(_) => return true,
                }
            }
            true
        }
    }

    /// The parsed Go regexp as regex-syntax's HIR, with Go's meanings spelt out: `.` is any
    /// character but a newline, `\b` is an ASCII word boundary, classes are the exact sets
    /// the parser computed (Go's ASCII `\d \s \w` and POSIX classes included).
    fn to_hir(node: &Node) -> Hir {
        match node {
            Node::Char(c) => match char::from_u32(*c) {
                Some(c) => Hir::literal(c.to_string().into_bytes()),
                // `\x{D800}` is a valid escape in Go that no text can contain.
                None => Hir::fail(),
            },
            Node::Class(class) => {
                let mut ranges = Vec::new();
                for &(lo, hi) in &class.ranges {
                    // Surrogate code points are not characters: keep what is around them.
                    for (lo, hi) in [(lo, hi.min(0xd7ff)), (lo.max(0xe000), hi)] {
                        if let (Some(lo), Some(hi)) = (char::from_u32(lo), char::from_u32(hi)) {
                            if lo <= hi {
                                ranges.push(ClassUnicodeRange::new(lo, hi));
                            }
                        }
                    }
                }
                let mut set = ClassUnicode::new(ranges);
                if class.negated {
                    set.negate();
                }
                Hir::class(HirClass::Unicode(set))
            }
            Node::AnyNotNl => Hir::dot(Dot::AnyCharExceptLF),
            Node::Assert(a) => Hir::look(match a {
                Assertion::BeginText => Look::Start,
                Assertion::EndText => Look::End,
                Assertion::WordBoundary => Look::WordAscii,
                Assertion::NotWordBoundary => Look::WordAsciiNegate,
            }),
            Node::Concat(items) => Hir::concat(items.iter().map(to_hir).collect()),
            Node::Alternate(branches) => Hir::alternation(branches.iter().map(to_hir).collect()),
            Node::Repeat { node, min, max } => Hir::repetition(Repetition {
                min: *min,
                max: *max,
                greedy: true,
                sub: Box::new(to_hir(node)),
            }),
        }
    }

    /// Cheap necessary conditions for a match, read off a top-level sequence (a regexp
    /// without a top-level `|`).
    #[derive(Default)]
    struct Literals {
        /// It starts with `^`.
        anchored: bool,
        /// Plain text right after that `^`.
        prefix: String,
        /// Plain text right before a final `$`.
        suffix: String,
        /// The longest run of plain text anywhere: every match contains it.
        longest: String,
    }

    fn literals(items: &[Node]) -> Literals {
        let as_char = |n: &Node| match n {
            Node::Char(c) => char::from_u32(*c),
            _ => None,
        };
        // Maximal runs of plain characters: (first item, item after the last, text).
        let mut runs: Vec<(usize, usize, String)> = Vec::new();
        let mut i = 0;
        while i < items.len() {
            let run: String = items[i..].iter().map_while(as_char).collect();
            let len = run.chars().count();
            if len > 0 {
                runs.push((i, i + len, run));
            }
            i += len.max(1);
        }
        let run_where = |pred: &dyn Fn(&(usize, usize, String)) -> bool| {
            runs.iter()
                .find(|r| pred(r))
                .map(|r| r.2.clone())
                .unwrap_or_default()
        };
        let anchored = matches!(items.first(), Some(Node::Assert(Assertion::BeginText)));
        let suffix = match items.last() {
            Some(Node::Assert(Assertion::EndText)) => run_where(&|r| r.1 == items.len() - 1),
            _ => String::new(),
        };
        Literals {
            anchored,
            prefix: if anchored {
                run_where(&|r| r.0 == 1)
            } else {
                String::new()
            },
            suffix,
            longest: runs
                .iter()
                .map(|r| &r.2)
                .max_by_key(|t| t.len())
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// Recursive descent over Go's regexp grammar (Perl flags), with Go's error rules.
    struct Parser<'a> {
        rest: &'a str,
    }

    impl Parser<'_> {
        fn eat(&mut self, c: char) -> bool {
            match self.rest.strip_prefix(c) {
                Some(rest) => {
                    self.rest = rest;
                    true
                }
                None => false,
            }
        }

        fn alternate(&mut self, depth: usize) -> Result<Node, String> {
            let mut branches = vec![self.concat(depth)?];
            while self.eat('|') {
                branches.push(self.concat(depth)?);
            }
            Ok(if branches.len() == 1 {
                branches.pop().expect("one branch")
            } else {
                Node::Alternate(branches)
            })
        }

        fn concat(&mut self, depth: usize) -> Result<Node, String> {
            let mut items = Vec::new();
            // Perl syntax forbids stacking repetition operators (`a**`, `a{2}{3}`).
            let mut after_repeat = false;
            while let Some(c) = self.rest.chars().next() {
                let repeat = match c {
                    '|' => break,
                    ')' if depth > 0 => break,
                    '*' | '+' | '?' => {
                        self.rest = &self.rest[1..];
                        Some(match c {
                            '*' => (0, None),
                            '+' => (1, None),
                            _ => (0, Some(1)),
                        })
                    }
                    '{' => match parse_repeat(self.rest) {
                        Some((min, max, rest)) => {
                            // Go also bounds nested counted repetitions, but those need
                            // groups, and the only group here is moby's `(.*/)?`.
                            if min > 1000 || max.is_some_and(|max| max > 1000 || min > max) {
                                return Err(format!(
                                    "invalid repeat count `{}` in the regular expression",
                                    &self.rest[..self.rest.len() - rest.len()]
                                ));
                            }
                            self.rest = rest;
                            Some((min, max))
                        }
                        None => {
                            // Not a valid `{n,m}`: a literal brace.
                            self.rest = &self.rest[1..];
                            items.push(Node::Char('{' as u32));
                            None
                        }
                    },
                    _ => {
                        self.atom(&mut items, depth)?;
                        None
                    }
                };
                let Some((min, max)) = repeat else {
                    after_repeat = false;
                    continue;
                };
                // A `?` after a repetition only makes it lazy: same set of matches.
                self.eat('?');
                if after_repeat {
                    return Err(
                        "invalid nested repetition operator in the regular expression".into(),
                    );
                }
                let node = items
                    .pop()
                    .ok_or("missing argument to a repetition operator in the regular expression")?;
                items.push(Node::Repeat {
                    node: Box::new(node),
                    min,
                    max,
                });
                after_repeat = true;
            }
            Ok(Node::Concat(items))
        }

        /// Parses one atom (anything but `|`, a repetition, or `{`) onto `items`.
        fn atom(&mut self, items: &mut Vec<Node>, depth: usize) -> Result<(), String> {
            let c = self.rest.chars().next().expect("caller checked");
            self.rest = &self.rest[c.len_utf8()..];
            let node = match c {
                '(' => {
                    // `(?` cannot occur: moby escapes every `(` of the pattern.
                    let inner = self.alternate(depth + 1)?;
                    if !self.eat(')') {
                        return Err("missing `)` in the regular expression".into());
                    }
                    inner
                }
                ')' => return Err("unexpected `)` in the regular expression".into()),
                '^' => Node::Assert(Assertion::BeginText),
                '$' => Node::Assert(Assertion::EndText),
                '.' => Node::AnyNotNl,
                '[' => self.class()?,
                '\\' => return self.escape(items),
                c => Node::Char(c as u32),
            };
            items.push(node);
            Ok(())
        }

        /// After a `\` outside a class.
        fn escape(&mut self, items: &mut Vec<Node>) -> Result<(), String> {
            let assertion = match self.rest.chars().next() {
                Some('A') => Some(Assertion::BeginText),
                Some('z') => Some(Assertion::EndText),
                Some('b') => Some(Assertion::WordBoundary),
                Some('B') => Some(Assertion::NotWordBoundary),
                Some('C') => return Err("invalid escape `\\C` in the regular expression".into()),
                Some('Q') => {
                    // `\Q...\E` quotes everything up to `\E` or the end.
                    let body = &self.rest[1..];
                    let (quoted, rest) = body.split_once("\\E").unwrap_or((body, ""));
                    items.extend(quoted.chars().map(|c| Node::Char(c as u32)));
                    self.rest = rest;
                    return Ok(());
                }
                _ => None,
            };
            if let Some(assertion) = assertion {
                self.rest = &self.rest[1..];
                items.push(Node::Assert(assertion));
                return Ok(());
            }
            if let Some(class) = self.perl_or_unicode_class()? {
                items.push(Node::Class(class));
                return Ok(());
            }
            let (c, rest) = parse_escape(self.rest)?;
            self.rest = rest;
            items.push(Node::Char(c));
            Ok(())
        }

        /// `\d \D \s \S \w \W` (ASCII, as in Go) and Unicode classes (`\pL`, `\p{Greek}`,
        /// `\P{Lu}`, `\p{^Greek}`). `self.rest` is just after the `\`.
        fn perl_or_unicode_class(&mut self) -> Result<Option<Class>, String> {
            let ranges: &[(u32, u32)] = match self.rest.chars().next() {
                Some('p' | 'P') => return self.unicode_class().map(Some),
                Some('d' | 'D') => DIGIT,
                Some('s' | 'S') => PERL_SPACE,
                Some('w' | 'W') => WORD,
                _ => return Ok(None),
            };
            let negated = self.rest.starts_with(|c: char| c.is_ascii_uppercase());
            self.rest = &self.rest[1..];
            Ok(Some(Class {
                negated,
                ranges: ranges.to_vec(),
            }))
        }

        /// `\p` or `\P` and its name, as Go's `parseUnicodeClass` reads them; the code points
        /// come from regex-syntax's Unicode tables (general categories and scripts, as Go's).
        fn unicode_class(&mut self) -> Result<Class, String> {
            let mut negated = self.rest.starts_with('P');
            let after = &self.rest[1..];
            let (name, rest) = if let Some(body) = after.strip_prefix('{') {
                let end = body
                    .find('}')
                    .ok_or_else(|| format!("invalid character class range `\\{}`", self.rest))?;
                (&body[..end], &body[end + 1..])
            } else {
                let c = after
                    .chars()
                    .next()
                    .ok_or("invalid character class range `\\p`")?;
                (&after[..c.len_utf8()], &after[c.len_utf8()..])
            };
            let spelled = &self.rest[..self.rest.len() - rest.len()];
            let bare = match name.strip_prefix('^') {
                Some(bare) => {
                    negated = !negated;
                    bare
                }
                None => name,
            };
            let invalid = || format!("invalid character class range `\\{spelled}`");
            if bare.is_empty() || !bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid());
            }
            let hir = regex_syntax::ParserBuilder::new()
                .build()
                .parse(&format!("\\p{{{bare}}}"))
                .map_err(|_| invalid())?;
            let regex_syntax::hir::HirKind::Class(HirClass::Unicode(set)) = hir.kind() else {
                return Err(invalid());
            };
            let ranges = set
                .iter()
                .map(|r| (r.start() as u32, r.end() as u32))
                .collect();
            self.rest = rest;
            Ok(Class { negated, ranges })
        }

        /// After a `[`: Go's `parseClass`.
        fn class(&mut self) -> Result<Node, String> {
            const UNTERMINATED: &str = "missing closing `]` in a character class";
            let negated = self.eat('^');
            let mut ranges = Vec::new();
            let mut first = true;
            // A `]` right after `[` or `[^` is a member, not the end.
            while first || !self.rest.starts_with(']') {
                first = false;
                if self.rest.is_empty() {
                    return Err(UNTERMINATED.into());
                }
                if let Some(named) = self.named_class()? {
                    add_class(&mut ranges, &named);
                    continue;
                }
                if let Some(rest) = self.rest.strip_prefix('\\') {
                    let before = self.rest;
                    self.rest = rest;
                    if let Some(perl) = self.perl_or_unicode_class()? {
                        add_class(&mut ranges, &perl);
                        continue;
                    }
                    self.rest = before;
                }
                let start = self.rest;
                let lo = self.class_char()?;
                let mut hi = lo;
                // `[a-]` means `a` or `-`.
                if self.rest.len() >= 2
                    && self.rest.starts_with('-')
                    && !self.rest[1..].starts_with(']')
                {
                    self.rest = &self.rest[1..];
                    hi = self.class_char()?;
                    if hi < lo {
                        let range = &start[..start.len() - self.rest.len()];
                        return Err(format!("invalid character class range `{range}`"));
                    }
                }
                ranges.push((lo, hi));
            }
            self.rest = &self.rest[1..];
            Ok(Node::Class(Class { negated, ranges }))
        }

        fn class_char(&mut self) -> Result<u32, String> {
            if self.rest.starts_with('\\') {
                let (c, rest) = parse_escape(&self.rest[1..])?;
                self.rest = rest;
                return Ok(c);
            }
            let c = self
                .rest
                .chars()
                .next()
                .ok_or("missing closing `]` in a character class")?;
            self.rest = &self.rest[c.len_utf8()..];
            Ok(c as u32)
        }

        /// `[:alpha:]` and friends, ASCII as in Go. Without a closing `:]` anywhere later it
        /// is not a named class and `[` is a member.
        fn named_class(&mut self) -> Result<Option<Class>, String> {
            if self.rest.len() <= 2 || !self.rest.starts_with("[:") {
                return Ok(None);
            }
            let Some(end) = self.rest[2..].find(":]") else {
                return Ok(None);
            };
            let name = &self.rest[..end + 4];
            let (negated, bare) = match name[2..name.len() - 2].strip_prefix('^') {
                Some(bare) => (true, bare),
                None => (false, &name[2..name.len() - 2]),
            };
            let ranges: &[(u32, u32)] = match bare {
                "alnum" => &[(0x30, 0x39), (0x41, 0x5a), (0x61, 0x7a)],
                "alpha" => &[(0x41, 0x5a), (0x61, 0x7a)],
                "ascii" => &[(0x00, 0x7f)],
                "blank" => &[(0x09, 0x09), (0x20, 0x20)],
                "cntrl" => &[(0x00, 0x1f), (0x7f, 0x7f)],
                "digit" => DIGIT,
                "graph" => &[(0x21, 0x7e)],
                "lower" => &[(0x61, 0x7a)],
                "print" => &[(0x20, 0x7e)],
                "punct" => &[(0x21, 0x2f), (0x3a, 0x40), (0x5b, 0x60), (0x7b, 0x7e)],
                "space" => &[(0x09, 0x0d), (0x20, 0x20)],
                "upper" => &[(0x41, 0x5a)],
                "word" => WORD,
                "xdigit" => &[(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
                _ => return Err(format!("invalid character class range `{name}`")),
            };
            self.rest = &self.rest[name.len()..];
            Ok(Some(Class {
                negated,
                ranges: ranges.to_vec(),
            }))
        }
    }

    const DIGIT: &[(u32, u32)] = &[(0x30, 0x39)];
    const PERL_SPACE: &[(u32, u32)] = &[(0x09, 0x0a), (0x0c, 0x0d), (0x20, 0x20)];
    const WORD: &[(u32, u32)] = &[(0x30, 0x39), (0x41, 0x5a), (0x5f, 0x5f), (0x61, 0x7a)];

    /// Adds a (possibly negated) group's members to a class's ranges.
    fn add_class(ranges: &mut Vec<(u32, u32)>, group: &Class) {
        if !group.negated {
            ranges.extend_from_slice(&group.ranges);
            return;
        }
        // The groups' ranges are sorted and disjoint: add the gaps between them.
        let mut next = 0u32;
        for &(lo, hi) in &group.ranges {
            if lo > next {
                ranges.push((next, lo - 1));
            }
            next = hi + 1;
        }
        ranges.push((next, 0x10_ffff));
    }

    /// Go's `parseRepeat`: `{n}`, `{n,}` or `{n,m}` at the start of `s`, else `None`.
    /// A number too big to parse becomes `u32::MAX`, which the caller rejects.
    fn parse_repeat(s: &str) -> Option<(u32, Option<u32>, &str)> {
        fn int(s: &str) -> Option<(u32, &str)> {
            let digits = s.bytes().take_while(u8::is_ascii_digit).count();
            // No digits, or a leading zero followed by more digits.
            if digits == 0 || (digits > 1 && s.starts_with('0')) {
                return None;
            }
            let n = s[..digits].parse().unwrap_or(u32::MAX);
            Some((n, &s[digits..]))
        }
        let (min, s) = int(s.strip_prefix('{')?)?;
        let (max, s) = match s.strip_prefix(',') {
            None => (Some(min), s),
            Some(s) if s.starts_with('}') => (None, s),
            Some(s) => {
                let (max, s) = int(s)?;
                (Some(max), s)
            }
        };
        Some((min, max, s.strip_prefix('}')?))
    }

    /// Go's `parseEscape` for a single-character escape; `s` starts after the `\`.
    fn parse_escape(s: &str) -> Result<(u32, &str), String> {
        let invalid =
            |len: usize| format!("invalid escape `\\{}` in the regular expression", &s[..len]);
        let mut chars = s.chars();
        let c = chars
            .next()
            .ok_or("trailing `\\` in the regular expression")?;
        let t = chars.as_str();
        let octal = |t: &str| t.bytes().next().filter(|b| (b'0'..=b'7').contains(b));
        match c {
            // Escaped punctuation is itself.
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c as u32, t)),
            // `\1`..`\7` alone would be backreferences, which Go refuses.
            '1'..='7' if octal(t).is_none() => Err(invalid(1)),
            '0'..='7' => {
                let mut value = c as u32 - '0' as u32;
                let mut t = t;
                for _ in 1..3 {
                    let Some(d) = octal(t) else { break };
                    value = value * 8 + u32::from(d - b'0');
                    t = &t[1..];
                }
                Ok((value, t))
            }
            'x' => {
                if let Some(body) = t.strip_prefix('{') {
                    let digits = body.bytes().take_while(u8::is_ascii_hexdigit).count();
                    let value = u32::from_str_radix(&body[..digits], 16)
                        .ok()
                        .filter(|v| *v <= 0x10_ffff);
                    match (value, body[digits..].strip_prefix('}')) {
                        (Some(value), Some(rest)) => Ok((value, rest)),
                        _ => Err(invalid(1)),
                    }
                } else {
                    let two = t
                        .get(..2)
                        .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
                    match two {
                        Some(two) => {
                            Ok((u32::from_str_radix(two, 16).expect("hex digits"), &t[2..]))
                        }
                        None => Err(invalid(1)),
                    }
                }
            }
            'a' => Ok((0x07, t)),
            'f' => Ok((0x0c, t)),
            'n' => Ok((0x0a, t)),
            'r' => Ok((0x0d, t)),
            't' => Ok((0x09, t)),
            'v' => Ok((0x0b, t)),
            c => Err(invalid(c.len_utf8())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// (patterns, path, excluded)
    type Case = (&'static [&'static str], &'static str, bool);

    fn check(cases: &[Case]) {
        let mut failures = Vec::new();
        for &(patterns, path, want) in cases {
            let matcher = IgnoreMatcher::new(patterns)
                .unwrap_or_else(|e| panic!("patterns {patterns:?}: {}", e.message));
            if matcher.is_excluded(path) != want {
                failures.push(format!("{patterns:?} on {path:?}: want excluded={want}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// The examples of Docker's ".dockerignore file" documentation.
    #[test]
    fn docker_documentation_examples() {
        check(&[
            // `*/temp*`: one level below the root only.
            (&["*/temp*"], "somedir/temporary.txt", true),
            (&["*/temp*"], "somedir/temp", true),
            (&["*/temp*"], "somedir/temp/inner.txt", true),
            (&["*/temp*"], "temp", false),
            (&["*/temp*"], "a/b/temp", false),
            // `*/*/temp*`: two levels below the root.
            (&["*/*/temp*"], "somedir/subdir/temporary.txt", true),
            (&["*/*/temp*"], "somedir/temporary.txt", false),
            // `temp?`: one character, at the root.
            (&["temp?"], "tempa", true),
            (&["temp?"], "tempb/file", true),
            (&["temp?"], "temp", false),
            (&["temp?"], "tempab", false),
            (&["temp?"], "dir/tempa", false),
            // `**/*.go`: any depth, including the root.
            (&["**/*.go"], "main.go", true),
            (&["**/*.go"], "cmd/tool/main.go", true),
            (&["**/*.go"], "cmd/tool/main.gox", false),
            // Exceptions: the last matching line wins.
            (&["*.md", "!README.md"], "README.md", false),
            (&["*.md", "!README.md"], "CHANGELOG.md", true),
            (&["*.md", "!README.md"], "docs/guide.md", false),
            (
                &["*.md", "!README*.md", "README-secret.md"],
                "README-secret.md",
                true,
            ),
            (
                &["*.md", "!README*.md", "README-secret.md"],
                "README-public.md",
                false,
            ),
            (
                &["*.md", "!README*.md", "README-secret.md"],
                "CONTRIBUTING.md",
                true,
            ),
            (
                &["*.md", "README-secret.md", "!README*.md"],
                "README-secret.md",
                false,
            ),
            // An excluded directory with a re-included child.
            (&["docs", "!docs/keep.md"], "docs", true),
            (&["docs", "!docs/keep.md"], "docs/keep.md", false),
            (&["docs", "!docs/keep.md"], "docs/other.md", true),
            (&["docs", "!docs/keep.md"], "docs/keep.md/inner", false),
            // Excluding the Dockerfile and .dockerignore themselves is allowed.
            (&["Dockerfile", ".dockerignore"], "Dockerfile", true),
            (&["Dockerfile", ".dockerignore"], ".dockerignore", true),
        ]);
    }

    #[test]
    fn line_normalization() {
        check(&[
            // Leading slash, `./`, trailing slash, doubled slashes, `.` and `..`.
            (&["/foo/bar"], "foo/bar", true),
            (&["/foo/bar"], "x/foo/bar", false),
            (&["!/foo", "*"], "foo", true),
            (&["*", "!/foo"], "foo", false),
            (&["./a"], "a", true),
            (&["a/"], "a/b", true),
            (&["a//b"], "a/b", true),
            (&["a/./b/../c"], "a/c", true),
            (&["a/./b/../c"], "a/b", false),
            // Whitespace is trimmed, also after `!` and after a removed `/`.
            (&["  spaced  "], "spaced", true),
            (&["*", "  !  keep  "], "keep", false),
            (&["/ b"], "b", true),
            // Comments only in the first column; blank lines are skipped.
            (&["# comment", "", "   ", "a"], "a", true),
            (&["# comment"], "# comment", false),
            (&["  #x"], "#x", true),
            // Patterns never exclude the context root itself.
            (&["*"], "", false),
            (&["**"], ".", false),
        ]);
    }

    #[test]
    fn wildcards_classes_and_escapes() {
        check(&[
            (&["\\*"], "*", true),
            (&["\\*"], "a", false),
            (&["a\\?b"], "a?b", true),
            (&["a\\?b"], "axb", false),
            (&["a\\\\"], "a\\", true),
            (&["[a-c]x"], "bx", true),
            (&["[a-c]x"], "dx", false),
            (&["[^a-c]x"], "dx", true),
            (&["[^a-c]x"], "ax", false),
            // `!` does not negate a class: it is a member.
            (&["[!a]x"], "!x", true),
            (&["[!a]x"], "bx", false),
            (&["[\\]a]"], "]", true),
            (&["[\\-x]"], "-", true),
            (&["[x\\-]"], "z", false),
            (&["a?b"], "a☺b", true),
            (&["a???b"], "a☺b", false),
            (&["[a-ζ]*"], "α", true),
            (&["*[a-ζ]"], "A", false),
            // `*` and `?` stop at `/`; a class does not.
            (&["a*b"], "a/b", false),
            (&["a?b"], "a/b", false),
            (&["a[^x]b"], "a/b", true),
            (&["a*"], "ab/c", true),
            (&["a*/b"], "a/c/b", false),
            (&["a*b*c*d*e*/f"], "axbxcxdxe/f", true),
            (&["a*b*c*d*e*/f"], "axbxcxdxe/xxx/f", false),
            (&["a*b?c*x"], "abxbbxdbxebxczzx", true),
            (&["a*b?c*x"], "abxbbxdbxebxczzy", false),
            // Regexp metacharacters are plain text.
            (&[".*"], ".foo", true),
            (&[".*"], "foo", false),
            (&["abc.def"], "abcZdef", false),
            (&["a(b)c/def"], "a(b)c/def", true),
            (&["a.|)$(}+{bc"], "a.|)$(}+{bc", true),
            (
                &["dist/*.whl"],
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            (
                &["**", "!dist/*.whl"],
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                false,
            ),
        ]);
    }

    /// moby/patternmatcher's `TestMatches` (the `MatchesOrParentMatches` expectations).
    #[test]
    fn double_star() {
        check(&[
            (&["**"], "file", true),
            (&["**"], "dir/file", true),
            (&["**/"], "dir/file", true),
            (&["**/**"], "dir/file", true),
            (&["dir/**"], "dir/dir2/file", true),
            (&["dir/**"], "dir", false),
            (&["abc**"], "abcdef", true),
            (&["**/dir"], "dir", true),
            (&["**/dir"], "dir/file", true),
            (&["**/dir2/*"], "dir/dir2/file", true),
            (&["**/dir2/**"], "dir/dir2/dir3/file", true),
            (&["**file"], "dir/dir/file", true),
            (&["**.go"], "a/b.go", true),
            (&["**/file*.txt"], "dir/dir/file.txt", true),
            (&["**/**/*.txt"], "file.txt", true),
            (&["**/**/*.txt2"], "dir/dir/file.txt", false),
            (&["a**/*.txt"], "a/file.txt", true),
            (&["a**/*.txt"], "a/dir/dir/file.txt", true),
            (&["a/*.txt**"], "a/file.txt", true),
            (&["**/foo/bar"], "dir/dir2/foo/bar", true),
            (&["**/.foo"], ".foo", true),
            (&["**/.foo"], "bar.foo", false),
            (&["**/node_modules"], "web/node_modules/pkg/index.js", true),
            (&["node_modules"], "web/node_modules", false),
            (&["**", "!util/docker/web"], "util/docker/web/foo", false),
            (
                &["**", "!util/docker/web", "util/docker/web/foo"],
                "util/docker/web/foo",
                true,
            ),
        ]);
    }

    /// Behaviour that follows from moby building a Go regexp; kept on purpose.
    #[test]
    fn go_regexp_quirks() {
        check(&[
            // `|` is not escaped: unanchored alternatives.
            (&["*.js|*.ts"], "src/app.ts", true),
            (&["*.js|*.ts"], "app.jsx", true),
            (&["*.js|*.ts"], "app.py", false),
            // ... but a pattern without wildcards is compared as text.
            (&["a|b"], "a|b", true),
            (&["a|b"], "a", false),
            // `{n}` repeats the previous character; `{a,b}` is text.
            (&["a{2}*"], "aab", true),
            (&["a{2}*"], "ab", false),
            (&["*.{js,ts}"], "x.{js,ts}", true),
            // `^` is an anchor, so it can only match at the start.
            (&["*^x"], "a^x", false),
            // Go's `.` does not match a newline, so neither does `**` in a regexp.
            (&["**/*.go"], "a\nb/c.go", false),
            // A trailing `\` escapes the final `$`: a literal `$` and no end anchor.
            (&["a*\\"], "ab$tail", true),
            (&["a*\\"], "ab", false),
        ]);
    }

    /// Unicode classes as Go's `\p`; Perl classes stay ASCII as in Go.
    #[test]
    fn unicode_classes_and_ascii_perl_classes() {
        check(&[
            (&["\\p{Greek}*.txt"], "αβγ.txt", true),
            (&["\\p{Greek}*.txt"], "abc.txt", false),
            (&["\\pL*"], "日本", true),
            (&["\\pL*"], "1日本", false),
            (&["\\P{Greek}x"], "ax", true),
            (&["\\P{Greek}x"], "αx", false),
            (&["\\p{^Greek}x"], "αx", false),
            (&["[\\p{Lu}0-9]*"], "Ä1", true),
            (&["[\\p{Lu}0-9]*"], "ä1", false),
            (&["\\w*"], "é", false),
            (&["\\d*"], "٣", false),
            (&["a\\bb*"], "ab", false),
        ]);
        for bad in ["\\p{Klingon}*", "\\p{Gre", "x*\\p"] {
            let err = IgnoreMatcher::new(&[bad]).expect_err(bad);
            assert!(
                err.message.contains("invalid character class range"),
                "{bad}: {}",
                err.message
            );
            assert!(
                err.message.contains(&format!("{bad:?}")),
                "{bad}: {}",
                err.message
            );
        }
    }

    #[test]
    fn invalid_patterns_are_errors_naming_the_pattern() {
        let rejected_by_docker_check = [
            "[", "a[", "x[", "[^bc", "[]a]", "[-]", "[x-]", "[a-b-c]", "\\", "!", "! ", "!/",
        ];
        // These pass Docker's syntax check but their regexp does not compile: Docker fails
        // on the first path it tries, we fail at once.
        let regexp_does_not_compile = ["[z-a]", "a*[", "x*|{2}", "*a{2}{3}", "*a{1001}"];
        for pattern in rejected_by_docker_check
            .iter()
            .chain(&regexp_does_not_compile)
        {
            let err = IgnoreMatcher::new(&["ok", pattern]).expect_err(pattern);
            assert_eq!(err.kind, ErrorKind::InvalidInput, "{pattern}");
            let quoted = format!("{:?}", pattern.trim());
            assert!(err.message.contains(&quoted), "{pattern}: {}", err.message);
        }
        // Docker's check only looks at the part of a pattern that can match ".", so it
        // accepts this one (see go_regexp_quirks for what it matches).
        IgnoreMatcher::new(&["a*\\"]).unwrap();
    }

    #[test]
    fn exceptions_and_directory_skipping() {
        let plain = IgnoreMatcher::new(&["docs", "*.log"]).unwrap();
        assert!(!plain.has_exceptions());
        assert!(plain.can_skip_dir("docs"));
        assert!(!plain.can_skip_dir("src"), "not excluded");
        assert!(!plain.can_skip_dir(""), "the root");

        let cases: &[(&[&str], &str, bool)] = &[
            (&["docs", "!docs/keep.md"], "docs", false),
            (&["docs", "!**/keep.md"], "docs", false),
            (&["docs", "!*/keep.md"], "docs", false),
            (&["docs", "!d*/keep.md"], "docs", false),
            (&["docs", "!docs**"], "docs", false),
            (&["docs", "!x*/keep.md"], "docs", true),
            (&["docs", "!other/keep.md"], "docs", true),
            (&["docs", "!docsx/keep.md"], "docs", true),
            // An exception before the excluding line cannot win.
            (&["!docs/keep.md", "docs"], "docs", true),
            (&["*", "!src"], "src", false),
            (&["*", "!src/main.rs"], "target", true),
            (&["a", "!a/b", "a/b/c"], "a/b/c", true),
            (&["a/*.txt|x", "!a/b"], "a/y.txt", true),
        ];
        for &(patterns, dir, want) in cases {
            let matcher = IgnoreMatcher::new(patterns).unwrap();
            assert!(matcher.has_exceptions(), "{patterns:?}");
            assert_eq!(matcher.can_skip_dir(dir), want, "{patterns:?} on {dir:?}");
        }
    }

    #[test]
    fn empty_matcher() {
        let matcher = IgnoreMatcher::new::<&str>(&[]).unwrap();
        assert!(matcher.is_empty());
        assert!(!matcher.is_excluded("a"));
        assert!(IgnoreMatcher::new(&["# only a comment", ""])
            .unwrap()
            .is_empty());
        assert!(IgnoreMatcher::default().is_empty());
    }

    #[test]
    fn for_context_reads_dockerignore_and_appends_extra() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".dockerignore"),
            "\u{feff}# build output\r\n*.log\n!keep.log\n/build/\n\n",
        )
        .unwrap();
        let matcher = IgnoreMatcher::for_context(dir.path(), &["secret"]).unwrap();
        assert!(matcher.has_exceptions());
        assert!(matcher.is_excluded("debug.log"));
        assert!(!matcher.is_excluded("keep.log"));
        assert!(matcher.is_excluded("build/out.bin"));
        assert!(matcher.is_excluded("secret"));
        assert!(!matcher.is_excluded("src/main.rs"));
        assert!(!matcher.is_excluded("# build output"));

        // The extra patterns come last, so they override the file.
        let matcher = IgnoreMatcher::for_context(dir.path(), &["!debug.log"]).unwrap();
        assert!(!matcher.is_excluded("debug.log"));
    }

    #[test]
    fn for_context_without_dockerignore() {
        let dir = tempfile::tempdir().unwrap();
        assert!(IgnoreMatcher::for_context::<&str>(dir.path(), &[])
            .unwrap()
            .is_empty());
        let matcher = IgnoreMatcher::for_context(dir.path(), &["tmp"]).unwrap();
        assert!(matcher.is_excluded("tmp/x"));
    }

    #[test]
    fn for_context_reports_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".dockerignore"), "ok\n[oops\n").unwrap();
        let err = IgnoreMatcher::for_context::<&str>(dir.path(), &[]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert!(err.message.contains(".dockerignore:2"), "{}", err.message);
        assert!(err.message.contains("\"[oops\""), "{}", err.message);
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let matcher =
            IgnoreMatcher::new(&["*a*a*a*a*a*a*a*a*a*a*b", "**/**/**/**/**/**/x*y"]).unwrap();
        let long = format!("{}/{}", "a".repeat(2000), "a/".repeat(200));
        let start = std::time::Instant::now();
        assert!(!matcher.is_excluded(&long));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn the_whole_files_cost_is_bounded_not_only_each_pattern() {
        // Each line alone is fine; together they would make every path cost ~300,000 steps.
        let line = "[a-z]*[0-9]*[a-z]*[0-9]*[a-z]*[0-9]*/**/x?y?z?*[^q]*";
        let one = IgnoreMatcher::new(&[line]).unwrap();
        assert!(one.is_excluded("ab12cd34ef56/g/xAyBzC1") && !one.is_excluded("keep"));
        let many: Vec<String> = (0..5_000).map(|i| format!("{line}{i}")).collect();
        let start = std::time::Instant::now();
        let err = IgnoreMatcher::new(&many).unwrap_err();
        assert!(
            err.message.contains("too complex as a whole"),
            "{}",
            err.message
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        // Plenty of plain names stay fine.
        let names: Vec<String> = (0..9_000).map(|i| format!("build/out-{i}.o")).collect();
        let m = IgnoreMatcher::new(&names).unwrap();
        assert!(m.is_excluded("build/out-8999.o") && !m.is_excluded("build/out-9000.o"));
    }
}
