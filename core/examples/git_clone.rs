//! Clones a git repository with idpkit's fetcher (bench/git-clone.sh times it against
//! `git clone --depth 1`):
//!
//! `git_clone URL DEST [--rev REV] [--depth N] [--ca-file PEM] [--user NAME]`
//!
//! The password or token comes from `$GIT_PASSWORD` (never an argument: arguments are visible
//! to every user of the machine); an SSH key from the file `$GIT_SSH_KEY` with known hosts
//! from `$GIT_KNOWN_HOSTS`. Prints the commit checked out.
use idpkit::gitops::git::{self, GitAuth, GitOptions, GitSource, KnownHosts};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut positional = Vec::new();
    let mut source = GitSource::default();
    let mut options = GitOptions::default();
    let mut user = String::new();
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).cloned().expect("a flag without its value");
        match args[i].as_str() {
            "--rev" => source.revision = Some(value()),
            "--depth" => source.depth = value().parse().expect("--depth N"),
            "--ca-file" => options.trust.ca_files.push(value().into()),
            "--user" => user = value(),
            a => {
                positional.push(a.to_string());
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    let [url, dest] = positional.as_slice() else {
        eprintln!(
            "usage: git_clone URL DEST [--rev REV] [--depth N] [--ca-file PEM] [--user NAME]"
        );
        std::process::exit(2);
    };
    source.url = url.clone();
    if let Some(password) = std::env::var("GIT_PASSWORD").ok().filter(|p| !p.is_empty()) {
        options.auth = GitAuth::Basic {
            username: user,
            password,
        };
    }
    let http = url.starts_with("https://") || url.starts_with("http://");
    if let Some(key) = std::env::var("GIT_SSH_KEY")
        .ok()
        .filter(|k| !http && !k.is_empty())
    {
        options.auth = GitAuth::SshKey {
            private_key_pem: std::fs::read_to_string(key).expect("read $GIT_SSH_KEY"),
            passphrase: None,
        };
    }
    if let Ok(file) = std::env::var("GIT_KNOWN_HOSTS") {
        options.known_hosts = KnownHosts::File(file.into());
    }
    match git::checkout(dest.as_ref(), &source, &options, &idpkit::Call::new()) {
        Ok(c) => println!("{}", c.commit),
        Err(e) => {
            eprintln!("git_clone: {} ({})", e.message, e.kind);
            std::process::exit(1);
        }
    }
}
