//! `vroom-bare`'s signaling, the floor joins are compared with, driven by `vroom-load`'s own
//! client over real sockets: joins are answered with `welcome` and a `connected` listing the
//! room's members, and every other member is told of each join and each leave.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use vroom_load::Target;
use vroom_load::signal::{ANSWER_WAIT, Client};

const SECRET: &str = "bare-test-secret-0123456789abcdef";

/// The binary, listening on a port of its own; killed when dropped.
struct Bare {
    child: Child,
    target: Target,
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Bare {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vroom-bare"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "http://127.0.0.1:9",
        ])
        .env("VROOM_ACCOUNT_SID", "AC00000000000000000000000000000001")
        .env("VROOM_AUTH_TOKEN", "bare-test-auth-token")
        .env("VROOM_API_KEY_SECRET", SECRET)
        .stderr(Stdio::piped())
        .spawn()
        .expect("vroom-bare starts");
    let mut line = String::new();
    BufReader::new(child.stderr.take().expect("stderr"))
        .read_line(&mut line)
        .expect("vroom-bare says where it listens");
    let base = line
        .trim()
        .strip_prefix("vroom-bare listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    Bare {
        child,
        target: Target {
            base,
            account_sid: "AC00000000000000000000000000000001".into(),
            auth_token: "bare-test-auth-token".into(),
            api_key_sid: "SK00000000000000000000000000000001".into(),
            api_key_secret: SECRET.into(),
        },
    }
}

/// The body of the next `msg` the client gets.
async fn next_msg(c: &mut Client) -> Value {
    loop {
        let text = c
            .next_text(ANSWER_WAIT)
            .await
            .expect("the connection holds")
            .expect("a frame in time")
            .expect("not closed");
        let frame: Value = serde_json::from_str(text.as_str()).expect("JSON");
        if frame["type"] == "msg" {
            return frame["body"].clone();
        }
    }
}

/// The participants of the next `update` the client gets, as (sid, state).
async fn next_update(c: &mut Client) -> Vec<(String, String)> {
    let body = next_msg(c).await;
    assert_eq!(body["type"], "update", "{body}");
    body["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| {
            (
                p["sid"].as_str().unwrap_or_default().to_owned(),
                p["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn members_are_told_of_every_join_and_leave() {
    let bare = start();
    let url = bare.target.signaling_url();
    let room = "bare-room";
    let token = |who: &str| bare.target.token(who, room).expect("token");
    let (mut a, _) = Client::join(&url, &token("a"), room)
        .await
        .expect("a joins");
    assert!(a.participant_sid.starts_with("PA") && a.participant_sid.len() == 34);
    assert!(a.room_sid.starts_with("RM") && a.room_sid.len() == 34);
    assert!(a.session.is_some());
    let (mut b, _) = Client::join(&url, &token("b"), room)
        .await
        .expect("b joins");
    assert_eq!(b.room_sid, a.room_sid);
    assert_eq!(
        next_update(&mut a).await,
        [(b.participant_sid.clone(), "connected".into())]
    );
    let (mut c, _) = Client::join(&url, &token("c"), room)
        .await
        .expect("c joins");
    for member in [&mut a, &mut b] {
        assert_eq!(
            next_update(member).await,
            [(c.participant_sid.clone(), "connected".into())]
        );
    }
    let gone = a.participant_sid.clone();
    a.leave().await.expect("a leaves");
    for member in [&mut b, &mut c] {
        assert_eq!(
            next_update(member).await,
            [(gone.clone(), "disconnected".into())]
        );
    }
    // A later joiner's `connected` lists the members there now, as vroom's does.
    let mut d = Client::open(&url).await.expect("d opens");
    d.hello(&token("d"), room).await.expect("hello");
    let connected = next_msg(&mut d).await;
    assert_eq!(connected["type"], "connected", "{connected}");
    let mut listed: Vec<&str> = connected["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .filter_map(|p| p["sid"].as_str())
        .collect();
    listed.sort_unstable();
    let mut there = vec![b.participant_sid.as_str(), c.participant_sid.as_str()];
    there.sort_unstable();
    assert_eq!(listed, there);
    assert_eq!(connected["participant"]["identity"], "d");
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_refused() {
    let bare = start();
    let url = bare.target.signaling_url();
    let forged = Target {
        api_key_secret: "another-secret".into(),
        ..bare.target.clone()
    };
    let token = forged.token("x", "bare-room").expect("token");
    let mut c = Client::open(&url).await.expect("opens");
    c.hello(&token, "bare-room").await.expect("hello");
    let body = next_msg(&mut c).await;
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["code"], 20101);
}
