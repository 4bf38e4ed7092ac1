//! The `/quickstart` page, used in headless Chromium as a person would (tests/browser/quickstart.js).

use std::path::PathBuf;
use std::time::Duration;

use crate::common::{Options, TestServer};
use crate::external::{require_installed, run_to_end};

#[tokio::test(flavor = "multi_thread")]
async fn two_people_join_see_and_hear_each_other_and_leave_from_the_quickstart_page() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sdk = root.join("tests/browser/node_modules/twilio-video/dist/twilio-video.min.js");
    require_installed(
        "the quickstart test needs tests/browser's npm packages",
        std::slice::from_ref(&sdk),
    );
    let s = TestServer::with(Options {
        quickstart_sdk: Some(sdk),
        ..Options::default()
    })
    .await;
    let _one_browser_at_a_time = crate::browser::ONE_BROWSER_AT_A_TIME.lock().await;
    let stdout = run_to_end(
        tokio::process::Command::new("node")
            .arg(root.join("tests/browser/quickstart.js"))
            .env("VROOM_BASE_URL", &s.base)
            .env("VROOM_ACCOUNT_SID", s.creds.account_sid.to_string())
            .env("VROOM_API_KEY_SID", s.creds.api_key_sid.to_string())
            .env("VROOM_API_KEY_SECRET", &s.creds.api_key_secret),
        "quickstart.js",
        Duration::from_secs(120),
    )
    .await;
    assert!(stdout.contains("quickstart passed"));
}
