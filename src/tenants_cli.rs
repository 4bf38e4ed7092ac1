//! `vroom accounts …` and `vroom keys …`: the operator's side of [`vroom::tenants`], on the
//! database of the settings in force (a running server sees the change at once).

use clap::Subcommand;
use vroom::settings::Settings;
use vroom::tenants;
use vroom_domain::sid::{AccountSid, ApiKeySid};
use vroom_rooms::clock::{Clock, SystemClock};
use vroom_store::Store;

use crate::remote::table;

#[derive(Subcommand)]
pub enum AccountsCommand {
    /// Create an account (a tenant with its own auth token) and its first API key; prints their
    /// secrets, which are shown only this once.
    Create {
        /// A name for people.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List the accounts (no secrets).
    List,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create an API key; prints its secret, shown only this once.
    Create {
        /// The account it acts for (default: the main account).
        #[arg(long)]
        account: Option<AccountSid>,
        /// A name for people.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List an account's keys, revoked ones included (no secrets).
    List {
        /// The account (default: the main account).
        #[arg(long)]
        account: Option<AccountSid>,
    },
    /// Revoke a key: its Basic auth gets 20003 and the tokens it signed are refused, at once.
    Revoke {
        /// `SK…`
        key: ApiKeySid,
    },
}

/// The store of an existing vroom database (never creates one: a typo in `--data-dir` must not
/// make an empty database somewhere).
async fn open(settings: &Settings) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    let url = settings.database_url_or_default();
    if let Some(Err(missing)) = crate::existing_database(&url) {
        anyhow::bail!(
            "no vroom database at {}: start `vroom serve` there once, or pass --data-dir (or --config) of the server",
            missing.display()
        );
    }
    Ok(vroom_store::open(&url).await?)
}

fn date(t: vroom_domain::time::Timestamp) -> String {
    t.to_chrono().format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub async fn accounts(settings: &Settings, command: AccountsCommand) -> anyhow::Result<()> {
    let store = open(settings).await?;
    match command {
        AccountsCommand::Create { name } => {
            let (account, key) =
                tenants::create_account(store.as_ref(), &name, SystemClock.now()).await?;
            print!(
                "{}",
                table::fields(&[
                    ("Account SID", account.sid.to_string()),
                    ("Auth token", account.auth_token),
                    ("API key SID", key.sid.to_string()),
                    ("API key secret", key.secret),
                ])
            );
        }
        AccountsCommand::List => {
            let rows = store
                .accounts()
                .await?
                .into_iter()
                .map(|a| {
                    vec![
                        a.sid.to_string(),
                        if a.main { "yes" } else { "" }.to_owned(),
                        date(a.date_created),
                        a.friendly_name,
                    ]
                })
                .collect::<Vec<_>>();
            print!(
                "{}",
                table::render(&["SID", "MAIN", "CREATED", "NAME"], &rows)
            );
        }
    }
    Ok(())
}

pub async fn keys(settings: &Settings, command: KeysCommand) -> anyhow::Result<()> {
    let store = open(settings).await?;
    let now = SystemClock.now();
    match command {
        KeysCommand::Create { account, name } => {
            let key = tenants::create_key(store.as_ref(), account, &name, now).await?;
            print!(
                "{}",
                table::fields(&[
                    ("Account SID", key.account_sid.to_string()),
                    ("API key SID", key.sid.to_string()),
                    ("API key secret", key.secret),
                ])
            );
        }
        KeysCommand::List { account } => {
            let account = tenants::account(store.as_ref(), account).await?;
            let rows = store
                .api_keys(account.sid)
                .await?
                .into_iter()
                .map(|k| {
                    vec![
                        k.sid.to_string(),
                        date(k.date_created),
                        k.date_revoked.map(date).unwrap_or_default(),
                        k.friendly_name,
                    ]
                })
                .collect::<Vec<_>>();
            print!(
                "{}",
                table::render(&["SID", "CREATED", "REVOKED", "NAME"], &rows)
            );
        }
        KeysCommand::Revoke { key } => {
            let key = tenants::revoke_key(store.as_ref(), key, now).await?;
            let when = key.date_revoked.map(date).unwrap_or_default();
            println!("{} revoked ({when})", key.sid);
        }
    }
    Ok(())
}
