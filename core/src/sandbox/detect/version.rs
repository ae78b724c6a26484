//! Runtime versions from several sources: the first source (in the provider's precedence)
//! wins, every source becomes evidence, and a source that disagrees with the winner
//! becomes a warning, because the tools themselves refuse a mismatch (Bundler does).
//!
//! Sources pin a version (`3.3.1`, `3.3`) or state a requirement (`~> 3.3.0`, `>=3.11`).
//! A pin agrees with a pin when one is a prefix of the other (`3.3` allows `3.3.1`: each is
//! compared as precisely as it pins); a pin agrees with a requirement it satisfies. A
//! requirement's version is its lower bound (`~> 3.3.0` → `3.3.0`), which evidence says.

use super::{Evidence, Project};
use std::cmp::Ordering;

/// One source's version.
#[derive(Debug, Clone)]
pub(super) struct Pin {
    file: String,
    line: Option<u32>,
    /// The version the project gets if this source wins.
    version: String,
    /// The constraints, for a requirement; `None` for a plain pin.
    req: Option<Vec<(Op, Vec<u64>)>>,
    /// What the source says, as compared (`3.2.2`, `~> 3.3.0`).
    shown: String,
    found: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Ge,
    Gt,
    Le,
    Lt,
    /// `~>` (RubyGems) and `~=` (PEP 440): at least this, same release series.
    Compatible,
    /// `^` (Poetry): at least this, same major.
    Caret,
}

/// Operators, longest first so `>=` is not read as `>`.
const OPS: &[(&str, Op)] = &[
    ("===", Op::Eq),
    ("~>", Op::Compatible),
    ("~=", Op::Compatible),
    ("~", Op::Compatible),
    (">=", Op::Ge),
    ("<=", Op::Le),
    ("==", Op::Eq),
    ("!=", Op::Ne),
    ("^", Op::Caret),
    (">", Op::Gt),
    ("<", Op::Lt),
    ("=", Op::Eq),
];

impl Pin {
    /// A source that pins `version` exactly as written.
    pub(super) fn exact(file: String, line: Option<u32>, version: &str, found: String) -> Pin {
        Pin {
            file,
            line,
            version: version.to_string(),
            req: None,
            shown: version.to_string(),
            found,
        }
    }

    /// A source stating a requirement (`~> 3.3.0`, `>=3.9,<4`): its version is the lower
    /// bound of the first constraint that has one; `None` when no constraint does (`<4`)
    /// or the text is not a requirement.
    pub(super) fn requirement(
        file: String,
        line: Option<u32>,
        runtime: &str,
        text: &str,
    ) -> Option<Pin> {
        let mut req = Vec::new();
        let mut version = None;
        for part in constraints(text) {
            let (op, rest) = OPS
                .iter()
                .find_map(|(s, op)| part.strip_prefix(s).map(|r| (*op, r)))
                .unwrap_or((Op::Eq, &part));
            let rest = rest.trim_end_matches(".*").trim_end_matches(".x");
            let parsed = components(rest);
            if parsed.is_empty() {
                return None;
            }
            if version.is_none() && !matches!(op, Op::Ne | Op::Lt | Op::Le) {
                version = Some(rest.to_string());
            }
            req.push((op, parsed));
        }
        let version = version?;
        Some(Pin {
            file,
            line,
            found: format!("{runtime} {text} (a requirement: {version} taken as the version)"),
            version,
            req: Some(req),
            shown: text.to_string(),
        })
    }
}

/// A provider's version sources, in precedence order.
#[derive(Debug, Default)]
pub(super) struct Pins(Vec<Pin>);

impl Pins {
    pub(super) fn push(&mut self, pin: Pin) {
        self.0.push(pin);
    }

    /// Pushes each of `pins` (an `Option` when a requirement may not name a version).
    pub(super) fn extend(&mut self, pins: impl IntoIterator<Item = Pin>) {
        self.0.extend(pins);
    }

    /// Sets the project's version from the winner, records every source as evidence, and
    /// warns of each source that disagrees with the winner, with `consequence`.
    pub(super) fn settle(self, p: &mut Project, runtime: &str, consequence: &str) {
        let Some(winner) = self.0.first() else {
            return;
        };
        p.version = Some(winner.version.clone());
        for pin in &self.0 {
            p.add_evidence(Evidence {
                file: pin.file.clone(),
                line: pin.line,
                found: pin.found.clone(),
            });
            if !agree(winner, pin) {
                p.warnings.push(format!(
                    "{} says {runtime} {} but {} says {runtime} {}: {consequence}",
                    winner.file, winner.shown, pin.file, pin.shown
                ));
            }
        }
    }
}

/// The constraints of a requirement, each an operator glued to its version: RubyGems and
/// PEP 440 separate them with commas, npm with spaces (`>= 18 < 21`); of npm's `||`
/// alternatives only the first is taken.
fn constraints(text: &str) -> Vec<String> {
    let first = text.split("||").next().unwrap_or("");
    let mut out: Vec<String> = Vec::new();
    let mut pending = String::new();
    for word in first.split([',', ' ', '\t']).filter(|w| !w.is_empty()) {
        pending.push_str(word);
        if !word.chars().all(|c| "<>=~^!".contains(c)) {
            out.push(std::mem::take(&mut pending));
        }
    }
    if !pending.is_empty() {
        out.push(pending);
    }
    out
}

/// The numeric release components of a version (`3.3.1p55` → 3.3.1, `v20` → 20, stopping
/// at the first part that is not a number).
pub(crate) fn components(v: &str) -> Vec<u64> {
    let v = v.trim().trim_start_matches(['v', 'V']);
    let mut out = Vec::new();
    for part in v.split('.') {
        let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
        match digits.parse() {
            Ok(n) => out.push(n),
            Err(_) => break,
        }
        if digits.len() != part.len() {
            break;
        }
    }
    out
}

fn agree(a: &Pin, b: &Pin) -> bool {
    match (&a.req, &b.req) {
        (None, None) => {
            let (x, y) = (components(&a.version), components(&b.version));
            if x.is_empty() || y.is_empty() {
                a.version == b.version
            } else {
                prefix(&x, &y)
            }
        }
        (Some(req), None) => satisfies(&components(&b.version), req),
        (None, Some(req)) => satisfies(&components(&a.version), req),
        // Two requirements may overlap; only pins are checked against them.
        (Some(_), Some(_)) => true,
    }
}

/// Whether the shorter of two versions is a prefix of the longer (`3.3` and `3.3.1`).
fn prefix(x: &[u64], y: &[u64]) -> bool {
    let n = x.len().min(y.len());
    x[..n] == y[..n]
}

/// Compares with missing components as zeros (`3.3` = `3.3.0`).
fn cmp(x: &[u64], y: &[u64]) -> Ordering {
    let n = x.len().max(y.len());
    let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    (0..n)
        .map(|i| at(x, i).cmp(&at(y, i)))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

fn satisfies(v: &[u64], req: &[(Op, Vec<u64>)]) -> bool {
    if v.is_empty() {
        return true; // nothing to compare (`system`, `lts/*`): no claim of a mismatch
    }
    req.iter().all(|(op, r)| match op {
        Op::Eq => prefix(v, r),
        Op::Ne => !prefix(v, r),
        Op::Ge => cmp(v, r).is_ge(),
        Op::Gt => cmp(v, r).is_gt(),
        Op::Le => cmp(v, r).is_le(),
        Op::Lt => cmp(v, r).is_lt(),
        // ~> 3.3.0: >= 3.3.0 and 3.3.x; ~> 3.3: >= 3.3 and 3.x.
        Op::Compatible => cmp(v, r).is_ge() && prefix(v, &r[..r.len().saturating_sub(1).max(1)]),
        Op::Caret => cmp(v, r).is_ge() && v[0] == r[0],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(v: &str) -> Pin {
        Pin::exact("a".into(), None, v, String::new())
    }

    fn req(t: &str) -> Pin {
        Pin::requirement("b".into(), None, "ruby", t).unwrap()
    }

    #[test]
    fn pins_and_requirements_agree_as_precisely_as_they_pin() {
        assert!(agree(&pin("3.3.1"), &pin("3.3.1")));
        assert!(agree(&pin("3.3"), &pin("3.3.1")));
        assert!(!agree(&pin("3.3.1"), &pin("3.2.2")));
        assert!(!agree(&pin("3.3.1"), &pin("3.3.10")));
        assert!(agree(&pin("3.3.1"), &req("~> 3.3.0")));
        assert!(!agree(&pin("3.4.0"), &req("~> 3.3.0")));
        assert!(agree(&pin("3.9.0"), &req("~> 3.3")));
        assert!(agree(&pin("3.12"), &req(">=3.9,<4")));
        assert!(!agree(&req(">=3.9, <4"), &pin("4.0")));
        assert!(agree(&pin("3.12.1"), &req("==3.12.*")));
        assert!(agree(&pin("3.12"), &req("^3.11")));
        assert!(agree(&pin("lts/*"), &req(">=18")));
    }

    #[test]
    fn a_requirement_is_its_lower_bound() {
        assert_eq!(req("~> 3.3.0").version, "3.3.0");
        assert_eq!(req(">=3.9,<4").version, "3.9");
        assert_eq!(req("==3.12.*").version, "3.12");
        assert_eq!(req(">= 18 < 21 || >= 22").version, "18");
        assert_eq!(req("20.x").version, "20");
        assert!(agree(&pin("v20"), &req(">= 18 < 21")));
        assert!(!agree(&pin("v22"), &req(">= 18 < 21")));
        assert!(Pin::requirement("b".into(), None, "ruby", "<4").is_none());
        assert!(Pin::requirement("b".into(), None, "ruby", "RUBY_VERSION").is_none());
    }
}
