//! `vroom participants list|get|kick|tracks`.

use serde_json::{Value, json};

use super::{Remote, lasted, segment, table, text};

/// What to do with a room's participants.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum ParticipantsCommand {
    /// List a room's participants, newest first (while the room is in progress, the connected
    /// ones unless --status says otherwise).
    List {
        /// The room: SID, or unique name while it is in progress.
        room: String,
        /// Only participants with this status: connected or disconnected.
        #[arg(long)]
        status: Option<String>,
        /// Only participants with this identity.
        #[arg(long)]
        identity: Option<String>,
        /// At most this many participants.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show a participant, by SID or (while connected) identity.
    Get {
        /// The room: SID, or unique name while it is in progress.
        room: String,
        /// SID or identity.
        participant: String,
    },
    /// Disconnect a participant from its room now.
    Kick {
        /// The room: SID, or unique name while it is in progress.
        room: String,
        /// SID or identity.
        participant: String,
    },
    /// The tracks a participant publishes and those it receives.
    Tracks {
        /// The room: SID, or unique name while it is in progress.
        room: String,
        /// SID or identity.
        participant: String,
    },
}

fn path(room: &str, participant: &str) -> String {
    format!(
        "/v1/Rooms/{}/Participants/{}",
        segment(room),
        segment(participant)
    )
}

fn details(p: &Value, now: chrono::DateTime<chrono::Utc>) -> Vec<(&'static str, String)> {
    vec![
        ("SID", text(&p["sid"])),
        ("Identity", text(&p["identity"])),
        ("Status", text(&p["status"])),
        ("Room", text(&p["room_sid"])),
        ("Started", text(&p["start_time"])),
        ("Ended", text(&p["end_time"])),
        ("Duration", lasted(p, "start_time", now)),
        ("URL", text(&p["url"])),
    ]
}

fn show(remote: &Remote, p: &Value, now: chrono::DateTime<chrono::Utc>) {
    if remote.json {
        Remote::print_json(p);
    } else {
        print!("{}", table::fields(&details(p, now)));
    }
}

/// Runs `command` against `remote`.
///
/// # Errors
/// When the server cannot be reached or refuses.
pub async fn run(remote: &Remote, command: ParticipantsCommand) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match command {
        ParticipantsCommand::List {
            room,
            status,
            identity,
            limit,
        } => {
            let mut query = Vec::new();
            if let Some(s) = status {
                query.push(("Status", s));
            }
            if let Some(i) = identity {
                query.push(("Identity", i));
            }
            let list = format!("/v1/Rooms/{}/Participants", segment(&room));
            let found = remote.list(&list, &query, limit).await?;
            if remote.json {
                Remote::print_json(&Value::Array(found));
                return Ok(());
            }
            let rows: Vec<Vec<String>> = found
                .iter()
                .map(|p| {
                    vec![
                        text(&p["sid"]),
                        text(&p["identity"]),
                        text(&p["status"]),
                        text(&p["start_time"]),
                        lasted(p, "start_time", now),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["SID", "IDENTITY", "STATUS", "STARTED", "DURATION"], &rows)
            );
        }
        ParticipantsCommand::Get { room, participant } => {
            let p = remote.get(&path(&room, &participant), &[]).await?;
            show(remote, &p, now);
        }
        ParticipantsCommand::Kick { room, participant } => {
            let form = [("Status".to_owned(), "disconnected".to_owned())];
            let p = remote.post(&path(&room, &participant), &form).await?;
            show(remote, &p, now);
        }
        ParticipantsCommand::Tracks { room, participant } => {
            let base = path(&room, &participant);
            let published = remote
                .list(&format!("{base}/PublishedTracks"), &[], 1000)
                .await?;
            let subscribed = remote
                .list(&format!("{base}/SubscribedTracks"), &[], 1000)
                .await?;
            if remote.json {
                Remote::print_json(&json!({
                    "published_tracks": published,
                    "subscribed_tracks": subscribed,
                }));
                return Ok(());
            }
            let row = |direction: &str, t: &Value| {
                vec![
                    direction.to_owned(),
                    text(&t["sid"]),
                    text(&t["kind"]),
                    text(&t["name"]),
                    if t["enabled"].as_bool() == Some(false) {
                        "no".to_owned()
                    } else {
                        "yes".to_owned()
                    },
                    t.get("publisher_sid").map_or_else(|| "-".to_owned(), text),
                    text(&t["date_created"]),
                ]
            };
            // The API lists tracks in no particular order; a table reads better sorted.
            let sorted = |mut tracks: Vec<Value>| {
                tracks.sort_by_key(|t| (text(&t["kind"]), text(&t["name"]), text(&t["sid"])));
                tracks
            };
            let (published, subscribed) = (sorted(published), sorted(subscribed));
            let rows: Vec<Vec<String>> = published
                .iter()
                .map(|t| row("published", t))
                .chain(subscribed.iter().map(|t| row("subscribed", t)))
                .collect();
            print!(
                "{}",
                table::render(
                    &[
                        "DIRECTION",
                        "TRACK SID",
                        "KIND",
                        "NAME",
                        "ENABLED",
                        "PUBLISHER",
                        "SINCE"
                    ],
                    &rows
                )
            );
        }
    }
    Ok(())
}
