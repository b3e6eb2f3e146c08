//! Contract tests: the client, the pages and the sandbox against Fanvue's published API
//! reference (`contract/fanvue-api.json`, derived from the public pages by
//! `scripts/derive-contract`). Nothing here reaches outside the repository.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fanvue_app_starter::fanvue::contract::{self, Authority};
use fanvue_app_starter::fanvue::endpoints::{ENDPOINTS, Source};
use fanvue_app_starter::scopes::Scope;

fn scope_names(scopes: &[Scope]) -> Vec<String> {
    let mut names: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
    names.sort();
    names
}

#[test]
fn the_scope_table_equals_the_published_scopes_for_every_published_endpoint() {
    let reference = contract::contract().unwrap();
    let mut problems = Vec::new();
    for op in reference.operations() {
        let row =
            ENDPOINTS.iter().find(|e| e.method == op.method && contract::shape(e.pattern) == contract::shape(&op.path));
        let Some(row) = row else {
            problems.push(format!("{} {} ({}) has no row in the endpoint table", op.method, op.path, op.source));
            continue;
        };
        let mut published = op.scopes.clone();
        published.sort();
        if scope_names(row.scopes) != published {
            problems.push(format!(
                "{} {}: the table needs {:?}, the reference says {:?} ({})",
                op.method,
                op.path,
                scope_names(row.scopes),
                published,
                op.source
            ));
        }
        if op.authority == Authority::ApiReference && row.source != Source::Reference {
            problems.push(format!("{} {} is published: mark its row `ep(…)`", op.method, op.path));
        }
        if op.authority == Authority::ApiReference && row.pattern != op.path {
            problems
                .push(format!("{} {}: write the pattern as the reference does ({})", op.method, row.pattern, op.path));
        }
    }
    for row in ENDPOINTS {
        let published = reference
            .published()
            .any(|op| op.method == row.method && contract::shape(&op.path) == contract::shape(row.pattern));
        match row.source {
            Source::Reference if !published => {
                problems.push(format!("{} {} claims the reference but is not in it", row.method, row.pattern))
            }
            Source::Documented(page) | Source::Assumed(page) if page.trim().is_empty() => {
                problems.push(format!("{} {} needs a source", row.method, row.pattern))
            }
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_scope_of_the_reference_is_a_scope_the_app_knows() {
    let reference = contract::contract().unwrap();
    for op in reference.operations() {
        for scope in &op.scopes {
            assert!(scope.parse::<Scope>().is_ok(), "{} {} needs unknown scope {scope}", op.method, op.path);
        }
    }
}
