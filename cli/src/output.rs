//! How the CLI talks: human text or JSON, progress bars on a terminal, errors with kinds.

use idpkit::{Error, Event, EventSink, ImageSummary};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

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

    /// Events without a progress display (no spinner), for a command that runs until it is
    /// stopped (`source watch`): JSON lines with `--json`, warnings always (unless
    /// `--quiet`), other events with `--verbose`.
    pub fn events(&self) -> Progress {
        Progress {
            bar: None,
            multi: None,
            blobs: Arc::new(Mutex::new(HashMap::new())),
            json: self.json,
            verbose: self.verbose,
            quiet: self.quiet,
        }
    }

    /// A line for people on stderr (not with `--json` or `--quiet`).
    pub fn note(&self, line: &str) {
        if !self.json && !self.quiet {
            eprintln!("{line}");
        }
    }

    /// A progress display for a long operation: on a terminal a spinner plus one bar per
    /// blob being transferred, JSON lines with `--json`, warnings always (unless `--quiet`),
    /// other events with `--verbose`.
    pub fn progress(&self) -> Progress {
        let multi = (!self.json && !self.quiet && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let bar = multi.as_ref().map(|m| {
            let pb = m.add(ProgressBar::new_spinner());
            pb.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb.enable_steady_tick(std::time::Duration::from_millis(120));
            pb
        });
        Progress {
            bar,
            multi,
            blobs: Arc::new(Mutex::new(HashMap::new())),
            json: self.json,
            verbose: self.verbose,
            quiet: self.quiet,
        }
    }
}

pub struct Progress {
    bar: Option<ProgressBar>,
    multi: Option<MultiProgress>,
    /// One bar per blob in flight, by digest.
    blobs: Arc<Mutex<HashMap<String, ProgressBar>>>,
    json: bool,
    verbose: bool,
    quiet: bool,
}

impl Progress {
    pub fn sink(&self) -> EventSink {
        let bar = self.bar.clone();
        let multi = self.multi.clone();
        let blobs = self.blobs.clone();
        let (json, verbose, quiet) = (self.json, self.verbose, self.quiet);
        Arc::new(move |event: &Event| {
            if json {
                if let Ok(s) = serde_json::to_string(event) {
                    eprintln!("{s}");
                }
                return;
            }
            if let Some(m) = &multi {
                if blob_bar(m, &blobs, event) {
                    return;
                }
            }
            let line = describe(event);
            if let Some(pb) = &bar {
                // Warnings and audit lines stay on screen; the rest updates the spinner.
                if matches!(
                    event,
                    Event::Warning { .. } | Event::InsecureConnection { .. }
                ) {
                    pb.println(line);
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
        if let Ok(mut blobs) = self.blobs.lock() {
            for (_, pb) in blobs.drain() {
                pb.abandon();
            }
        }
    }
}

/// Draws the per-blob bars of a push or pull; returns whether the event was a blob event.
fn blob_bar(
    multi: &MultiProgress,
    blobs: &Mutex<HashMap<String, ProgressBar>>,
    event: &Event,
) -> bool {
    let Ok(mut blobs) = blobs.lock() else {
        return false;
    };
    let short = |d: &str| {
        d.trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect::<String>()
    };
    match event {
        Event::BlobStarted { digest, size } => {
            let pb = multi.add(ProgressBar::new(*size));
            pb.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            pb.set_prefix(short(digest));
            blobs.insert(digest.clone(), pb);
        }
        Event::BlobProgress { digest, bytes, .. } => {
            if let Some(pb) = blobs.get(digest) {
                pb.set_position(*bytes);
            }
        }
        Event::BlobDone { digest, .. } => {
            if let Some(pb) = blobs.remove(digest) {
                pb.finish_with_message("done");
            }
        }
        Event::BlobSkipped { digest } => {
            let _ = multi.println(format!("{} already there", short(digest)));
        }
        Event::BlobMounted { digest, from } => {
            let _ = multi.println(format!("{} mounted from {from}", short(digest)));
        }
        _ => return false,
    }
    true
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

/// Writes `value` as one JSON line to stdout and flushes it (a line of a stream another
/// program reads as it comes). Fails when stdout is gone (a closed pipe).
pub fn print_json_line<T: Serialize>(value: &T) -> std::io::Result<()> {
    use std::io::Write;
    let s = serde_json::to_string(value).map_err(std::io::Error::other)?;
    let mut o = std::io::stdout().lock();
    writeln!(o, "{s}")?;
    o.flush()
}

/// Writes a line to stdout; a closed pipe (`idpkit images | head`) is not an error.
/// Writes a whole document (completions, a man page) to stdout. A reader that stopped early
/// (`| head`) is not an error, as for any filter; another failure is an IO error.
pub fn print_document(what: &str, bytes: &[u8]) -> idpkit::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::new(
            idpkit::ErrorKind::Io,
            format!("write the {what}: {e}"),
        )),
        _ => Ok(()),
    }
}

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

/// `doctor`'s findings, problems first: status, area, what, detail, and the fix below.
pub fn doctor_text(r: &idpkit::doctor::DoctorReport) -> String {
    use idpkit::doctor::CheckStatus;
    let mut lines = Vec::new();
    for c in &r.checks {
        let status = match c.status {
            CheckStatus::Problem => "PROBLEM",
            CheckStatus::Warning => "warning",
            CheckStatus::Ok => "ok",
        };
        lines.push(format!(
            "{status:<8} {:<12} {:<18} {}",
            c.area, c.name, c.detail
        ));
        if let Some(fix) = &c.fix {
            lines.push(format!("{:<40} fix: {fix}", ""));
        }
    }
    lines.push(match r.problems {
        0 => "no problems found".to_string(),
        1 => "1 problem".to_string(),
        n => format!("{n} problems"),
    });
    lines.join("\n")
}
