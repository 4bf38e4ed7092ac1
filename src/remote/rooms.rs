//! `vroom rooms list|create|get|complete`.

use serde_json::Value;

use super::{Remote, lasted, params, segment, table, text};

/// What to do with rooms.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum RoomsCommand {
    /// List rooms, newest first.
    List {
        /// Only rooms with this status: in-progress, completed or failed.
        #[arg(long)]
        status: Option<String>,
        /// Only rooms with this unique name.
        #[arg(long)]
        name: Option<String>,
        /// At most this many rooms.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Create a room (Twilio's defaults for anything not given).
    Create {
        /// Its unique name [default: its SID].
        #[arg(long)]
        name: Option<String>,
        /// go, peer-to-peer, group-small or group [default: group].
        #[arg(long = "type")]
        room_type: Option<String>,
        /// At most this many participants at once.
        #[arg(long)]
        max_participants: Option<u32>,
        /// Where status callbacks go.
        #[arg(long)]
        status_callback: Option<String>,
        /// Minutes the room stays in progress once everyone left.
        #[arg(long)]
        empty_room_timeout: Option<u32>,
        /// Minutes the room stays in progress if nobody ever joins.
        #[arg(long)]
        unused_room_timeout: Option<u32>,
        /// Any other Twilio parameter, as Name=value (repeatable): --param AudioOnly=true.
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
    },
    /// Show a room, by SID or (while it is in progress) by unique name.
    Get {
        /// SID or unique name.
        room: String,
    },
    /// End a room now: everyone in it is disconnected.
    Complete {
        /// SID or unique name.
        room: String,
    },
}

fn details(room: &Value, now: chrono::DateTime<chrono::Utc>) -> Vec<(&'static str, String)> {
    vec![
        ("SID", text(&room["sid"])),
        ("Name", text(&room["unique_name"])),
        ("Status", text(&room["status"])),
        ("Type", text(&room["type"])),
        ("Created", text(&room["date_created"])),
        ("Ended", text(&room["end_time"])),
        ("Duration", lasted(room, "date_created", now)),
        ("Max participants", text(&room["max_participants"])),
        ("Status callback", text(&room["status_callback"])),
        ("URL", text(&room["url"])),
    ]
}

/// Runs `command` against `remote`.
///
/// # Errors
/// When the server cannot be reached or refuses.
pub async fn run(remote: &Remote, command: RoomsCommand) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match command {
        RoomsCommand::List {
            status,
            name,
            limit,
        } => {
            let mut query = Vec::new();
            if let Some(s) = status {
                query.push(("Status", s));
            }
            if let Some(n) = name {
                query.push(("UniqueName", n));
            }
            let rooms = remote.list("/v1/Rooms", &query, limit).await?;
            if remote.json {
                Remote::print_json(&Value::Array(rooms));
                return Ok(());
            }
            let rows: Vec<Vec<String>> = rooms
                .iter()
                .map(|r| {
                    vec![
                        text(&r["sid"]),
                        text(&r["unique_name"]),
                        text(&r["status"]),
                        text(&r["type"]),
                        text(&r["date_created"]),
                        lasted(r, "date_created", now),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(
                    &["SID", "NAME", "STATUS", "TYPE", "CREATED", "DURATION"],
                    &rows
                )
            );
        }
        RoomsCommand::Create {
            name,
            room_type,
            max_participants,
            status_callback,
            empty_room_timeout,
            unused_room_timeout,
            params: extra,
        } => {
            let mut form: Vec<(String, String)> = [
                ("UniqueName", name),
                ("Type", room_type),
                ("MaxParticipants", max_participants.map(|n| n.to_string())),
                ("StatusCallback", status_callback),
                (
                    "EmptyRoomTimeout",
                    empty_room_timeout.map(|n| n.to_string()),
                ),
                (
                    "UnusedRoomTimeout",
                    unused_room_timeout.map(|n| n.to_string()),
                ),
            ]
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?)))
            .collect();
            form.extend(params(&extra)?);
            let room = remote.post("/v1/Rooms", &form).await?;
            show(remote, &room, now);
        }
        RoomsCommand::Get { room } => {
            let room = remote
                .get(&format!("/v1/Rooms/{}", segment(&room)), &[])
                .await?;
            show(remote, &room, now);
        }
        RoomsCommand::Complete { room } => {
            let form = [("Status".to_owned(), "completed".to_owned())];
            let room = remote
                .post(&format!("/v1/Rooms/{}", segment(&room)), &form)
                .await?;
            show(remote, &room, now);
        }
    }
    Ok(())
}

fn show(remote: &Remote, room: &Value, now: chrono::DateTime<chrono::Utc>) {
    if remote.json {
        Remote::print_json(room);
    } else {
        print!("{}", table::fields(&details(room, now)));
    }
}
