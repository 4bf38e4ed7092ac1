//! twilio-video.js 2.36.0 in headless Chromium against the real server: each test starts a vroom and
//! runs one scenario of `tests/browser/run.js` (Node, Playwright, Debian's Chromium) against it. The
//! checks themselves are in scenarios-*.js (the harness in lib.js); this side provides the server and
//! the credentials, and reports what run.js printed when it fails.
//!
//! Needs `scripts/setup-test-deps` (Chromium and `npm ci` in tests/browser); fails, never skips,
//! when that was not run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use crate::common::{Options, TestServer};
use crate::external::{require_installed, run_to_end};

/// How long one scenario may take, Chromium start included (they take a few seconds each).
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(180);
/// The browser Playwright drives (Debian's package `chromium`).
const CHROMIUM: &str = "/usr/bin/chromium";

/// One browser at a time: each scenario runs Chromium with several pages, and two at once on a small
/// machine only make both slower.
pub(crate) static ONE_BROWSER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Fails with what is missing and how to install it.
fn require_setup() {
    let dir = browser_dir();
    require_installed(
        "the browser tests need Chromium and tests/browser's npm packages",
        &[
            PathBuf::from(CHROMIUM),
            dir.join("node_modules/twilio-video/dist/twilio-video.min.js"),
            dir.join("node_modules/playwright-core/package.json"),
            dir.join("node_modules/jsonwebtoken/package.json"),
        ],
    );
}

/// Runs `node run.js <scenario>` against `server` and fails the test with its output unless it
/// passes.
async fn run_scenario(server: &TestServer, scenario: &str) {
    require_setup();
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let stdout = run_to_end(
        Command::new("node")
            .arg("run.js")
            .arg(scenario)
            .current_dir(browser_dir())
            .env("VROOM_BASE_URL", &server.base)
            .env("VROOM_WS_URL", &server.ws)
            .env("VROOM_ACCOUNT_SID", server.creds.account_sid.to_string())
            .env("VROOM_API_KEY_SID", server.creds.api_key_sid.to_string())
            .env("VROOM_API_KEY_SECRET", &server.creds.api_key_secret)
            .env("VROOM_CHROMIUM", CHROMIUM),
        &format!("browser scenario '{scenario}' (node run.js; Node.js is needed)"),
        SCENARIO_TIMEOUT,
    )
    .await;
    println!("{stdout}");
}

async fn scenario(name: &str) {
    let server = TestServer::start().await;
    run_scenario(&server, name).await;
    server.stop().await;
}

/// connect() through `wsServer`: room and participant SIDs, names and identity match REST; leaving
/// shows in REST.
#[tokio::test(flavor = "multi_thread")]
async fn connects_through_ws_server() {
    scenario("connect").await;
}

/// Two pages: B's join and leave reach A as participantConnected / participantDisconnected.
#[tokio::test(flavor = "multi_thread")]
async fn sees_others_join_and_leave() {
    scenario("join_leave").await;
}

/// A second page with the same identity disconnects the first with 53205.
#[tokio::test(flavor = "multi_thread")]
async fn identity_takeover_disconnects_with_53205() {
    scenario("duplicate_identity").await;
}

/// REST Status=completed disconnects every page with 53118.
#[tokio::test(flavor = "multi_thread")]
async fn room_completion_disconnects_with_53118() {
    scenario("room_completed").await;
}

/// REST Status=disconnected on a participant disconnects its page with 53204.
#[tokio::test(flavor = "multi_thread")]
async fn rest_kick_disconnects_with_53204() {
    scenario("kick").await;
}

/// Fake camera and microphone get MT SIDs; the other pages see them, and later publications and
/// unpublications as trackPublished / trackUnpublished.
#[tokio::test(flavor = "multi_thread")]
async fn published_tracks_get_sids_and_are_announced() {
    scenario("tracks").await;
}

/// Refused tokens reject connect() with the token error's code.
#[tokio::test(flavor = "multi_thread")]
async fn bad_tokens_reject_connect() {
    scenario("bad_tokens").await;
}

/// A signaling connection cut without a close handshake is resumed with `sync`.
#[tokio::test(flavor = "multi_thread")]
async fn resumes_after_a_cut_connection() {
    scenario("reconnect").await;
}

/// Heartbeats both ways keep a page connected over several heartbeat periods (a 1 s heartbeat, so
/// several periods pass quickly).
#[tokio::test(flavor = "multi_thread")]
async fn heartbeats_keep_a_page_connected() {
    let server = TestServer::with(Options {
        heartbeat_ms: 1000,
        ..Options::default()
    })
    .await;
    run_scenario(&server, "heartbeats").await;
    server.stop().await;
}

/// Two pages publish camera and microphone: each is subscribed to the other's tracks, and packets
/// and decoded frames (audio: samples) rise on every one.
#[tokio::test(flavor = "multi_thread")]
async fn two_pages_receive_each_others_media() {
    scenario("media_two").await;
}

/// Three pages publish camera and microphone: each receives the other two's four tracks.
#[tokio::test(flavor = "multi_thread")]
async fn three_pages_receive_each_others_media() {
    scenario("media_three").await;
}

/// An unpublished camera is unsubscribed and unpublished at the other page while the microphone
/// keeps flowing; a new camera published mid-call, and a second one on a recycled server m-line,
/// reach it.
#[tokio::test(flavor = "multi_thread")]
async fn unpublish_and_publish_again_mid_call() {
    scenario("unpublish").await;
}

/// A page that leaves is seen to go (participantDisconnected, trackUnsubscribed); media between
/// the others goes on.
#[tokio::test(flavor = "multi_thread")]
async fn leaving_keeps_media_between_the_others() {
    scenario("leave").await;
}

/// REST Status=disconnected while media flows: 53204 for the kicked page, its tracks leave the
/// other.
#[tokio::test(flavor = "multi_thread")]
async fn rest_kick_with_media() {
    scenario("kick_media").await;
}

/// A second page with the same identity while media flows: 53205 for the first; the other page
/// sees the swap and receives the newcomer's media.
#[tokio::test(flavor = "multi_thread")]
async fn identity_takeover_with_media() {
    scenario("duplicate_identity_media").await;
}

/// REST Status=completed while media flows disconnects every page with 53118.
#[tokio::test(flavor = "multi_thread")]
async fn room_completion_with_media() {
    scenario("room_completed_media").await;
}

/// A LocalDataTrack: subscribers get it as a data track and receive its text and binary messages
/// in order, including one that joins later; unpublished it leaves them, and a second one reaches
/// them.
#[tokio::test(flavor = "multi_thread")]
async fn data_track_messages_reach_subscribers() {
    scenario("data_track").await;
}

/// REST SubscribeRules excluding video stop a camera reaching a page while its audio flows;
/// including everything again brings it back; SubscribedTracks follows.
#[tokio::test(flavor = "multi_thread")]
async fn subscribe_rules_stop_and_restore_video() {
    scenario("subscribe_rules").await;
}

/// A resumed session keeps its peer connection and media both ways; a track published after it
/// reaches the others; a server offer lost with the connection comes again in `synced`; an offer
/// made while the client cannot reach the server comes in `sync` and is answered in `synced`.
#[tokio::test(flavor = "multi_thread")]
async fn resumes_with_media() {
    scenario("reconnect_media").await;
}

/// The server's answer to a client offer is lost with the signaling connection: the client's `sync`
/// repeats the offer and `synced` answers it again, so the new track goes out. Then the client's
/// answer to a server offer is lost: `sync` carries it and the server applies it.
#[tokio::test(flavor = "multi_thread")]
async fn resumes_after_losing_an_answer() {
    scenario("reconnect_lost_answer").await;
}

/// The server's answer to a client offer and its next offer are both lost with the signaling
/// connection: the repeated client offer crosses the pending server offer in `synced`, and glare
/// handling sorts it out.
#[tokio::test(flavor = "multi_thread")]
async fn resumes_after_losing_an_answer_and_an_offer() {
    scenario("reconnect_lost_answer_and_offer").await;
}

/// A server offer crossing the client's own: the client rolls back, answers and offers again, and
/// every track gets through.
#[tokio::test(flavor = "multi_thread")]
async fn glare_between_server_and_client_offers() {
    scenario("glare").await;
}

/// Four pages with `preferredVideoCodecs: 'auto'` (three simulcast SSRCs offered, one sent), each
/// joining after the others publish: every page shows every other camera within 2 s of subscribing;
/// a republished and a restarted camera show within 2 s too.
#[tokio::test(flavor = "multi_thread")]
async fn late_joiners_see_video_with_adaptive_simulcast() {
    scenario("late_joiners_auto").await;
}

/// Three pages sending three VP8 simulcast layers each: every page shows the others' cameras.
#[tokio::test(flavor = "multi_thread")]
async fn simulcast_publishers_are_shown() {
    scenario("simulcast_vp8").await;
}

/// A data track published in `connect`: a message sent the moment the others are subscribed to it
/// reaches them, whoever joined first.
#[tokio::test(flavor = "multi_thread")]
async fn data_track_published_in_connect_delivers_at_once() {
    scenario("data_track_in_connect").await;
}
