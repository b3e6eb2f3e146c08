//! `fanvue-app-starter webhook send <event> [--url URL]`: posts a correctly signed sample
//! event (the samples the tests use) to a running app, so webhooks can be tried without
//! Fanvue.
//!
//! The secret is `FANVUE_WEBHOOK_SECRET`, or, as the app does with `--sandbox`, the one
//! derived from `SESSION_SECRET`. The default URL is the app's own receiver under `BASE_URL`
//! (else `https://localhost:PORT`). The app's certificate under `certs/` is trusted, so a
//! self-signed local certificate works.

use std::process::ExitCode;
use std::time::Duration;

use super::events::Kind;
use super::{samples, signature};

const USAGE: &str = "Usage: fanvue-app-starter webhook send <event> [--url URL]

Events: message-received, message-read, new-follower, new-subscriber, purchase-received,
        tip-received, checkout_link.payment.succeeded, app.payment.succeeded, app.payment.refunded";

/// Runs the `webhook` subcommand with its arguments (after `webhook`).
pub async fn run(args: &[String]) -> ExitCode {
    let mut event = None;
    let mut url = None;
    let mut rest = args.iter();
    match rest.next().map(String::as_str) {
        Some("send") => {}
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--url" => url = rest.next().cloned(),
            other if event.is_none() && !other.starts_with('-') => event = Some(other.to_owned()),
            other => {
                eprintln!("error: unexpected argument `{other}`\n\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(event) = event else {
        eprintln!("error: name the event to send\n\n{USAGE}");
        return ExitCode::from(2);
    };
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let now = samples::now_iso();
    let Some(sample) = samples::sample(&event, &now) else {
        eprintln!("error: unknown event `{event}`\n\n{USAGE}");
        return ExitCode::from(2);
    };
    let secret = match (env("FANVUE_WEBHOOK_SECRET"), env("SESSION_SECRET")) {
        (Some(secret), _) => secret,
        // What the sandbox signs with when FANVUE_WEBHOOK_SECRET is not set.
        #[cfg(feature = "sandbox")]
        (None, Some(session)) => fanvue_sandbox::env::webhook_secret(&session),
        _ => {
            eprintln!(
                "error: FANVUE_WEBHOOK_SECRET is not set. Put the app's signing secret in .env (with --sandbox, any value \
                 works if the app is restarted with the same .env), or set SESSION_SECRET as the app has it."
            );
            return ExitCode::FAILURE;
        }
    };
    let base = env("BASE_URL").unwrap_or_else(|| format!("https://localhost:{}", env("PORT").unwrap_or("3001".into())));
    let target = url.unwrap_or_else(|| {
        let receiver = format!("{}{}", base.trim_end_matches('/'), super::routes::PATH);
        match sample.kind.slug() {
            Some(slug) if sample.kind != Kind::Unknown => format!("{receiver}/{slug}"),
            _ => receiver,
        }
    });
    let body = sample.body.to_string();
    let header = signature::header_value(&secret, fanvue::oauth::tokens::now_unix(), body.as_bytes());
    crate::infra::tls::install_crypto_provider();
    let mut client = reqwest::Client::builder().timeout(Duration::from_secs(10));
    if let Some(host) = url::Url::parse(&target).ok().and_then(|u| u.host_str().map(str::to_owned))
        && let Ok(pem) = std::fs::read(std::path::Path::new("certs").join(format!("{host}.pem")))
        && let Ok(cert) = reqwest::Certificate::from_pem(&pem)
    {
        client = client.tls_certs_merge([cert]);
    }
    let client = match client.build() {
        Ok(client) => client,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    println!("→ POST {target}\n  {}: {header}\n  {body}", signature::HEADER);
    let response =
        client.post(&target).header("content-type", "application/json").header(signature::HEADER, header).body(body);
    match response.send().await {
        Ok(response) => {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            println!("← {status} {text}");
            if status.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(err) => {
            eprintln!("error: could not reach {target}: {}. Is the app running?", err.without_url());
            ExitCode::FAILURE
        }
    }
}
