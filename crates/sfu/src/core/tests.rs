//! The core's own tests.

use std::sync::Arc;

use vroom_domain::sid::ParticipantSid;

use super::{CoreConfig, SfuCore};

fn participant(i: u32) -> ParticipantSid {
    let mut b = [0; 16];
    b[..4].copy_from_slice(&i.to_be_bytes());
    ParticipantSid::from_bytes(b)
}

#[test]
fn the_options_map_gives_its_room_back_once_its_participants_left() {
    let mut core = SfuCore::new(CoreConfig {
        public_addr: "127.0.0.1:3478".parse().unwrap(),
        tcp_addr: None,
        crypto: Arc::new(str0m::crypto::from_feature_flags()),
        max_subscriber_bitrate: None,
        recording_media_timeout: crate::RECORDING_MEDIA_TIMEOUT,
    });
    for i in 0..2000 {
        core.set_options(participant(i), crate::msp::MediaOptions::default());
    }
    let grown = core.options.capacity();
    assert!(grown >= 2000);
    for i in 0..1990 {
        core.remove_participant(participant(i));
    }
    assert_eq!(core.options.len(), 10);
    assert!(
        core.options.capacity() <= 128,
        "still {} slots for 10 entries (grown to {grown})",
        core.options.capacity()
    );
    for i in 1990..2000 {
        assert!(core.options.contains_key(&participant(i)), "entry {i} kept");
    }
}
