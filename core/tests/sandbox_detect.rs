//! Project detection over fixture repositories written the way the tools write them
//! (Bundler's Gemfile.lock, npm's lockfileVersion 3, uv.lock, go.mod): what each project
//! is, its version, services and setup, the evidence for key findings (file and line),
//! disagreements, and the files detection could not use.

use idpkit::sandbox::detect::{detect, Detection, Ecosystem, Project, Service, ENV_RUBY_VERSION};
use std::path::Path;
use Ecosystem::{Go, Node, Python, Ruby};
use Service::{Mysql, Postgres, Redis};

/// A fixture entry.
enum Entry {
    Text(&'static str),
    Bytes(&'static [u8]),
    /// A directory where a file is expected.
    Dir,
    /// A symlink to a file with this content outside the repository.
    LinkOutside(&'static str),
    /// A symlink to a directory outside the repository holding a Rails Gemfile + lock.
    LinkDirOutside,
}
use Entry::*;

struct Expect {
    dir: &'static str,
    ecosystem: Ecosystem,
    framework: Option<&'static str>,
    version: Option<&'static str>,
    services: &'static [Service],
    setup: &'static [&'static str],
}

/// Evidence a project must hold: its file, the line of `at` in that file's fixture text,
/// and what was found (exactly).
struct Ev {
    dir: &'static str,
    ecosystem: Ecosystem,
    file: &'static str,
    at: &'static str,
    found: &'static str,
}

struct Case {
    name: &'static str,
    files: Vec<(&'static str, Entry)>,
    env: &'static [(&'static str, &'static str)],
    projects: Vec<Expect>,
    evidence: Vec<Ev>,
    /// Per project (dir, ecosystem): substrings each warning must contain; the count of
    /// warnings must match too. Projects not listed must have none.
    warnings: Vec<(&'static str, Ecosystem, Vec<&'static str>)>,
    /// (file, substring of the reason): exactly these files are unparsable.
    unparsable: Vec<(&'static str, &'static str)>,
}

// ---- Ruby fixtures ---------------------------------------------------------------------

const RAILS_PG_GEMFILE: &str = r#"source "https://rubygems.org"

ruby "3.3.1"

# Bundle edge Rails instead: gem "rails", github: "rails/rails", branch: "main"
gem "rails", "~> 7.1.3", ">= 7.1.3.4"
gem "pg", "~> 1.1"
gem "puma", ">= 5.0"
gem "sidekiq", "~> 7.2"
gem "bootsnap", require: false

group :development, :test do
  gem "debug", platforms: %i[ mri windows ]
end
"#;

const RAILS_PG_LOCK: &str = r#"GEM
  remote: https://rubygems.org/
  specs:
    actionpack (7.1.3.4)
      actionview (= 7.1.3.4)
      activesupport (= 7.1.3.4)
      nokogiri (>= 1.8.5)
      rack (>= 2.2.4)
    activesupport (7.1.3.4)
      concurrent-ruby (~> 1.0, >= 1.0.2)
      connection_pool (>= 2.2.5)
    bootsnap (1.18.3)
      msgpack (~> 1.2)
    concurrent-ruby (1.3.1)
    connection_pool (2.4.1)
    debug (1.9.2)
      irb (~> 1.10)
      reline (>= 0.3.8)
    nio4r (2.7.3)
    nokogiri (1.16.5-x86_64-linux)
      racc (~> 1.4)
    pg (1.5.6)
    puma (6.4.2)
      nio4r (~> 2.0)
    rack (3.0.11)
    rails (7.1.3.4)
      actionpack (= 7.1.3.4)
      activesupport (= 7.1.3.4)
      bundler (>= 1.15.0)
      railties (= 7.1.3.4)
    redis-client (0.22.2)
      connection_pool
    sidekiq (7.2.4)
      concurrent-ruby (< 2)
      connection_pool (>= 2.3.0)
      rack (>= 2.2.4)
      redis-client (>= 0.19.0)

PLATFORMS
  x86_64-linux

DEPENDENCIES
  bootsnap
  debug
  pg (~> 1.1)
  puma (>= 5.0)
  rails (~> 7.1.3, >= 7.1.3.4)
  sidekiq (~> 7.2)

RUBY VERSION
   ruby 3.3.1p55

BUNDLED WITH
   2.5.9
"#;

const RAILS_APPLICATION: &str = r#"require_relative "boot"

require "rails/all"

# Require the gems listed in Gemfile, including any gems
# you've limited to :test, :development, or :production.
Bundler.require(*Rails.groups)

module Shop
  class Application < Rails::Application
    config.load_defaults 7.1
  end
end
"#;

const RAILS_MYSQL_GEMFILE: &str = r#"source "https://rubygems.org"

gem "rails", "~> 7.0.8"
gem "mysql2", "~> 0.5"
gem "puma", "~> 5.0"
"#;

const RAILS_MYSQL_LOCK: &str = r#"GEM
  remote: https://rubygems.org/
  specs:
    activesupport (7.0.8.1)
      concurrent-ruby (~> 1.0, >= 1.0.2)
    concurrent-ruby (1.2.3)
    mysql2 (0.5.6)
    nio4r (2.7.0)
    puma (5.6.8)
      nio4r (~> 2.0)
    rails (7.0.8.1)
      activesupport (= 7.0.8.1)

PLATFORMS
  ruby
  x86_64-linux

DEPENDENCIES
  mysql2 (~> 0.5)
  puma (~> 5.0)
  rails (~> 7.0.8)

RUBY VERSION
   ruby 3.2.2p53

BUNDLED WITH
   2.4.19
"#;

/// Rails 7.0's generated application.rb when frameworks are picked one by one.
const RAILS_APPLICATION_PICKED: &str = r#"require_relative "boot"

require "rails"
# Pick the frameworks you want:
require "active_model/railtie"
require "active_record/railtie"

module Blog
  class Application < Rails::Application
  end
end
"#;

const PLAIN_GEMFILE: &str = r#"source "https://rubygems.org"

gem "rake", "~> 13.0"
gem "rspec", "~> 3.13", group: :test
"#;

const PLAIN_LOCK: &str = r#"GEM
  remote: https://rubygems.org/
  specs:
    diff-lcs (1.5.1)
    rake (13.2.1)
    rspec (3.13.0)
      rspec-core (~> 3.13.0)
    rspec-core (3.13.0)

PLATFORMS
  ruby

DEPENDENCIES
  rake (~> 13.0)
  rspec (~> 3.13)

BUNDLED WITH
   2.5.9
"#;

/// Gems whose names contain `pg`, `redis`, `mysql` or `resque` without being those gems.
const LOOKALIKE_GEMFILE: &str = r#"source "https://rubygems.org"

gem "activerecord", "~> 7.1"
gem "pg_search"
gem "pghero"
gem "pg_query"
gem "activerecord-postgis-adapter"
gem "redis-namespace"
gem "mysql-binuuid-rails"
gem "resque-scheduler-web"
"#;

const LOOKALIKE_LOCK: &str = r#"GEM
  remote: https://rubygems.org/
  specs:
    activerecord (7.1.3.4)
      activemodel (= 7.1.3.4)
      activesupport (= 7.1.3.4)
      timeout (>= 0.4.0)
    activerecord-postgis-adapter (9.0.2)
      activerecord (~> 7.1.0)
      rgeo-activerecord (~> 7.0.0)
    google-protobuf (3.25.3-x86_64-linux)
    mysql-binuuid-rails (1.3.0)
      activerecord (>= 5)
    pg_query (5.1.0)
      google-protobuf (>= 3.22.3)
    pg_search (2.3.6)
      activerecord (>= 5.2)
      activesupport (>= 5.2)
    pghero (3.5.0)
      activerecord (>= 6)
    redis-namespace (1.11.0)
    resque-scheduler-web (0.1.0)
    rgeo-activerecord (7.0.1)
      activerecord (>= 5.0)
    timeout (0.4.1)

PLATFORMS
  x86_64-linux

DEPENDENCIES
  activerecord (~> 7.1)
  activerecord-postgis-adapter
  mysql-binuuid-rails
  pg_query
  pg_search
  pghero
  redis-namespace
  resque-scheduler-web

BUNDLED WITH
   2.5.9
"#;

const MISMATCH_LOCK: &str = r#"GEM
  remote: https://rubygems.org/
  specs:
    rake (13.2.1)

PLATFORMS
  ruby

DEPENDENCIES
  rake

RUBY VERSION
   ruby 3.2.2p53

BUNDLED WITH
   2.5.9
"#;

// ---- Node, Python, Go fixtures ---------------------------------------------------------

const NODE_PACKAGE: &str = r#"{
  "name": "shop-api",
  "version": "1.0.0",
  "private": true,
  "scripts": {
    "start": "node server.js",
    "test": "jest"
  },
  "dependencies": {
    "express": "^4.19.2",
    "ioredis": "^5.4.1",
    "pg": "^8.11.5",
    "pg-hstore": "^2.3.4"
  },
  "devDependencies": {
    "jest": "^29.7.0"
  },
  "engines": {
    "node": ">=20"
  }
}
"#;

const NODE_LOCK: &str = r#"{
  "name": "shop-api",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {
      "name": "shop-api",
      "version": "1.0.0",
      "dependencies": {
        "express": "^4.19.2",
        "ioredis": "^5.4.1",
        "pg": "^8.11.5",
        "pg-hstore": "^2.3.4"
      },
      "devDependencies": {
        "jest": "^29.7.0"
      },
      "engines": {
        "node": ">=20"
      }
    },
    "node_modules/pg": {
      "version": "8.11.5",
      "resolved": "https://registry.npmjs.org/pg/-/pg-8.11.5.tgz",
      "integrity": "sha512-jqgNHSKL5cbDjFlHyYsCXmQDrfIX/3RsNwYqpd4N0Kt8niLuNoRNH+aazv6cOd43gPh9Y4DjQCtb+X0MH0Hvnw==",
      "dependencies": {
        "pg-connection-string": "^2.6.4"
      }
    }
  }
}
"#;

const NODE_QUEUE_PACKAGE: &str = r#"{
  "name": "jobs",
  "devDependencies": {
    "typescript": "^5.4.5"
  },
  "optionalDependencies": {
    "bullmq": "^5.7.8"
  },
  "engines": { "node": "20.x" }
}
"#;

const PYPROJECT_UV: &str = r#"[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.12"
dependencies = [
    "celery>=5.3",
    "django>=5.0",
    "psycopg[binary]>=3.1",
]

[dependency-groups]
dev = [
    "pytest>=8.2",
]
"#;

const UV_LOCK: &str = r#"version = 1
requires-python = ">=3.12"

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [
    { name = "celery" },
    { name = "django" },
    { name = "psycopg", extra = ["binary"] },
]

[package.dev-dependencies]
dev = [
    { name = "pytest" },
]

[package.metadata]
requires-dist = [
    { name = "celery", specifier = ">=5.3" },
    { name = "django", specifier = ">=5.0" },
    { name = "psycopg", extras = ["binary"], specifier = ">=3.1" },
]

[package.metadata.requires-dev]
dev = [{ name = "pytest", specifier = ">=8.2" }]

[[package]]
name = "celery"
version = "5.4.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "kombu" },
]
sdist = { url = "https://files.pythonhosted.org/packages/8a/9c/cf0bce2cc1c8971bf56629d8f180e4ca35612c7e79e6e432e785261a8be4/celery-5.4.0.tar.gz", hash = "sha256:504a19140e8d3029d5acad88330c541d4c3f64c789d85f94756762d8bca7e706", size = 1575692 }
wheels = [
    { url = "https://files.pythonhosted.org/packages/90/c4/6a4d3772e5407622feb93dd25c86ce3c0fee746fa822a777a627d56b4f2a/celery-5.4.0-py3-none-any.whl", hash = "sha256:369631eb580cf8c51a82721ec538684994f8277637edde2dfc0dacd73ed97f64", size = 425983 },
]

[[package]]
name = "django"
version = "5.0.6"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files.pythonhosted.org/packages/django-5.0.6.tar.gz", hash = "sha256:ff1b61005004e476e0aeea47c7f79b85864c70124030e95146315396f1e7951f", size = 10631010 }

[[package]]
name = "kombu"
version = "5.3.7"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files.pythonhosted.org/packages/kombu-5.3.7.tar.gz", hash = "sha256:011c4cd9a355c14a1de8d35d257314a1d2456d52b7140388561acac3cf1a97bf", size = 439307 }

[[package]]
name = "psycopg"
version = "3.1.19"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "tzdata", marker = "sys_platform == 'win32'" },
]
sdist = { url = "https://files.pythonhosted.org/packages/psycopg-3.1.19.tar.gz", hash = "sha256:92d7b78ad82426cdcf1a0440678209faa890c6e1721361c2f8901f0dccd62961", size = 153416 }

[package.optional-dependencies]
binary = [
    { name = "psycopg-binary", marker = "implementation_name != 'pypy'" },
]

[[package]]
name = "psycopg-binary"
version = "3.1.19"
source = { registry = "https://pypi.org/simple" }
wheels = [
    { url = "https://files.pythonhosted.org/packages/psycopg_binary-3.1.19-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", hash = "sha256:9f0d4d1c3b4a2f6b0e2a7c8b0c3e2d1f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d", size = 3045678 },
]

[[package]]
name = "pytest"
version = "8.2.1"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files.pythonhosted.org/packages/pytest-8.2.1.tar.gz", hash = "sha256:5046e5b46d8e4cac199c373041f26be56fdb81eb4e67dc11d4e10811fc3408fd", size = 1409176 }
"#;

const PYPROJECT_POETRY: &str = r#"[tool.poetry]
name = "ledger"
version = "0.1.0"
description = ""
authors = ["Dev <dev@example.com>"]

[tool.poetry.dependencies]
python = "^3.11"
psycopg2 = "^2.9.9"

[tool.poetry.group.dev.dependencies]
redis = "^5.0.4"

[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
"#;

const POETRY_LOCK: &str = r#"# This file is automatically @generated by Poetry 1.8.3 and should not be changed by hand.

[[package]]
name = "psycopg2"
version = "2.9.9"
description = "psycopg2 - Python-PostgreSQL Database Adapter"
optional = false
python-versions = ">=3.7"
files = [
    {file = "psycopg2-2.9.9.tar.gz", hash = "sha256:d1454bde93fb1e224166811694d600e746430c006fbb031ea06ecc2ea41bf156"},
]

[[package]]
name = "redis"
version = "5.0.4"
description = "Python client for Redis database and key-value store"
optional = false
python-versions = ">=3.7"
files = [
    {file = "redis-5.0.4-py3-none-any.whl", hash = "sha256:7adc2835c7a9b5033b7ad8f8918d09b7344188228809c98df07af226d39dec91"},
]

[package.extras]
hiredis = ["hiredis (>=1.0.0)"]

[metadata]
lock-version = "2.0"
python-versions = "^3.11"
content-hash = "b5f5ac1e8d3bbfd4c0a7d6fa4c7aa2c1a3b4a4cf1b0e7a0a1f5fd0d3c5a2e9b1"
"#;

const PIPFILE: &str = r#"[[source]]
url = "https://pypi.org/simple"
verify_ssl = true
name = "pypi"

[packages]
django = "*"
mysqlclient = "*"

[dev-packages]
pytest = "*"

[requires]
python_version = "3.11"
"#;

const REQUIREMENTS: &str = r#"# Production dependencies
Django==5.0.4
gunicorn==22.0.0  # served by gunicorn
psycopg2-binary==2.9; python_version>"3"
Redis[hiredis]>=5
-r requirements-base.txt
"#;

const GO_MOD: &str = "module github.com/acme/ledger

go 1.22

toolchain go1.22.3

require (
\tgithub.com/jackc/pgx/v5 v5.5.5
\tgithub.com/redis/go-redis/v9 v9.5.1
)

require (
\tgithub.com/cespare/xxhash/v2 v2.2.0 // indirect
\tgithub.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
\tgithub.com/jackc/pgpassfile v1.0.0 // indirect
\tgithub.com/jackc/pgservicefile v0.0.0-20221227161230-091c0ba34f0a // indirect
\tgithub.com/jackc/puddle/v2 v2.2.1 // indirect
\tgolang.org/x/crypto v0.17.0 // indirect
\tgolang.org/x/sync v0.1.0 // indirect
\tgolang.org/x/text v0.14.0 // indirect
)
";

const GO_MOD_WORKER: &str = "module github.com/acme/shop/worker

go 1.21

require github.com/lib/pq v1.10.9
";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "rails with pg and sidekiq",
            files: vec![
                ("Gemfile", Text(RAILS_PG_GEMFILE)),
                ("Gemfile.lock", Text(RAILS_PG_LOCK)),
                ("config/application.rb", Text(RAILS_APPLICATION)),
            ],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Ruby,
                framework: Some("rails"),
                version: Some("3.3.1"),
                services: &[Postgres, Redis],
                setup: &["bundle install", "bin/rails db:prepare"],
            }],
            evidence: vec![
                ev(".", Ruby, "Gemfile.lock", "    pg (1.5.6)", "gem pg → postgres"),
                ev(".", Ruby, "Gemfile.lock", "    sidekiq (7.2.4)", "gem sidekiq → redis"),
                ev(".", Ruby, "Gemfile.lock", "    rails (7.1.3.4)", "gem rails → rails"),
                ev(
                    ".",
                    Ruby,
                    "config/application.rb",
                    "require \"rails/all\"",
                    "rails (require \"rails/all\")",
                ),
                ev(".", Ruby, "Gemfile", "ruby \"3.3.1\"", "ruby 3.3.1"),
                ev(
                    ".",
                    Ruby,
                    "Gemfile.lock",
                    "   ruby 3.3.1p55",
                    "ruby 3.3.1p55 (patch level dropped: 3.3.1)",
                ),
            ],
            warnings: vec![],
            unparsable: vec![],
        },
        Case {
            name: "rails with mysql2, version from .tool-versions",
            files: vec![
                ("Gemfile", Text(RAILS_MYSQL_GEMFILE)),
                ("Gemfile.lock", Text(RAILS_MYSQL_LOCK)),
                ("config/application.rb", Text(RAILS_APPLICATION_PICKED)),
                (".tool-versions", Text("nodejs 20.11.1\nruby 3.2.2\n")),
            ],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Ruby,
                framework: Some("rails"),
                version: Some("3.2.2"),
                services: &[Mysql],
                setup: &["bundle install", "bin/rails db:prepare"],
            }],
            evidence: vec![
                ev(".", Ruby, "Gemfile.lock", "    mysql2 (0.5.6)", "gem mysql2 → mysql"),
                ev(".", Ruby, ".tool-versions", "ruby 3.2.2", "ruby 3.2.2"),
                ev(
                    ".",
                    Ruby,
                    "config/application.rb",
                    "require \"rails\"",
                    "rails (require \"rails\")",
                ),
            ],
            warnings: vec![],
            unparsable: vec![],
        },
        Case {
            name: "plain ruby, ruby-3.3.1 form of .ruby-version",
            files: vec![
                ("Gemfile", Text(PLAIN_GEMFILE)),
                ("Gemfile.lock", Text(PLAIN_LOCK)),
                (".ruby-version", Text("ruby-3.3.1\n")),
            ],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Ruby,
                framework: None,
                version: Some("3.3.1"),
                services: &[],
                setup: &["bundle install"],
            }],
            evidence: vec![ev(".", Ruby, ".ruby-version", "ruby-3.3.1", "ruby 3.3.1")],
            warnings: vec![],
            unparsable: vec![],
        },
        Case {
            name: "gems that merely look like pg, redis, mysql or resque",
            files: vec![
                ("Gemfile", Text(LOOKALIKE_GEMFILE)),
                ("Gemfile.lock", Text(LOOKALIKE_LOCK)),
            ],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Ruby,
                framework: None,
                version: None,
                services: &[],
                setup: &["bundle install"],
            }],
            evidence: vec![],
            warnings: vec![],
            unparsable: vec![],
        },
        Case {
            name: "lookalike gems in a Gemfile without a lock",
            files: vec![("Gemfile", Text(LOOKALIKE_GEMFILE))],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Ruby,
                framework: None,
                version: None,
                services: &[],
                setup: &["bundle install"],
            }],
            evidence: vec![],
            warnings: vec![],
            unparsable: vec![],
        },
        Case {
            name: "Gemfile without a lock names the services",
            files: vec![("Gemfile", Text(RAILS_PG_GEMFILE))],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Ruby,
                framework: Some("rails"),
                version: Some("3.3.1"),
                services: &[Postgres, Redis],
                setup: &["bundle install", "bin/rails db:prepare"],
            }],
            evidence: vec![
                ev(".", Ruby, "Gemfile", "gem \"pg\", \"~> 1.1\"", "gem pg → postgres"),
                ev(".", Ruby, "Gemfile", "gem \"sidekiq\"", "gem sidekiq → redis"),
            ],
            warnings: vec![],
            unparsable: vec![],
        },
        Case {
            name: ".ruby-version and Gemfile.lock disagree",
            files: vec![
                ("Gemfile", Text("source \"https://rubygems.org\"\n\ngem \"rake\"\n")),
                ("Gemfile.lock", Text(MISMATCH_LOCK)),
                (".ruby-version", Text("3.3.1\n")),
            ],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Ruby,
                framework: None,
                version: Some("3.3.1"),
                services: &[],
                setup: &["bundle install"],
            }],
            evidence: vec![
                ev(".", Ruby, ".ruby-version", "3.3.1", "ruby 3.3.1"),
                ev(
                    ".",
                    Ruby,
                    "Gemfile.lock",
                    "   ruby 3.2.2p53",
                    "ruby 3.2.2p53 (patch level dropped: 3.2.2)",
                ),
            ],
            warnings: vec![(
                ".",
                Ruby,
                vec![".ruby-version", "3.3.1", "Gemfile.lock", "3.2.2", "Bundler refuses"],
            )],
            unparsable: vec![],
        },
        Case {
            name: "the override wins over .ruby-version",
            files: vec![
                ("Gemfile", Text("source \"https://rubygems.org\"\n")),
                (".ruby-version", Text("3.3.1\n")),
            ],
            env: &[(ENV_RUBY_VERSION, " 3.4.1\n")],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Ruby,
                framework: None,
                version: Some("3.4.1"),
                services: &[],
                setup: &["bundle install"],
            }],
            evidence: vec![ev(".", Ruby, ".ruby-version", "3.3.1", "ruby 3.3.1")],
            warnings: vec![(
                ".",
                Ruby,
                vec![ENV_RUBY_VERSION, "3.4.1", ".ruby-version", "3.3.1"],
            )],
            unparsable: vec![],
        },
        Case {
            name: "Gemfile requirement agrees with the lock; ruby file: form",
            files: vec![
                ("Gemfile", Text("source \"https://rubygems.org\"\nruby '~> 3.3.0'\n")),
                ("Gemfile.lock", Text(RAILS_PG_LOCK)),
                ("engine/Gemfile", Text("ruby file: \".ruby-version\"\n")),
                ("engine/.ruby-version", Text("3.3.1 # pinned\n")),
            ],
            env: &[],
            projects: vec![
                Expect {
                    dir: ".",
                    ecosystem: Ruby,
                    framework: Some("rails"),
                    version: Some("3.3.0"),
                    services: &[Postgres, Redis],
                    setup: &["bundle install", "bin/rails db:prepare"],
                },
                Expect {
                    dir: "engine",
                    ecosystem: Ruby,
                    framework: None,
                    version: Some("3.3.1"),
                    services: &[],
                    setup: &["bundle install"],
                },
            ],
            evidence: vec![
                ev(
                    ".",
                    Ruby,
                    "Gemfile",
                    "ruby '~> 3.3.0'",
                    "ruby ~> 3.3.0 (a requirement: 3.3.0 taken as the version)",
                ),
                ev(
                    "engine",
                    Ruby,
                    "engine/Gemfile",
                    "ruby file:",
                    "ruby 3.3.1 (ruby file: \".ruby-version\")",
                ),
            ],
            warnings: vec![],
            unparsable: vec![],
        },
        Case {
            name: "node with pg and ioredis, npm lock, .nvmrc",
            files: vec![
                ("package.json", Text(NODE_PACKAGE)),
                ("package-lock.json", Text(NODE_LOCK)),
                (".nvmrc", Text("v20.11.1\n")),
            ],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Node,
                framework: None,
                version: Some("v20.11.1"),
                services: &[Postgres, Redis],
                setup: &["npm ci"],
            }],
            evidence: vec![
                ev(".", Node, "package.json", "\"pg\": \"^8.11.5\"", "package pg → postgres"),
                ev(".", Node, "package.json", "\"ioredis\"", "package ioredis → redis"),
                ev(".", Node, ".nvmrc", "v20.11.1", "node v20.11.1"),
            ],
            warnings: vec![],
            unparsable: vec![],
        },
        Case {
            name: "node with an optional bullmq, yarn lock, engines version",
            files: vec![
                ("package.json", Text(NODE_QUEUE_PACKAGE)),
                ("yarn.lock", Text("# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n")),
            ],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Node,
                framework: None,
                version: Some("20"),
                services: &[Redis],
                setup: &["yarn install --frozen-lockfile"],
            }],
            evidence: vec![ev(".", Node, "package.json", "\"bullmq\"", "package bullmq → redis")],
            warnings: vec![],
            unparsable: vec![],
        },
        Case {
            name: "python with uv.lock: psycopg and celery",
            files: vec![
                ("pyproject.toml", Text(PYPROJECT_UV)),
                ("uv.lock", Text(UV_LOCK)),
                (".python-version", Text("3.12\n")),
            ],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Python,
                framework: None,
                version: Some("3.12"),
                services: &[Postgres, Redis],
                setup: &["uv sync --frozen"],
            }],
            evidence: vec![
                ev(".", Python, "uv.lock", "name = \"psycopg\"", "package psycopg → postgres"),
                ev(
                    ".",
                    Python,
                    "uv.lock",
                    "name = \"celery\"",
                    "package celery → redis (Redis is Celery's usual broker)",
                ),
                ev(
                    ".",
                    Python,
                    "pyproject.toml",
                    "\"psycopg[binary]>=3.1\"",
                    "package psycopg → postgres",
                ),
                ev(".", Python, ".python-version", "3.12", "python 3.12"),
            ],
            warnings: vec![],
            unparsable: vec![],
        },
        Case {
            name: "python with poetry: version from the python dependency, a dev group",
            files: vec![
                ("pyproject.toml", Text(PYPROJECT_POETRY)),
                ("poetry.lock", Text(POETRY_LOCK)),
            ],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Python,
                framework: None,
                version: Some("3.11"),
                services: &[Postgres, Redis],
                setup: &["poetry install"],
            }],
            evidence: vec![
                ev(".", Python, "pyproject.toml", "psycopg2 = ", "package psycopg2 → postgres"),
                ev(".", Python, "pyproject.toml", "redis = ", "package redis → redis"),
                ev(".", Python, "poetry.lock", "name = \"redis\"", "package redis → redis"),
                ev(
                    ".",
                    Python,
                    "pyproject.toml",
                    "python = ",
                    "python ^3.11 (a requirement: 3.11 taken as the version)",
                ),
            ],
            warnings: vec![],
            unparsable: vec![],
        },
        Case {
            name: "python with a Pipfile and its lock; .python-version disagrees",
            files: vec![
                ("Pipfile", Text(PIPFILE)),
                ("Pipfile.lock", Text("{\"_meta\": {}, \"default\": {}, \"develop\": {}}\n")),
                (".python-version", Text("3.12.3\n")),
            ],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Python,
                framework: None,
                version: Some("3.12.3"),
                services: &[Mysql],
                setup: &["pipenv install --deploy"],
            }],
            evidence: vec![
                ev(".", Python, "Pipfile", "mysqlclient", "package mysqlclient → mysql"),
                ev(".", Python, "Pipfile", "python_version", "python 3.11"),
            ],
            warnings: vec![(".", Python, vec![".python-version", "3.12.3", "Pipfile", "3.11"])],
            unparsable: vec![],
        },
        Case {
            name: "python requirements with extras and markers",
            files: vec![
                ("requirements.txt", Text(REQUIREMENTS)),
                ("requirements-base.txt", Text("whitenoise==6.6.0\n")),
                ("requirements-dev.txt", Text("pytest==8.2.1\npytest-django\n")),
            ],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Python,
                framework: None,
                version: None,
                services: &[Postgres, Redis],
                setup: &["pip install -r requirements.txt"],
            }],
            evidence: vec![
                ev(
                    ".",
                    Python,
                    "requirements.txt",
                    "psycopg2-binary==2.9",
                    "package psycopg2-binary → postgres",
                ),
                ev(".", Python, "requirements.txt", "Redis[hiredis]", "package redis → redis"),
            ],
            warnings: vec![],
            unparsable: vec![],
        },
        Case {
            name: "go with pgx/v5 and go-redis/v9, toolchain line",
            files: vec![("go.mod", Text(GO_MOD))],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Go,
                framework: None,
                version: Some("1.22.3"),
                services: &[Postgres, Redis],
                setup: &["go mod download"],
            }],
            evidence: vec![
                ev(
                    ".",
                    Go,
                    "go.mod",
                    "github.com/jackc/pgx/v5",
                    "module github.com/jackc/pgx/v5 → postgres",
                ),
                ev(
                    ".",
                    Go,
                    "go.mod",
                    "github.com/redis/go-redis/v9",
                    "module github.com/redis/go-redis/v9 → redis",
                ),
                ev(".", Go, "go.mod", "toolchain", "go 1.22.3 (toolchain go1.22.3 line)"),
            ],
            warnings: vec![],
            unparsable: vec![],
        },
        Case {
            name: "monorepo: api (Rails + its package.json), web, worker; dependencies and links skipped",
            files: vec![
                ("package.json", Text("{\n  \"private\": true,\n  \"devDependencies\": { \"prettier\": \"^3.2.5\" }\n}\n")),
                ("api/Gemfile", Text(RAILS_PG_GEMFILE)),
                ("api/Gemfile.lock", Text(RAILS_PG_LOCK)),
                ("api/config/application.rb", Text(RAILS_APPLICATION)),
                ("api/package.json", Text("{\n  \"name\": \"app\",\n  \"dependencies\": {\n    \"esbuild\": \"^0.21.4\"\n  }\n}\n")),
                ("api/yarn.lock", Text("# yarn lockfile v1\n")),
                ("web/package.json", Text("{\n  \"name\": \"web\",\n  \"dependencies\": {\n    \"redis\": \"^4.6.14\"\n  }\n}\n")),
                ("web/pnpm-lock.yaml", Text("lockfileVersion: '9.0'\n")),
                ("web/node_modules/pg/package.json", Text("{\"name\": \"pg\", \"dependencies\": {\"pg-pool\": \"3\"}}\n")),
                ("worker/go.mod", Text(GO_MOD_WORKER)),
                ("node_modules/ioredis/package.json", Text("{\"name\": \"ioredis\"}\n")),
                ("vendor/bundle/Gemfile", Text("gem \"mysql2\"\n")),
                (".github/workflows/Gemfile", Text("gem \"mysql2\"\n")),
                ("shared", LinkDirOutside),
                ("a/b/c/d/go.mod", Text(GO_MOD)),
            ],
            env: &[],
            projects: vec![
                Expect {
                    dir: ".",
                    ecosystem: Node,
                    framework: None,
                    version: None,
                    services: &[],
                    setup: &["npm install"],
                },
                Expect {
                    dir: "api",
                    ecosystem: Ruby,
                    framework: Some("rails"),
                    version: Some("3.3.1"),
                    services: &[Postgres, Redis],
                    setup: &["bundle install", "bin/rails db:prepare"],
                },
                Expect {
                    dir: "api",
                    ecosystem: Node,
                    framework: None,
                    version: None,
                    services: &[],
                    setup: &["yarn install --frozen-lockfile"],
                },
                Expect {
                    dir: "web",
                    ecosystem: Node,
                    framework: None,
                    version: None,
                    services: &[Redis],
                    setup: &["pnpm install --frozen-lockfile"],
                },
                Expect {
                    dir: "worker",
                    ecosystem: Go,
                    framework: None,
                    version: Some("1.21"),
                    services: &[Postgres],
                    setup: &["go mod download"],
                },
            ],
            evidence: vec![
                ev("api", Ruby, "api/Gemfile.lock", "    pg (1.5.6)", "gem pg → postgres"),
                ev(
                    "api",
                    Ruby,
                    "api/config/application.rb",
                    "require \"rails/all\"",
                    "rails (require \"rails/all\")",
                ),
                ev("web", Node, "web/package.json", "\"redis\"", "package redis → redis"),
                ev(
                    "worker",
                    Go,
                    "worker/go.mod",
                    "require github.com/lib/pq",
                    "module github.com/lib/pq → postgres",
                ),
                ev("worker", Go, "worker/go.mod", "go 1.21", "go 1.21 (go line)"),
            ],
            warnings: vec![],
            unparsable: vec![],
        },
        Case {
            name: "empty repository",
            files: vec![("README.md", Text("# nothing here\n")), ("docs", Dir)],
            env: &[],
            projects: vec![],
            evidence: vec![],
            warnings: vec![],
            unparsable: vec![],
        },
        Case {
            name: "a Gemfile that is a directory",
            files: vec![("Gemfile", Dir)],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Ruby,
                framework: None,
                version: None,
                services: &[],
                setup: &["bundle install"],
            }],
            evidence: vec![],
            warnings: vec![],
            unparsable: vec![("Gemfile", "a directory")],
        },
        Case {
            name: "a Gemfile linking outside the repository is not read",
            files: vec![
                ("api/Gemfile", LinkOutside("gem \"pg\"\ngem \"rails\"\n")),
                ("api/.ruby-version", LinkOutside("3.3.1\n")),
            ],
            env: &[],
            projects: vec![Expect {
                dir: "api",
                ecosystem: Ruby,
                framework: None,
                version: None,
                services: &[],
                setup: &["bundle install"],
            }],
            evidence: vec![],
            warnings: vec![],
            unparsable: vec![
                ("api/.ruby-version", "symbolic link"),
                ("api/Gemfile", "symbolic link"),
            ],
        },
        Case {
            name: "ruby file: pointing at a link (refused once) or at .tool-versions",
            files: vec![
                ("a/Gemfile", Text("ruby file: \".ruby-version\"\n")),
                ("a/.ruby-version", LinkOutside("3.3.1\n")),
                ("b/Gemfile", Text("source \"https://rubygems.org\"\nruby file: \".tool-versions\"\n")),
                ("b/.tool-versions", Text("nodejs 20.11.1\nruby 3.3.1\n")),
            ],
            env: &[],
            projects: vec![
                Expect {
                    dir: "a",
                    ecosystem: Ruby,
                    framework: None,
                    version: None,
                    services: &[],
                    setup: &["bundle install"],
                },
                Expect {
                    dir: "b",
                    ecosystem: Ruby,
                    framework: None,
                    version: Some("3.3.1"),
                    services: &[],
                    setup: &["bundle install"],
                },
            ],
            evidence: vec![
                ev("b", Ruby, "b/.tool-versions", "ruby 3.3.1", "ruby 3.3.1"),
                ev(
                    "b",
                    Ruby,
                    "b/Gemfile",
                    "ruby file:",
                    "ruby 3.3.1 (ruby file: \".tool-versions\")",
                ),
            ],
            warnings: vec![],
            unparsable: vec![("a/.ruby-version", "symbolic link")],
        },
        Case {
            name: "a Gemfile.lock that is not UTF-8 falls back to the Gemfile",
            files: vec![
                ("Gemfile", Text("source \"https://rubygems.org\"\ngem \"redis\"\n")),
                ("Gemfile.lock", Bytes(b"GEM\n  specs:\n    pg (1.5.6)\n\xff\xfe\n")),
            ],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Ruby,
                framework: None,
                version: None,
                services: &[Redis],
                setup: &["bundle install"],
            }],
            evidence: vec![ev(".", Ruby, "Gemfile", "gem \"redis\"", "gem redis → redis")],
            warnings: vec![],
            unparsable: vec![("Gemfile.lock", "not UTF-8")],
        },
        Case {
            name: "invalid package.json",
            files: vec![(
                "web/package.json",
                Text("{\n  \"name\": \"web\",\n  \"dependencies\": {\n    \"pg\": \"^8.11.5\",\n  }\n}\n"),
            )],
            env: &[],
            projects: vec![Expect {
                dir: "web",
                ecosystem: Node,
                framework: None,
                version: None,
                services: &[],
                setup: &["npm install"],
            }],
            evidence: vec![],
            warnings: vec![],
            unparsable: vec![("web/package.json", "invalid JSON at line 5")],
        },
        Case {
            name: "invalid pyproject.toml, services from the requirements",
            files: vec![
                ("pyproject.toml", Text("[project]\nname = \"app\"\ndependencies = [\"asyncpg\"\n")),
                ("requirements.txt", Text("PyMySQL==1.1.1\n")),
            ],
            env: &[],
            projects: vec![Expect {
                dir: ".",
                ecosystem: Python,
                framework: None,
                version: None,
                services: &[Mysql],
                setup: &["pip install -r requirements.txt"],
            }],
            evidence: vec![ev(".", Python, "requirements.txt", "PyMySQL", "package pymysql → mysql")],
            warnings: vec![],
            unparsable: vec![("pyproject.toml", "invalid TOML at line")],
        },
    ]
}

fn ev(
    dir: &'static str,
    ecosystem: Ecosystem,
    file: &'static str,
    at: &'static str,
    found: &'static str,
) -> Ev {
    Ev {
        dir,
        ecosystem,
        file,
        at,
        found,
    }
}

/// Writes the case's files under `root`; links point into `outside`.
fn build(root: &Path, outside: &Path, files: &[(&str, Entry)]) {
    for (i, (path, entry)) in files.iter().enumerate() {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        match entry {
            Text(t) => std::fs::write(&p, t).unwrap(),
            Bytes(b) => std::fs::write(&p, b).unwrap(),
            Dir => std::fs::create_dir_all(&p).unwrap(),
            LinkOutside(t) => {
                let target = outside.join(format!("file{i}"));
                std::fs::write(&target, t).unwrap();
                std::os::unix::fs::symlink(&target, &p).unwrap();
            }
            LinkDirOutside => {
                let target = outside.join(format!("dir{i}"));
                std::fs::create_dir_all(&target).unwrap();
                std::fs::write(target.join("Gemfile"), RAILS_PG_GEMFILE).unwrap();
                std::fs::write(target.join("Gemfile.lock"), RAILS_PG_LOCK).unwrap();
                std::os::unix::fs::symlink(&target, &p).unwrap();
            }
        }
    }
}

/// The 1-based line of `file`'s fixture text that is `at` (trimmed), else the first that
/// contains it.
fn line_in(files: &[(&str, Entry)], file: &str, at: &str) -> u32 {
    let Some((_, Text(text))) = files.iter().find(|(p, _)| *p == file) else {
        panic!("no text fixture {file}");
    };
    let i = text
        .lines()
        .position(|l| l.trim() == at.trim())
        .or_else(|| text.lines().position(|l| l.contains(at)))
        .unwrap_or_else(|| panic!("{at:?} not in {file}"));
    u32::try_from(i + 1).unwrap()
}

fn find<'a>(d: &'a Detection, dir: &str, eco: Ecosystem) -> Option<&'a Project> {
    d.projects
        .iter()
        .find(|p| p.dir == dir && p.ecosystem == eco)
}

/// Every mismatch between the case and what detection found, in words.
fn check(case: &Case, d: &Detection) -> Vec<String> {
    let mut errs = Vec::new();
    let got: Vec<(&str, Ecosystem)> = d
        .projects
        .iter()
        .map(|p| (p.dir.as_str(), p.ecosystem))
        .collect();
    let want: Vec<(&str, Ecosystem)> = case.projects.iter().map(|e| (e.dir, e.ecosystem)).collect();
    if got != want {
        errs.push(format!("projects {got:?}, expected {want:?}"));
    }
    for e in &case.projects {
        let Some(p) = find(d, e.dir, e.ecosystem) else {
            continue;
        };
        let id = format!("{} {:?}", e.dir, e.ecosystem);
        if p.framework.as_deref() != e.framework {
            errs.push(format!(
                "{id}: framework {:?}, expected {:?}",
                p.framework, e.framework
            ));
        }
        if p.version.as_deref() != e.version {
            errs.push(format!(
                "{id}: version {:?}, expected {:?}",
                p.version, e.version
            ));
        }
        if p.services != e.services {
            errs.push(format!(
                "{id}: services {:?}, expected {:?}",
                p.services, e.services
            ));
        }
        if p.setup != e.setup {
            errs.push(format!("{id}: setup {:?}, expected {:?}", p.setup, e.setup));
        }
        let want_warnings = case
            .warnings
            .iter()
            .filter(|(dir, eco, _)| *dir == e.dir && *eco == e.ecosystem)
            .collect::<Vec<_>>();
        if p.warnings.len() != want_warnings.len() {
            errs.push(format!(
                "{id}: warnings {:?}, expected {}",
                p.warnings,
                want_warnings.len()
            ));
        }
        for ((_, _, parts), w) in want_warnings.iter().zip(&p.warnings) {
            for part in parts {
                if !w.contains(part) {
                    errs.push(format!("{id}: warning {w:?} does not say {part:?}"));
                }
            }
        }
    }
    for ev in &case.evidence {
        let Some(p) = find(d, ev.dir, ev.ecosystem) else {
            errs.push(format!(
                "no project {} {:?} for evidence",
                ev.dir, ev.ecosystem
            ));
            continue;
        };
        let fixture = ev.file;
        let line = line_in(&case.files, fixture, ev.at);
        let hit = p
            .evidence
            .iter()
            .any(|e| e.file == ev.file && e.line == Some(line) && e.found == ev.found);
        if !hit {
            errs.push(format!(
                "{} {:?}: no evidence {}:{line} {:?} in {:#?}",
                ev.dir, ev.ecosystem, ev.file, ev.found, p.evidence
            ));
        }
    }
    let got: Vec<&str> = d.unparsable.iter().map(|u| u.file.as_str()).collect();
    let want: Vec<&str> = case.unparsable.iter().map(|(f, _)| *f).collect();
    if got != want {
        errs.push(format!("unparsable {:?}, expected {want:?}", d.unparsable));
    }
    for (u, (_, reason)) in d.unparsable.iter().zip(&case.unparsable) {
        if !u.reason.contains(reason) {
            errs.push(format!(
                "{}: reason {:?} does not say {reason:?}",
                u.file, u.reason
            ));
        }
    }
    errs
}

#[test]
fn fixtures() {
    let mut failures = Vec::new();
    for case in cases() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        build(root.path(), outside.path(), &case.files);
        let env = |name: &str| {
            case.env
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let d = detect(root.path(), &env);
        for e in check(&case, &d) {
            failures.push(format!("{}: {e}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Without the override the process's environment is not consulted: `env` is the only
/// source of variables, so a variable set for the test process changes nothing.
#[test]
fn the_override_comes_only_from_the_given_environment() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("Gemfile"), "ruby \"3.3.1\"\n").unwrap();
    let d = detect(root.path(), &|_| None);
    assert_eq!(d.projects[0].version.as_deref(), Some("3.3.1"));
    let d = detect(root.path(), &|_| Some("   ".into()));
    assert_eq!(
        d.projects[0].version.as_deref(),
        Some("3.3.1"),
        "a blank override is none"
    );
}

/// A repository shaped to make detection slow (thousands of directories, deep nesting)
/// is walked within the bounds, and says it stopped.
#[test]
fn a_hostile_tree_is_bounded() {
    let root = tempfile::tempdir().unwrap();
    for i in 0..2100 {
        std::fs::create_dir(root.path().join(format!("d{i:04}"))).unwrap();
    }
    let deep = root.path().join("d0000/x/y/z");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("package.json"), "{}").unwrap();
    let big = std::fs::File::create(root.path().join("package.json")).unwrap();
    big.set_len(5 * 1024 * 1024).unwrap();
    let d = detect(root.path(), &|_| None);
    let dirs: Vec<&str> = d.projects.iter().map(|p| p.dir.as_str()).collect();
    assert_eq!(
        dirs,
        ["."],
        "the root's package.json only: depth 4 is not examined"
    );
    let reasons: Vec<(&str, &str)> = d
        .unparsable
        .iter()
        .map(|u| (u.file.as_str(), u.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, "d1999");
    assert!(
        reasons[0].1.contains("at most 2000 directories"),
        "{reasons:?}"
    );
    assert_eq!(reasons[1].0, "package.json");
    assert!(reasons[1].1.contains("4 MiB"), "{reasons:?}");
}

#[test]
fn detection_serializes_with_lowercase_names() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("go.mod"), GO_MOD_WORKER).unwrap();
    let d = detect(root.path(), &|_| None);
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["projects"][0]["ecosystem"], "go");
    assert_eq!(json["projects"][0]["services"][0], "postgres");
    assert_eq!(json["projects"][0]["evidence"][1]["line"], 5);
}
