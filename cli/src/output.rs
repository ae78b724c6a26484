//! How the CLI talks: human text or JSON, progress bars on a terminal, errors with kinds.

use idpkit::{Error, Event, EventSink, ImageSummary};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::IsTerminal;
use std::sync::Arc;

pub struct Output {
    json: bool,
    verbose: bool,
    quiet: bool,
}

impl Output {
    pub fn new(json: bool, verbose: bool, quiet: bool) -> Self {
        Output {
            json,
            verbose,
            quiet,
        }
    }

    /// Prints a result: JSON with `--json`, else the human text.
    pub fn result<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            match serde_json::to_string(value) {
                Ok(s) => print_line(&s),
                Err(e) => eprintln!("error[INTERNAL]: cannot serialize the result: {e}"),
            }
        } else {
            let text = human();
            if !text.is_empty() {
                print_line(&text);
            }
        }
    }

    pub fn error(&self, e: &Error) {
        if self.json {
            let doc = serde_json::json!({"error": {"kind": e.kind, "message": e.message}});
            eprintln!("{doc}");
        } else {
            eprintln!("error[{}]: {}", e.kind, e.message);
        }
    }

    /// A progress display for a long operation: a spinner on a terminal, JSON lines with
    /// `--json`, warnings always (unless `--quiet`), other events with `--verbose`.
    pub fn progress(&self) -> Progress {
        let bar = (!self.json && !self.quiet && std::io::stderr().is_terminal()).then(|| {
            let pb = ProgressBar::new_spinner();
            pb.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb.enable_steady_tick(std::time::Duration::from_millis(120));
            pb
        });
        Progress {
            bar,
            json: self.json,
            verbose: self.verbose,
            quiet: self.quiet,
        }
    }
}

pub struct Progress {
    bar: Option<ProgressBar>,
    json: bool,
    verbose: bool,
    quiet: bool,
}

impl Progress {
    pub fn sink(&self) -> EventSink {
        let bar = self.bar.clone();
        let (json, verbose, quiet) = (self.json, self.verbose, self.quiet);
        Arc::new(move |event: &Event| {
            if json {
                if let Ok(s) = serde_json::to_string(event) {
                    eprintln!("{s}");
                }
                return;
            }
            let line = describe(event);
            if let Some(pb) = &bar {
                if let Event::Warning { message } = event {
                    pb.println(format!("warning: {message}"));
                } else {
                    pb.set_message(line);
                }
            } else if verbose
                || (!quiet
                    && matches!(
                        event,
                        Event::Warning { .. } | Event::InsecureConnection { .. }
                    ))
            {
                eprintln!("{line}");
            }
        })
    }

    pub fn finish(&self) {
        if let Some(pb) = &self.bar {
            pb.finish_and_clear();
        }
    }
}

fn describe(e: &Event) -> String {
    match e {
        Event::BuildStarted { context } => format!("building {context}"),
        Event::LayerProgress { files, bytes } => format!("{files} files, {}", human_size(*bytes)),
        Event::LayerCached { digest } => format!("layer unchanged: {digest}"),
        Event::LayerDone { digest, size, .. } => format!("layer {digest} ({})", human_size(*size)),
        Event::ImageStored { digest, tags } => format!("stored {digest} {}", tags.join(" ")),
        Event::Warning { message } => format!("warning: {message}"),
        other => crate::registry_cmds::describe(other),
    }
}

/// Writes a line to stdout; a closed pipe (`idpkit images | head`) is not an error.
fn print_line(s: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{s}");
}

pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub fn images_table(images: &[ImageSummary]) -> String {
    let mut rows = vec![[
        "REFERENCE".to_string(),
        "DIGEST".into(),
        "SIZE".into(),
        "CREATED".into(),
    ]];
    for i in images {
        rows.push([
            i.reference.clone().unwrap_or_else(|| "<none>".into()),
            i.digest.chars().take(19).collect(),
            human_size(i.size),
            i.created.clone().unwrap_or_default(),
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            line.join("  ").trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
