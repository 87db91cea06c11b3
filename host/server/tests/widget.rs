//! The web call-back widget in a real browser: Debian's headless Chromium
//! (driven by puppeteer-core, `tests/web/widget.mjs`) loads a page of an
//! allowed web site that embeds the host's snippet, a visitor asks for a
//! call back, and the number waits in the queue's call-backs, stored;
//! the same page served from another origin is refused by the browser's
//! own CORS rules, and nothing is queued.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use common::*;
use serde_json::{Value, json};
use switchyard_store::CallbackRepo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A web site on loopback: every request gets `html`.
async fn site(html: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let html = html.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    addr
}

/// The visitor: Chromium opens `page`, types `number`, presses the
/// button; what the widget then says.
fn visit(page: &str, number: &str) -> Value {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/web");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists()
            && dir.join("node_modules/puppeteer-core").exists(),
        "the browser tests need Debian's chromium and tests/web's npm packages: \
         ./scripts/test installs both"
    );
    let out = Command::new("node")
        .arg(dir.join("widget.mjs"))
        .arg(page)
        .arg(number)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "widget.mjs: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("widget.mjs prints JSON")
}

/// The tenant's own web page, embedding its widget `site` from the host
/// at `api`.
fn tenant_page(api: &str) -> String {
    format!(
        "<!doctype html><html><head><title>Acme</title></head><body>\
         <h1>Talk to us</h1>\
         <script src=\"{api}/widget/demo/site/widget.js\"></script>\
         </body></html>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_asks_for_a_call_back_from_the_tenants_web_site() {
    let pbx = Arc::new(pbx().await);
    let api = format!("http://{}", pbx.running.http);
    let page = tenant_page(&api);
    let allowed = site(page.clone()).await;
    let elsewhere = site(page).await;
    let op = pbx.running.operator_token.clone();
    let base = format!("{api}/api/tenants/demo");
    let (o, b) = (op.clone(), base.clone());
    blocking(move || {
        // Nobody free: the call-back waits its turn.
        for agent in ["1002", "1003"] {
            let (s, t) = http(
                "POST",
                &format!("{b}/agents/{agent}/state"),
                &o,
                Some(json!({"action": "logout"})),
            );
            assert_eq!(s, 200, "{t}");
        }
        let (s, t) = http(
            "PUT",
            &format!("{b}/widgets/site"),
            &o,
            Some(json!({"queue": "support", "title": "Call me back",
                "allowed_origins": [format!("http://{allowed}")]})),
        );
        assert_eq!(s, 200, "{t}");
    })
    .await;

    let said = blocking(move || visit(&format!("http://{allowed}/"), "+44 20 7946 0000")).await;
    assert_eq!(said["state"], "ok", "{said}");
    assert!(
        said["text"].as_str().unwrap().contains("+442079460000"),
        "{said}"
    );
    let (status, callbacks) = pbx
        .running
        .pbx
        .queue_status("demo", "support")
        .expect("the support queue");
    assert_eq!(callbacks, 1, "{status:?}");
    // Stored (in the background, as every placeholder): it outlives a
    // restart.
    let store = pbx.running.store.clone();
    until("the call-back is stored", move || {
        store.list_callbacks("demo").unwrap().len() == 1
    })
    .await;
    let stored = pbx.running.store.list_callbacks("demo").unwrap();
    assert_eq!(stored[0].number, "+442079460000");
    assert!(stored[0].tags.contains(&("source".into(), "web".into())));

    // The same page on another site: the browser is not let read the
    // host's answers, the widget says it failed, nothing is queued.
    let said = blocking(move || visit(&format!("http://{elsewhere}/"), "+15550100142")).await;
    assert_eq!(said["state"], "error", "{said}");
    let (_, callbacks) = pbx.running.pbx.queue_status("demo", "support").unwrap();
    assert_eq!(callbacks, 1);
}

/// "Call us": the visitor presses the widget's button on the tenant's
/// page; Chromium calls the widget's number — the `support` queue's DID —
/// over the host's SIP WebSocket with a ticket instead of credentials, and
/// an agent answers and talks with the visitor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_calls_us_from_the_tenants_web_site() {
    use common::phone::Phone;
    let pbx = Arc::new(pbx().await);
    let api = format!("http://{}", pbx.running.http);
    let page = tenant_page(&api);
    let allowed = site(page).await;
    let op = pbx.running.operator_token.clone();
    let base = format!("{api}/api/tenants/demo");
    blocking(move || {
        let (s, t) = http(
            "PUT",
            &format!("{base}/widgets/site"),
            &op,
            Some(
                json!({"queue": "support", "allowed_origins": [format!("http://{allowed}")],
                "call_to": "+15550103"}),
            ),
        );
        assert_eq!(s, 200, "{t}");
        // Not one of the tenant's numbers: refused, saying which field.
        let (s, t) = http(
            "PUT",
            &format!("{base}/widgets/other"),
            &op,
            Some(
                json!({"queue": "support", "allowed_origins": [format!("http://{allowed}")],
                "call_to": "+19999999999"}),
            ),
        );
        assert_eq!(s, 400, "{t}");
        assert!(t.contains("call_to"), "{t}");
    })
    .await;
    let sip = pbx.addr();
    let password = pbx.password("1002");
    let agent = tokio::task::spawn_blocking(move || {
        let mut phone = Phone::new(sip, 0x5002);
        phone.sip.set_read_timeout(Some(LIMIT)).unwrap();
        phone.register("1002", &password);
        phone.answer_invite(|_| "sendrecv");
        let talker = phone.talker();
        let talking = std::thread::spawn(move || {
            let mut t = talker;
            t.tone(600.0, 2500);
        });
        let heard = phone.listen(std::time::Duration::from_millis(2500));
        talking.join().unwrap();
        phone.answer_bye();
        heard
    });
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/web");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let out = blocking(move || {
        Command::new("node")
            .arg(dir.join("webcall.mjs"))
            .arg(format!("http://{allowed}/"))
            .arg("3000")
            .env("CHROMIUM", &chromium)
            .output()
            .expect("node runs")
    })
    .await;
    let said: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "webcall.mjs: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        said["state"], "ended",
        "the call was made and ended: {said}"
    );
    let stats = &said["stats"];
    assert!(
        stats["packetsReceived"].as_u64().unwrap_or(0) > 50,
        "{said}"
    );
    assert!(
        stats["totalAudioEnergy"].as_f64().unwrap_or(0.0) > 0.0,
        "{said}"
    );
    let heard = agent.await.unwrap();
    assert!(
        heard.len() > 4000,
        "the agent heard the visitor: {} bytes",
        heard.len()
    );
    let cdr = pbx.cdrs(1).await.remove(0);
    assert_eq!(cdr.caller, "web", "{cdr:?}");
    assert_eq!(cdr.agent.as_deref(), Some("1002"), "{cdr:?}");
    assert!(cdr.tags.iter().any(|t| t == "web"), "{cdr:?}");
}
