//! Golden tests of the REST resources as they go on the wire: a refactor of `wire.rs` that moves,
//! renames or reformats a field shows here as a one-line diff. The expected texts were written by
//! the code and checked field for field against Twilio's OpenAPI file and the behaviour notes; to
//! accept an intended change, run the tests with `UPDATE_EXPECT=1` and review the diff.

use expect_test::{Expect, expect};
use vroom_domain::participant::{EndReason, Participant, ParticipantStatus};
use vroom_domain::room::{CreateRoom, Room, RoomStatus};
use vroom_domain::sid::{AccountSid, ParticipantSid, RoomSid};
use vroom_domain::time::Timestamp;

use crate::wire::{ParticipantResource, RoomResource};

const BASE: &str = "https://video.example";

fn check(value: &impl serde::Serialize, want: &Expect) {
    want.assert_eq(&serde_json::to_string_pretty(value).expect("serializable"));
}

fn room(name: Option<&str>) -> Room {
    let req = CreateRoom {
        unique_name: name.map(str::to_owned),
        status_callback: Some("https://app.example/cb?x=1".to_owned()),
        ..CreateRoom::default()
    };
    let (name, settings) = req.validate().expect("a valid request");
    let sid = RoomSid::from_bytes([0x11; 16]);
    let at = Timestamp::from_millis(1_764_600_123_456);
    Room {
        sid,
        account_sid: AccountSid::from_bytes([0x01; 16]),
        unique_name: name.unwrap_or_else(|| sid.to_string()),
        status: RoomStatus::InProgress,
        ad_hoc: false,
        settings,
        date_created: at,
        date_updated: at,
        end_time: None,
        duration: None,
    }
}

fn participant(room: &Room, ended: bool) -> Participant {
    let at = Timestamp::from_millis(1_764_600_130_000);
    let mut p = Participant::connect(
        ParticipantSid::from_bytes([0x22; 16]),
        room.sid,
        room.account_sid,
        "alice".to_owned(),
        at,
    );
    if ended {
        p.disconnect(Timestamp::from_millis(1_764_600_190_500), EndReason::Left);
    }
    p
}

#[test]
fn a_room_in_progress_named_by_its_sid() {
    let r = room(None);
    check(
        &RoomResource::new(&r, BASE),
        &expect![[r#"
        {
          "sid": "RM11111111111111111111111111111111",
          "status": "in-progress",
          "date_created": "2025-12-01T14:42:03Z",
          "date_updated": "2025-12-01T14:42:03Z",
          "account_sid": "AC01010101010101010101010101010101",
          "enable_turn": true,
          "unique_name": "RM11111111111111111111111111111111",
          "status_callback": "https://app.example/cb?x=1",
          "status_callback_method": "POST",
          "end_time": null,
          "duration": null,
          "type": "group",
          "max_participants": 50,
          "max_participant_duration": 14400,
          "max_concurrent_published_tracks": 170,
          "record_participants_on_connect": false,
          "video_codecs": [
            "VP8"
          ],
          "media_region": "us1",
          "audio_only": false,
          "empty_room_timeout": 5,
          "unused_room_timeout": 5,
          "large_room": false,
          "url": "https://video.example/v1/Rooms/RM11111111111111111111111111111111",
          "links": {
            "participants": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Participants",
            "recordings": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Recordings",
            "transcriptions": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Transcriptions",
            "recording_rules": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/RecordingRules"
          }
        }"#]],
    );
}

#[test]
fn a_completed_room_with_a_name() {
    let mut r = room(Some("standup"));
    r.complete(Timestamp::from_millis(1_764_600_723_456));
    assert_eq!(r.status, RoomStatus::Completed);
    check(
        &RoomResource::new(&r, BASE),
        &expect![[r#"
        {
          "sid": "RM11111111111111111111111111111111",
          "status": "completed",
          "date_created": "2025-12-01T14:42:03Z",
          "date_updated": "2025-12-01T14:52:03Z",
          "account_sid": "AC01010101010101010101010101010101",
          "enable_turn": true,
          "unique_name": "standup",
          "status_callback": "https://app.example/cb?x=1",
          "status_callback_method": "POST",
          "end_time": "2025-12-01T14:52:03Z",
          "duration": 600,
          "type": "group",
          "max_participants": 50,
          "max_participant_duration": 14400,
          "max_concurrent_published_tracks": 170,
          "record_participants_on_connect": false,
          "video_codecs": [
            "VP8"
          ],
          "media_region": "us1",
          "audio_only": false,
          "empty_room_timeout": 5,
          "unused_room_timeout": 5,
          "large_room": false,
          "url": "https://video.example/v1/Rooms/RM11111111111111111111111111111111",
          "links": {
            "participants": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Participants",
            "recordings": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Recordings",
            "transcriptions": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Transcriptions",
            "recording_rules": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/RecordingRules"
          }
        }"#]],
    );
}

#[test]
fn a_connected_participant() {
    let r = room(None);
    let p = participant(&r, false);
    assert_eq!(p.status, ParticipantStatus::Connected);
    check(
        &ParticipantResource::new(&p, BASE),
        &expect![[r#"
        {
          "sid": "PA22222222222222222222222222222222",
          "room_sid": "RM11111111111111111111111111111111",
          "account_sid": "AC01010101010101010101010101010101",
          "status": "connected",
          "identity": "alice",
          "date_created": "2025-12-01T14:42:10Z",
          "date_updated": "2025-12-01T14:42:10Z",
          "start_time": "2025-12-01T14:42:10Z",
          "end_time": null,
          "duration": null,
          "url": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Participants/PA22222222222222222222222222222222",
          "links": {
            "published_tracks": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Participants/PA22222222222222222222222222222222/PublishedTracks",
            "subscribed_tracks": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Participants/PA22222222222222222222222222222222/SubscribedTracks",
            "subscribe_rules": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Participants/PA22222222222222222222222222222222/SubscribeRules",
            "anonymize": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Participants/PA22222222222222222222222222222222/Anonymize"
          }
        }"#]],
    );
}

#[test]
fn a_participant_who_left_and_its_anonymized_form() {
    let r = room(None);
    let p = participant(&r, true);
    check(
        &ParticipantResource::new(&p, BASE),
        &expect![[r#"
        {
          "sid": "PA22222222222222222222222222222222",
          "room_sid": "RM11111111111111111111111111111111",
          "account_sid": "AC01010101010101010101010101010101",
          "status": "disconnected",
          "identity": "alice",
          "date_created": "2025-12-01T14:42:10Z",
          "date_updated": "2025-12-01T14:43:10Z",
          "start_time": "2025-12-01T14:42:10Z",
          "end_time": "2025-12-01T14:43:10Z",
          "duration": 60,
          "url": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Participants/PA22222222222222222222222222222222",
          "links": {
            "published_tracks": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Participants/PA22222222222222222222222222222222/PublishedTracks",
            "subscribed_tracks": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Participants/PA22222222222222222222222222222222/SubscribedTracks",
            "subscribe_rules": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Participants/PA22222222222222222222222222222222/SubscribeRules",
            "anonymize": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Participants/PA22222222222222222222222222222222/Anonymize"
          }
        }"#]],
    );
    check(
        &ParticipantResource::anonymized(&p, BASE),
        &expect![[r#"
        {
          "sid": "PA22222222222222222222222222222222",
          "room_sid": "RM11111111111111111111111111111111",
          "account_sid": "AC01010101010101010101010101010101",
          "status": "disconnected",
          "identity": "alice",
          "date_created": "2025-12-01T14:42:10Z",
          "date_updated": "2025-12-01T14:43:10Z",
          "start_time": "2025-12-01T14:42:10Z",
          "end_time": "2025-12-01T14:43:10Z",
          "duration": 60,
          "url": "https://video.example/v1/Rooms/RM11111111111111111111111111111111/Participants/PA22222222222222222222222222222222/Anonymize"
        }"#]],
    );
}
