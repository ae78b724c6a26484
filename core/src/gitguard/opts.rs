//! git's parse-options rules, enough to read a subcommand's flags exactly as git will:
//! options anywhere before `--`, combined short flags (`-uf`), values attached or separate,
//! `--no-` negations, and unique abbreviations of long names (`--forc` is `--force`).

/// Whether an option takes a value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Val {
    No,
    /// Only as `--name=value` (or attached to a short flag).
    Optional,
    Required,
}

/// One option a subcommand accepts.
pub(crate) struct Opt {
    pub long: &'static str,
    pub short: Option<char>,
    pub val: Val,
    /// `--no-<long>` is accepted.
    pub negatable: bool,
}

pub(crate) const fn flag(long: &'static str, short: Option<char>) -> Opt {
    Opt {
        long,
        short,
        val: Val::No,
        negatable: true,
    }
}

pub(crate) const fn with_value(long: &'static str, short: Option<char>, val: Val) -> Opt {
    Opt {
        long,
        short,
        val,
        negatable: true,
    }
}

/// One option as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Given {
    pub long: &'static str,
    pub negated: bool,
    pub value: Option<String>,
}

/// Options in order, then the non-option arguments. An option git would refuse (unknown,
/// ambiguous, missing its value) is an error string, since git runs nothing then, but
/// the guard cannot be sure of what follows either.
pub(crate) fn parse(
    args: &[String],
    spec: &[Opt],
) -> std::result::Result<(Vec<Given>, Vec<String>), String> {
    let mut given = Vec::new();
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" || a == "--end-of-options" {
            positional.extend(args[i + 1..].iter().cloned());
            break;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let (opt, negated) = find_long(spec, name)?;
            let value = match (opt.val, negated, inline) {
                (_, true, Some(_)) | (Val::No, _, Some(_)) => {
                    return Err(format!("option --{name} takes no value"))
                }
                (Val::Required, false, None) => {
                    i += 1;
                    Some(
                        args.get(i)
                            .cloned()
                            .ok_or_else(|| format!("option --{name} needs a value"))?,
                    )
                }
                (_, _, v) => v,
            };
            given.push(Given {
                long: opt.long,
                negated,
                value,
            });
        } else if a.len() > 1 && a.starts_with('-') {
            let cluster: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < cluster.len() {
                let c = cluster[j];
                let opt = spec
                    .iter()
                    .find(|o| o.short == Some(c))
                    .ok_or_else(|| format!("unknown switch -{c}"))?;
                if opt.val == Val::No {
                    given.push(Given {
                        long: opt.long,
                        negated: false,
                        value: None,
                    });
                    j += 1;
                    continue;
                }
                let rest: String = cluster[j + 1..].iter().collect();
                let value = if !rest.is_empty() {
                    Some(rest)
                } else if opt.val == Val::Required {
                    i += 1;
                    Some(
                        args.get(i)
                            .cloned()
                            .ok_or_else(|| format!("switch -{c} needs a value"))?,
                    )
                } else {
                    None
                };
                given.push(Given {
                    long: opt.long,
                    negated: false,
                    value,
                });
                break;
            }
        } else {
            positional.push(a.clone());
        }
        i += 1;
    }
    Ok((given, positional))
}

/// An exact long name (or its `no-` form) wins; else a unique abbreviation, as
/// parse-options decides.
fn find_long<'a>(spec: &'a [Opt], name: &str) -> std::result::Result<(&'a Opt, bool), String> {
    let forms = || {
        spec.iter().flat_map(|o| {
            let neg = o.negatable.then(|| (o, true, format!("no-{}", o.long)));
            std::iter::once((o, false, o.long.to_string())).chain(neg)
        })
    };
    if let Some((o, n, _)) = forms().find(|(_, _, f)| f == name) {
        return Ok((o, n));
    }
    if name.is_empty() {
        return Err("unknown option --".into());
    }
    let matches: Vec<_> = forms().filter(|(_, _, f)| f.starts_with(name)).collect();
    match matches.as_slice() {
        [(o, n, _)] => Ok((o, *n)),
        [] => Err(format!("unknown option --{name}")),
        many => {
            // `--no-` abbreviations of one option's two forms are not ambiguous
            let first = many[0].0.long;
            if many
                .iter()
                .all(|(o, n, _)| o.long == first && *n == many[0].1)
            {
                Ok((many[0].0, many[0].1))
            } else {
                Err(format!(
                    "ambiguous option --{name} (could be {})",
                    many.iter()
                        .map(|(_, _, f)| format!("--{f}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
    }
}

/// The finding for options git itself would refuse: a block, since the guard cannot tell
/// what the command would do either.
pub(crate) fn unparsable(cmd: &str, e: String) -> super::verdict::Finding {
    super::verdict::Finding::block(
        super::verdict::Rule::UnknownOption,
        None,
        format!("git {cmd}: {e}; git refuses it too, and the guard cannot tell what it would do"),
    )
}

/// Whether the last of the given `long` options is set (a later `--no-` clears it).
pub(crate) fn last_set(given: &[Given], long: &str) -> bool {
    given
        .iter()
        .rev()
        .find(|g| g.long == long)
        .is_some_and(|g| !g.negated)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &[Opt] = &[
        flag("force", Some('f')),
        with_value("force-with-lease", None, Val::Optional),
        flag("force-if-includes", None),
        flag("set-upstream", Some('u')),
        with_value("push-option", Some('o'), Val::Required),
        flag("follow-tags", None),
    ];

    fn p(args: &[&str]) -> std::result::Result<(Vec<Given>, Vec<String>), String> {
        parse(
            &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            SPEC,
        )
    }

    #[test]
    fn abbreviations_clusters_values_and_negations() {
        let (g, pos) = p(&["origin", "-uf", "main", "--force", "--no-force"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pos, vec!["origin", "main"]);
        assert_eq!(
            g.iter().map(|g| g.long).collect::<Vec<_>>(),
            vec!["set-upstream", "force", "force", "force"]
        );
        assert!(!last_set(&g, "force"));
        let (g, _) = p(&["--force-w=main:abc"]).unwrap();
        assert_eq!(g[0].long, "force-with-lease");
        assert_eq!(g[0].value.as_deref(), Some("main:abc"));
        let (g, pos) = p(&["-ofoo", "-o", "bar", "x"]).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(pos, vec!["x"]);
        let (g, pos) = p(&["-uo", "-f", "y"]).unwrap();
        assert_eq!(g[1].value.as_deref(), Some("-f"));
        assert_eq!(pos, vec!["y"]);
        assert!(p(&["--fo"]).unwrap_err().contains("ambiguous"));
        assert!(p(&["--forc"]).unwrap_err().contains("ambiguous"));
        assert_eq!(p(&["--fol"]).unwrap().0[0].long, "follow-tags");
        assert!(p(&["--bogus"]).is_err());
        assert!(p(&["-x"]).is_err());
        let (g, pos) = p(&["--", "-f"]).unwrap();
        assert!(g.is_empty());
        assert_eq!(pos, vec!["-f"]);
    }
}
