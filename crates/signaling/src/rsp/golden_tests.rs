//! Golden tests of what twilio-video.js receives: the `connected` a joiner gets, in its TCMP
//! envelope, and a participants `update`. A refactor that moves, renames or drops a field shows
//! here as a one-line diff (the byte-for-byte agreement of the fast writers with serde is checked in
//! `rsp.rs`'s own tests). To accept an intended change: `UPDATE_EXPECT=1`, then review the diff.

use std::sync::Arc;

use expect_test::{Expect, expect};
use vroom_domain::live::{ParticipantView, Presence, Rendered};
use vroom_domain::time::Timestamp;
use vroom_domain::track::{PublishedTrack, TrackInfo, TrackKind, TrackPriority};

use super::participants_update;

fn check(text: &str, want: &Expect) {
    let value: serde_json::Value = serde_json::from_str(text).expect("JSON");
    want.assert_eq(&serde_json::to_string_pretty(&value).expect("JSON"));
}

fn view(n: u8, identity: &str, tracks: Vec<PublishedTrack>) -> Arc<ParticipantView> {
    Arc::new(ParticipantView {
        sid: vroom_domain::sid::ParticipantSid::from_bytes([n; 16]),
        identity: identity.into(),
        revision: u64::from(n),
        presence: Presence::Connected,
        tracks,
        wire: Rendered::default(),
    })
}

fn camera() -> PublishedTrack {
    PublishedTrack {
        sid: vroom_domain::sid::TrackSid::from_bytes([0x33; 16]),
        info: TrackInfo {
            client_id: "9a1c-video".into(),
            kind: TrackKind::Video,
            name: "camera".into(),
            enabled: true,
            priority: TrackPriority::High,
        },
        date_created: Timestamp::from_millis(1_764_600_123_456),
        date_updated: Timestamp::from_millis(1_764_600_123_456),
    }
}

#[test]
fn connected_as_a_joiner_receives_it() {
    let mut connected = super::tests::connected(
        "standup",
        "PA03030303030303030303030303030303",
        "carol",
        vec![view(1, "alice", vec![camera()]), view(2, "bob", Vec::new())],
    );
    connected.session = "session-key".into();
    connected.sid = "RM11111111111111111111111111111111".into();
    connected.peer_connections = vec![serde_json::json!({"id": "pc-1"})];
    check(
        &connected.to_msg(),
        &expect![[r#"
        {
          "type": "msg",
          "body": {
            "type": "connected",
            "version": 2,
            "session": "session-key",
            "sid": "RM11111111111111111111111111111111",
            "name": "standup",
            "participant": {
              "sid": "PA03030303030303030303030303030303",
              "identity": "carol"
            },
            "peer_connections": [
              {
                "id": "pc-1"
              }
            ],
            "published": {
              "revision": 1,
              "tracks": []
            },
            "subscribed": {
              "revision": 1,
              "tracks": []
            },
            "recording": {
              "revision": 0,
              "is_recording": false
            },
            "media_signaling": {},
            "options": {
              "session_timeout": 30,
              "signaling_region": "gll",
              "media_region": "gll"
            },
            "participants": [
              {
                "sid": "PA01010101010101010101010101010101",
                "identity": "alice",
                "revision": 1,
                "state": "connected",
                "tracks": [
                  {
                    "sid": "MT33333333333333333333333333333333",
                    "name": "camera",
                    "kind": "video",
                    "enabled": true,
                    "priority": "high"
                  }
                ]
              },
              {
                "sid": "PA02020202020202020202020202020202",
                "identity": "bob",
                "revision": 2,
                "state": "connected",
                "tracks": []
              }
            ]
          }
        }"#]],
    );
}

#[test]
fn a_participants_update() {
    let views = [view(1, "alice", vec![camera()]), view(2, "bob", Vec::new())];
    check(
        &participants_update(&views),
        &expect![[r#"
        {
          "type": "update",
          "version": 2,
          "participants": [
            {
              "sid": "PA01010101010101010101010101010101",
              "identity": "alice",
              "revision": 1,
              "state": "connected",
              "tracks": [
                {
                  "sid": "MT33333333333333333333333333333333",
                  "name": "camera",
                  "kind": "video",
                  "enabled": true,
                  "priority": "high"
                }
              ]
            },
            {
              "sid": "PA02020202020202020202020202020202",
              "identity": "bob",
              "revision": 2,
              "state": "connected",
              "tracks": []
            }
          ]
        }"#]],
    );
}
