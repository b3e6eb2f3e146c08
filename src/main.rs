//! The `fanvue-app-starter` binary: reads arguments and `.env`, sets up logging, and hands
//! over to [`fanvue_app_starter::run`].

use std::process::ExitCode;

use fanvue_app_starter::Mode;

/// mimalloc instead of glibc's malloc: under load the server spent a fifth of its time in
/// malloc/free (measured with perf in `benches/suite.rs`); mimalloc's per-thread heaps cut
/// that and the lock contention with it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
Usage: fanvue-app-starter [--sandbox]
       fanvue-app-starter webhook send <event> [--url URL]

  (no flag)   run against Fanvue; configure it in .env (copy .env.example)
  --sandbox   run with the built-in Fanvue sandbox: no credentials, no network
  --healthcheck  ask the server on this machine (PORT) for /healthz; exit 0 when it answers
  webhook send   send a signed sample webhook event to the running app (try `webhook send message-received`)
  --help      show this help
  --version   show the version

Logging: RUST_LOG (default `info`), LOG_FORMAT (`pretty` or `json`). Configuration: docs/configuration.md.";

fn main() -> ExitCode {
    // Before the runtime's threads exist: taking handed-over sockets edits the environment.
    let inherited = match fanvue_app_starter::Inherited::from_env() {
        Ok(inherited) => inherited,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(start(inherited)),
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn start(inherited: fanvue_app_starter::Inherited) -> ExitCode {
    let mut mode = Mode::Fanvue;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "webhook") {
        let _ = dotenvy::dotenv();
        return fanvue_app_starter::features::webhooks::send::run(&args[1..]).await;
    }
    for arg in args {
        match arg.as_str() {
            "--sandbox" => mode = Mode::Sandbox,
            "--healthcheck" => return fanvue_app_starter::healthcheck().await,
            "--help" | "-h" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--version" | "-V" => {
                println!("fanvue-app-starter {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("error: unknown argument `{other}`\n\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    // A missing .env is normal (CI, containers); a broken one is an error worth stopping for.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        let what = match err {
            dotenvy::Error::LineParse(_, _) => broken_line(std::path::Path::new(".env")),
            other => other.to_string(),
        };
        eprintln!("error: .env could not be read: {what}");
        return ExitCode::FAILURE;
    }
    // An empty RUST_LOG (as a copied .env.example has it) counts as unset, like every variable.
    let filter = || match std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty()) {
        Some(directives) => tracing_subscriber::EnvFilter::try_new(directives)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        None => tracing_subscriber::EnvFilter::new("info"),
    };
    // LOG_FORMAT: `pretty` (default, for people) or `json` (one object per line, for log shippers).
    match std::env::var("LOG_FORMAT").ok().filter(|v| !v.is_empty()).as_deref() {
        None | Some("pretty") => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .init(),
        Some("json") => tracing_subscriber::fmt().json().with_env_filter(filter()).with_current_span(true).init(),
        Some(other) => {
            eprintln!("error: LOG_FORMAT: `{other}` is not `pretty` or `json`");
            return ExitCode::FAILURE;
        }
    }
    fanvue_app_starter::run(mode, inherited).await
}

/// Which line of a `.env` dotenvy refused, and how to write it. dotenvy's own message quotes
/// the line, which may hold a secret: this names the line's number and key only.
fn broken_line(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let bad = text.lines().enumerate().find(|(_, line)| {
        let trimmed = line.trim();
        !trimmed.is_empty() && !trimmed.starts_with('#') && dotenvy::from_read_iter(line.as_bytes()).any(|r| r.is_err())
    });
    match bad {
        Some((index, line)) => {
            let key: String = line
                .split('=')
                .next()
                .unwrap_or("")
                .trim()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            format!(
                ".env line {} ({key}) is not KEY=value. A value with spaces needs quotes (KEY=\"a b\"), but \
                 `docker run --env-file` keeps quotes as part of the value: write lists with commas instead \
                 (OAUTH_SCOPES=read:self,read:chat).",
                index + 1
            )
        }
        None => "a line is not of the form KEY=value. Fix it or remove the file.".to_owned(),
    }
}
