//! A tiny CRM over HTTP for the tests of the tenant's `crm-rest`
//! connector: real sockets, real HTTP/1.1.

/// A tiny CRM over HTTP: answers every contact look-up with Ada (owned by
/// 1003) and keeps the bodies POSTed to `/api/calls`.
pub async fn crm() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let logged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = logged.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // The head, then as much body as Content-Length says.
                let (head, body_len) = loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        buf.drain(..end + 4);
                        break (head, len);
                    }
                };
                // A body of Content-Length bytes, or chunks up to the last.
                let chunked = head
                    .to_ascii_lowercase()
                    .contains("transfer-encoding: chunked");
                while if chunked {
                    !buf.ends_with(b"0\r\n\r\n")
                } else {
                    buf.len() < body_len
                } {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let reply = if head.starts_with("POST /api/calls") {
                    // The record's text (chunk sizes and all).
                    let text = String::from_utf8_lossy(&buf).to_string();
                    keep.lock().unwrap().push(serde_json::Value::String(text));
                    "{}".to_string()
                } else {
                    serde_json::json!({"id": "c1", "name": "Ada Lovelace", "owner": "1003",
                        "url": "https://crm.example/c1"})
                    .to_string()
                };
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    (addr, logged)
}

/// The server with the demo tenant, its `crm-rest` connector pointed at a
/// fresh [`crm`] (and allowed to reach loopback), and what that CRM was
/// sent.
pub async fn pbx_with_crm() -> (
    super::Pbx,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    let (addr, logged) = crm().await;
    let mut t: serde_json::Value = serde_json::from_str(switchyard_artifacts::DEMO_TENANT).unwrap();
    t["plugins"]["crm-rest"]["config"]["base-url"] = format!("http://{addr}/api").into();
    let pbx = super::pbx_configured(Some(t), None, |c| {
        // The CRM of these tests is on loopback.
        c.allow_private_plugin_http = true;
    })
    .await;
    (pbx, logged)
}
