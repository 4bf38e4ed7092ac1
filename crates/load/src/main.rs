//! `vroom-load`: load for a running vroom. Live progress on stderr, a summary, and the summary as
//! JSON on the last line of stdout.
//!
//! ```text
//! vroom-load --url http://127.0.0.1:8080 fetch --concurrency 64 --seconds 10
//! vroom-load --url http://127.0.0.1:8080 --baseline http://127.0.0.1:9090 --rounds 3 list
//! vroom-load --url http://127.0.0.1:8080 --server-pid $(pidof vroom) join --rate 1000 --rooms 100
//! vroom-load --url … --server-pid … --baseline http://127.0.0.1:9090 --baseline-pid … --rounds 1 join
//! ```
//! Credentials come from the flags or the environment vroom itself reads (`VROOM_ACCOUNT_SID`,
//! `VROOM_AUTH_TOKEN`, `VROOM_API_KEY_SID`, `VROOM_API_KEY_SECRET`).

use clap::Parser;
use vroom_load::{RunOptions, Scenario, Target};

#[derive(Parser, Debug)]
#[command(about = "Drives a running vroom's REST API and signaling and measures it")]
struct Cli {
    /// The server, `http://host:port`.
    #[arg(long, env = "VROOM_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Account SID.
    #[arg(long, env = "VROOM_ACCOUNT_SID")]
    account_sid: String,
    /// Auth token (REST).
    #[arg(long, env = "VROOM_AUTH_TOKEN", hide_env_values = true)]
    auth_token: String,
    /// API key SID (access tokens).
    #[arg(long, env = "VROOM_API_KEY_SID")]
    api_key_sid: String,
    /// API key secret (access tokens).
    #[arg(long, env = "VROOM_API_KEY_SECRET", hide_env_values = true)]
    api_key_secret: String,
    /// The server's pid, for its RSS and CPU time (same machine only).
    #[arg(long)]
    server_pid: Option<u32>,
    /// REST scenarios and `join`: the bare baseline (`vroom-bare --upstream <url>`), driven with
    /// the same requests or joins after the server in each round; the summary gives the ratio.
    #[arg(long)]
    baseline: Option<String>,
    /// The baseline's pid, for its CPU per join + leave (same machine only).
    #[arg(long)]
    baseline_pid: Option<u32>,
    /// Rounds of server then baseline.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// No progress lines (before or after the scenario).
    #[arg(long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    scenario: Scenario,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let target = Target {
        base: cli.url.trim_end_matches('/').to_owned(),
        account_sid: cli.account_sid,
        auth_token: cli.auth_token,
        api_key_sid: cli.api_key_sid,
        api_key_secret: cli.api_key_secret,
    };
    let opts = RunOptions {
        progress: !cli.quiet,
        server_pid: cli.server_pid,
        baseline: cli.baseline,
        baseline_pid: cli.baseline_pid,
        rounds: cli.rounds,
    };
    let summary = vroom_load::run(&target, &cli.scenario, &opts).await?;
    print!("{}", summary.to_text());
    println!("{}", summary.to_json());
    if summary.errors > 0 {
        std::process::exit(1);
    }
    Ok(())
}
