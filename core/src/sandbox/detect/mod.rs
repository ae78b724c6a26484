//! Project detection: one provider per ecosystem (Ruby, Node, Python, Go), each reading the
//! project's own files and returning what it found with evidence (file and line).
//!
//! Detection never fails the run: a file that cannot be read or parsed is named in
//! [`Detection::unparsable`], and the plan falls back to every service when nothing
//! trustworthy is left (see `plan`). A project whose files parse and name no service gets
//! no services: that is an answer.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

mod files;
mod go;
mod node;
mod python;
mod ruby;
pub(crate) mod version;
mod walk;

use files::ProjectDir;

/// An ecosystem a provider recognizes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Ruby,
    Node,
    Python,
    Go,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 4] = [
        Ecosystem::Ruby,
        Ecosystem::Node,
        Ecosystem::Python,
        Ecosystem::Go,
    ];

    /// The lower-case name (`ruby`), as in image tags and the config file.
    pub fn name(self) -> &'static str {
        match self {
            Ecosystem::Ruby => "ruby",
            Ecosystem::Node => "node",
            Ecosystem::Python => "python",
            Ecosystem::Go => "go",
        }
    }
}

/// A backing service a project needs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Postgres,
    Mysql,
    Redis,
}

impl Service {
    pub const ALL: [Service; 3] = [Service::Postgres, Service::Mysql, Service::Redis];

    /// The lower-case name (`postgres`), as in profiles and the config file.
    pub fn name(self) -> &'static str {
        match self {
            Service::Postgres => "postgres",
            Service::Mysql => "mysql",
            Service::Redis => "redis",
        }
    }
}

/// Where a finding comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// The file, relative to the planned directory, with `/` separators
    /// (`api/Gemfile.lock`).
    pub file: String,
    /// The 1-based line, when the finding is on one line.
    pub line: Option<u32>,
    /// What was found there, in words: `gem pg → postgres`, `ruby 3.3.1`, `rails`.
    pub found: String,
}

/// A file detection could not use, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Unparsable {
    /// The file, relative to the planned directory, with `/` separators.
    pub file: String,
    pub reason: String,
}

/// One project: a directory with one ecosystem's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Project {
    /// The project's directory relative to the planned directory (`.` for the root).
    pub dir: String,
    pub ecosystem: Ecosystem,
    /// A framework recognized on top of the ecosystem (`rails`).
    pub framework: Option<String>,
    /// The runtime version the project asks for, as written by its winning source
    /// (`3.3.1`, `20`, `3.12`, `1.22.3`); none when nothing names one.
    pub version: Option<String>,
    /// The services the project's dependencies need, sorted, without duplicates.
    pub services: Vec<Service>,
    /// Commands that prepare the project, run in its directory, in order
    /// (`bundle install`, `bin/rails db:prepare`).
    pub setup: Vec<String>,
    /// Why each finding (version, framework, service) was made.
    pub evidence: Vec<Evidence>,
    /// Disagreements a user must know of (`.ruby-version` says 3.3.1 but `Gemfile.lock`
    /// says 3.2.2: Bundler refuses to run with such a mismatch).
    pub warnings: Vec<String>,
}

/// What detection found under one directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Detection {
    /// Every project found, the root's first, then by directory.
    pub projects: Vec<Project>,
    /// Files that named a project but could not be read or parsed; a project whose
    /// dependency file is unparsable is still listed, but its services are unknown.
    pub unparsable: Vec<Unparsable>,
}

/// Environment variable that overrides the Ruby version of every Ruby project.
pub const ENV_RUBY_VERSION: &str = "IDPKIT_SANDBOX_RUBY_VERSION";

/// Detects the projects under `root`. `env` looks up environment variables (the override
/// of the Ruby version), so tests need not touch the process's environment.
pub fn detect(root: &Path, env: &dyn Fn(&str) -> Option<String>) -> Detection {
    let mut unparsable = Vec::new();
    let mut projects = Vec::new();
    for dir in walk::walk(root, &mut unparsable) {
        for provider in PROVIDERS {
            if provider.claims(&dir) {
                let mut cx = Cx {
                    dir: &dir,
                    env,
                    unparsable: &mut unparsable,
                };
                let mut project = provider.detect(&mut cx);
                project.services.sort();
                project.services.dedup();
                projects.push(project);
            }
        }
    }
    // The root's project first, then by directory, then in ecosystem order.
    projects.sort_by(|a, b| {
        (a.dir != ".", &a.dir, a.ecosystem).cmp(&(b.dir != ".", &b.dir, b.ecosystem))
    });
    // Sorted by file and reason so the same refusal (a file two sources point at) shows once.
    unparsable.sort_by(|a, b| (&a.file, &a.reason).cmp(&(&b.file, &b.reason)));
    unparsable.dedup();
    Detection {
        projects,
        unparsable,
    }
}

/// One ecosystem's detection: which directories are its projects, and what a project
/// needs. Providers are independent of each other; a directory may hold several projects
/// (a Rails app with its own package.json is a Ruby and a Node project).
trait Provider {
    /// Whether `dir` holds this ecosystem's manifest (present, even if unreadable).
    fn claims(&self, dir: &ProjectDir) -> bool;
    /// The project in `cx.dir`; files it cannot use go to `cx.unparsable`.
    fn detect(&self, cx: &mut Cx) -> Project;
}

const PROVIDERS: [&dyn Provider; 4] = [&ruby::Ruby, &node::Node, &python::Python, &go::Go];

/// What a provider works with: the directory, the environment, and where to put files it
/// cannot use.
struct Cx<'a> {
    dir: &'a ProjectDir,
    env: &'a dyn Fn(&str) -> Option<String>,
    unparsable: &'a mut Vec<Unparsable>,
}

impl Cx<'_> {
    /// The text of `name` in the project's directory, `None` when missing or unusable
    /// (then recorded as unparsable).
    fn read(&mut self, name: &str) -> Option<String> {
        self.dir.read(name, self.unparsable)
    }

    /// `name` relative to the detection root, as evidence names files.
    fn file(&self, name: &str) -> String {
        self.dir.rel_file(name)
    }

    /// Records that `name` could be read but not parsed.
    fn cannot_parse(&mut self, name: &str, reason: String) {
        let file = self.file(name);
        self.unparsable.push(Unparsable { file, reason });
    }

    /// An empty project of `ecosystem` in this directory.
    fn project(&self, ecosystem: Ecosystem) -> Project {
        Project {
            dir: self.dir.rel.clone(),
            ecosystem,
            framework: None,
            version: None,
            services: Vec::new(),
            setup: Vec::new(),
            evidence: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

impl Project {
    /// Adds `service` with its evidence; the same finding in the same file is recorded
    /// once (a lock names a gem in its specs and again in its dependencies).
    fn add_service(&mut self, service: Service, evidence: Evidence) {
        self.services.push(service);
        self.add_evidence(evidence);
    }

    fn add_evidence(&mut self, evidence: Evidence) {
        if !self
            .evidence
            .iter()
            .any(|e| e.file == evidence.file && e.found == evidence.found)
        {
            self.evidence.push(evidence);
        }
    }
}
