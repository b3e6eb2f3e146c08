//! The house rules of `src/lib.rs`, enforced: every `crate::…` path in `src/` is read, and a
//! path that runs up a layer or from one feature into another fails the test with the file,
//! the line and the rule it breaks.
//!
//! ```text
//! app  >  features/*  >  auth  >  web  >  infra  >  config
//! ```
//!
//! A module may name its own layer and the ones below it; a feature may name itself but no
//! other feature. `lib.rs` and `main.rs` stand above everything.

use std::path::{Path, PathBuf};

/// Where a file (or a `crate::` path) sits.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Layer {
    Config,
    Infra,
    Web,
    Auth,
    Feature(String),
    App,
    /// `lib.rs`, `main.rs`: the crate's roots.
    Root,
}

impl Layer {
    fn rank(&self) -> u8 {
        match self {
            Layer::Config => 0,
            Layer::Infra => 1,
            Layer::Web => 2,
            Layer::Auth => 3,
            Layer::Feature(_) => 4,
            Layer::App => 5,
            Layer::Root => 6,
        }
    }

    /// The layer of `segments`, the path inside `src/` (a file) or after `crate::` (a name).
    fn of(segments: &[&str]) -> Option<Layer> {
        Some(match segments.first().copied()? {
            "config" => Layer::Config,
            "infra" => Layer::Infra,
            "web" => Layer::Web,
            "auth" => Layer::Auth,
            "app" => Layer::App,
            "features" => Layer::Feature(segments.get(1)?.trim_end_matches(".rs").to_owned()),
            "lib.rs" | "main.rs" => Layer::Root,
            // Re-exports of the crate root (`crate::fanvue`, `crate::install_crypto_provider`…).
            _ => Layer::Root,
        })
    }
}

/// One broken rule.
#[derive(Debug, PartialEq, Eq)]
struct Violation {
    file: String,
    line: usize,
    path: String,
    rule: &'static str,
}

/// The `crate::a::b` paths of `source`, with their line numbers; comments are skipped.
fn crate_paths(source: &str) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    for (number, line) in source.lines().enumerate() {
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let preceded_by_ident =
                rest[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            let after = &rest[at + "crate::".len()..];
            if !preceded_by_ident {
                let segments: Vec<String> = after
                    .split("::")
                    .map(|s| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>())
                    .take_while(|s| !s.is_empty())
                    .take(2)
                    .collect();
                // `use crate::{a, b}`: each name in the braces.
                if segments.is_empty() && after.starts_with('{') {
                    let inner = after[1..].split('}').next().unwrap_or("");
                    for name in inner.split(',') {
                        let parts: Vec<String> = name.trim().split("::").take(2).map(|s| s.trim().to_owned()).collect();
                        if !parts[0].is_empty() {
                            found.push((number + 1, parts));
                        }
                    }
                } else if !segments.is_empty() {
                    found.push((number + 1, segments));
                }
            }
            rest = after;
        }
    }
    found
}

/// The rules, applied to the file at `file` (relative to `src/`) holding `source`.
fn check(file: &str, source: &str) -> Vec<Violation> {
    let parts: Vec<&str> = file.split('/').collect();
    let Some(own) = Layer::of(&parts) else { return Vec::new() };
    let mut violations = Vec::new();
    for (line, segments) in crate_paths(source) {
        let names: Vec<&str> = segments.iter().map(String::as_str).collect();
        let Some(target) = Layer::of(&names) else { continue };
        let rule = match (&own, &target) {
            (Layer::Feature(mine), Layer::Feature(theirs)) if mine != theirs => {
                Some("a feature never imports another feature; wire them together in app/")
            }
            _ if target.rank() > own.rank() => {
                Some("imports run down only: app > features > auth > web > infra > config")
            }
            _ => None,
        };
        if let Some(rule) = rule {
            violations.push(Violation {
                file: file.to_owned(),
                line,
                path: format!("crate::{}", segments.join("::")),
                rule,
            });
        }
    }
    violations
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_import_in_src_follows_the_house_rules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 30, "the tree was read: {} files", files.len());
    let mut violations = Vec::new();
    let mut paths = 0;
    for path in &files {
        let relative = path.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        let source = std::fs::read_to_string(path).unwrap();
        paths += crate_paths(&source).len();
        violations.extend(check(&relative, &source));
    }
    assert!(paths > 150, "crate:: paths were found: {paths}");
    let report: Vec<String> =
        violations.iter().map(|v| format!("src/{}:{}: {} — {}", v.file, v.line, v.path, v.rule)).collect();
    assert!(report.is_empty(), "{} import(s) break the house rules:\n{}", report.len(), report.join("\n"));
}

#[test]
fn the_checker_flags_upward_and_sideways_imports() {
    let upward = "use crate::features::console::Console;\nfn f() { crate::app::build_app; }\n";
    let found = check("infra/cache.rs", upward);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!((found[0].line, found[0].path.as_str()), (1, "crate::features::console"));
    let sideways = "use crate::features::paid::Subscribed;\n";
    let found = check("features/embedded/mod.rs", sideways);
    assert_eq!(found.len(), 1);
    assert!(found[0].rule.contains("another feature"));
    let braces = "use crate::{web::page::render, app::AppState};\n";
    assert_eq!(check("auth/upstream.rs", braces).len(), 1, "the `app` inside braces");
    // Allowed: down, sideways within a layer, the own feature, comments, other crates' paths.
    let fine = "use crate::config::Config;\nuse crate::infra::cache::TtlCache;\n\
                use crate::features::console::media;\n// crate::app::state\nuse fanvue_sandbox::crate_like;\n";
    assert!(check("features/console/home.rs", fine).is_empty());
    assert!(check("app/mod.rs", "use crate::features::console;\n").is_empty());
    assert!(check("config/mod.rs", "use crate::web::page;\n").len() == 1, "config imports nothing above it");
}
