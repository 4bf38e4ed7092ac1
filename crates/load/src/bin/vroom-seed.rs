//! `vroom-seed`: writes a history of completed rooms and their departed participants into a vroom
//! database (an SQLite or PostgreSQL URL, as vroom's `--database-url`), through vroom's own store
//! and its migrations, so that list pages can be measured over a large history with
//! `vroom-load get`. The last line of stdout is JSON: the big room's SID and, for each list to
//! measure, a path to GET (every filter, and a PageToken half-way down). See `vroom_load::seed`.
//!
//! ```text
//! vroom-seed --database-url sqlite:///tmp/seed/vroom.db --account-sid AC… > seed.json
//! SEED_DB=/tmp/seed/vroom.db scripts/bench-live get --path "$(jq -r .paths.rooms_deep seed.json)"
//! ```

use clap::Parser;
use vroom_domain::sid::AccountSid;
use vroom_load::seed::SeedArgs;

#[derive(Parser, Debug)]
#[command(about = "Writes a large history of rooms and participants into a vroom database")]
struct Cli {
    /// The database, as vroom's `--database-url` (`sqlite:///abs/path/vroom.db`, `postgres://…`).
    #[arg(long)]
    database_url: String,
    /// The account that owns the rooms (the server must run with it to list them).
    #[arg(long, env = "VROOM_ACCOUNT_SID")]
    account_sid: AccountSid,
    #[command(flatten)]
    seed: SeedArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let store = vroom_store::open(&cli.database_url).await?;
    let report = vroom_load::seed::seed(&*store, cli.account_sid, &cli.seed).await?;
    println!("{report}");
    Ok(())
}
