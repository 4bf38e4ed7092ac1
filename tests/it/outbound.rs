//! The outbound client of the real binary: proxies named by the environment are ignored, the one
//! the operator configures is used.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::common::{free_port, serve_command, test_credentials};

/// A bare HTTP listener answering 200 to anything; sends each request line it reads.
async fn listener() -> (u16, mpsc::UnboundedReceiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = l.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&buf).into_owned();
                let _ = tx.send(text.lines().next().unwrap_or_default().to_owned());
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (port, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a request in time")
        .expect("the listener runs")
}

/// Starts the binary with `args` and `env`, creates a room calling back `callback`, and returns
/// the child (kept running while the caller looks).
async fn room_with_callback(
    args: &[&str],
    env: &[(&str, String)],
    callback: &str,
) -> tokio::process::Child {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/vroom.db", dir.path().display());
    let creds = test_credentials();
    let mut cmd = serve_command(port, &db);
    cmd.args(args)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env("VROOM_ACCOUNT_SID", creds.account_sid.to_string())
        .env("VROOM_AUTH_TOKEN", &creds.auth_token)
        .env("VROOM_API_KEY_SID", creds.api_key_sid.to_string())
        .env("VROOM_API_KEY_SECRET", &creds.api_key_secret)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("vroom starts");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://127.0.0.1:{port}/v1/Rooms");
    for _ in 0..400 {
        let sent = http
            .post(&url)
            .basic_auth(creds.api_key_sid.to_string(), Some(&creds.api_key_secret))
            .form(&[("StatusCallback", callback)])
            .send()
            .await;
        if let Ok(resp) = sent {
            assert_eq!(resp.status(), 201);
            // The folder outlives the child: it is removed when the test process ends.
            std::mem::forget(dir);
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("vroom did not start");
}

#[tokio::test(flavor = "multi_thread")]
async fn environment_proxies_are_ignored_and_the_configured_one_is_used() {
    let (proxy_port, mut proxied) = listener().await;
    let (receiver_port, mut received) = listener().await;
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let env: Vec<(&str, String)> = [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .into_iter()
    .map(|k| (k, proxy.clone()))
    .collect();
    let direct = format!("http://127.0.0.1:{receiver_port}/cb");
    let child = room_with_callback(&[], &env, &direct).await;
    assert_eq!(next(&mut received).await, "POST /cb HTTP/1.1");
    assert!(
        proxied.try_recv().is_err(),
        "the environment's proxy was used"
    );
    drop(child);

    // Configured: the callback goes through the proxy (absolute-form request line), even to a
    // target nothing listens on.
    let nowhere = format!("http://127.0.0.1:{}/cb", free_port());
    let _child = room_with_callback(&["--webhook-proxy", &proxy], &[], &nowhere).await;
    assert_eq!(next(&mut proxied).await, format!("POST {nowhere} HTTP/1.1"));
}
