//! Servers for the `/quickstart` scenarios (tests/browser/scenarios-quickstart.js, run by browser.rs),
//! one for each place the page can get twilio-video.js from: the pinned release on a CDN (here a
//! local stand-in serving the npm package's file, so the integrity hash is checked against the real
//! release), and a copy in the data folder with no CDN reachable (offline). Each tells the scenario
//! where the page must load the SDK from (`expectSdkUrl`).

use std::path::PathBuf;

use axum::routing::get;
use serde_json::json;
use vroom::quickstart::{SDK_FILE_NAME, SDK_VERSION, SdkSource};

use crate::browser::{Served, sdk_file};
use crate::common::{Options, TestServer, free_port, spawn_vroom_with, test_credentials};

/// A stand-in for the CDN on 127.0.0.1: serves the npm package's file at the release's path.
/// Returns its origin.
async fn local_cdn(sdk: PathBuf) -> String {
    let path = format!("/twilio-video@{SDK_VERSION}/dist/twilio-video.min.js");
    let app = axum::Router::new().route(
        &path,
        get(move || {
            let sdk = sdk.clone();
            async move {
                (
                    [
                        ("content-type", "text/javascript"),
                        // A CDN answers cross-origin requests; the integrity check needs CORS.
                        ("access-control-allow-origin", "*"),
                    ],
                    tokio::fs::read(&sdk).await.expect("the SDK file"),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let origin = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    origin
}

/// An in-process vroom whose /quickstart loads the pinned SDK from the stand-in CDN.
pub(crate) async fn sdk_from_a_cdn() -> Served {
    let source = SdkSource::Cdn(local_cdn(sdk_file()).await);
    let expected = source.cdn_url().expect("a CDN source has a URL");
    let server = TestServer::with(Options {
        quickstart: source,
        ..Options::default()
    })
    .await;
    Served::in_process(server, json!({ "expectSdkUrl": expected }))
}

/// The vroom binary with the SDK in its data folder and a CDN that cannot be reached (a closed
/// port): the page works only if it does not need the CDN.
pub(crate) async fn sdk_in_the_data_folder() -> Served {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::copy(sdk_file(), dir.path().join(SDK_FILE_NAME)).expect("copy the SDK");
    let db = format!("sqlite://{}/vroom.db", dir.path().display());
    let creds = test_credentials();
    let port = free_port();
    let unreachable = format!("http://127.0.0.1:{}", free_port());
    let data_dir = dir.path().to_str().expect("a UTF-8 temp path");
    let vroom = spawn_vroom_with(
        port,
        &db,
        &creds,
        &["--data-dir", data_dir, "--quickstart-cdn", &unreachable],
    )
    .await;
    let base = format!("http://127.0.0.1:{port}");
    let expected = format!("{base}/quickstart/{SDK_FILE_NAME}");
    Served::binary(
        &base,
        &creds,
        json!({ "expectSdkUrl": expected }),
        Box::new((vroom, dir)),
    )
}
