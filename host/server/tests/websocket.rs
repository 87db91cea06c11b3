//! SIP over WebSocket (RFC 7118) and over secure WebSocket: a client
//! registers on `/ws`, and a call to its extension comes down the very
//! WebSocket it registered on (the browser's Contact names `*.invalid`,
//! which nobody can dial). The browser phone's own journeys run in
//! Chromium (`browser_phone.rs`); these check the transport itself with a
//! plain WebSocket client.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::phone::Phone;
use common::{LIMIT, client_trusting, pbx_configured};
use futures_util::{SinkExt, StreamExt};
use switchyard_sip::message::Message;
use switchyard_sip::message::parse::{Framing, parse};
use switchyard_store::RegistrationRepo as _;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, http::HeaderValue};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A browser's SIP stack, reduced to what the checks need.
struct WsPhone {
    ws: Ws,
    ext: String,
    transport: &'static str,
    call_id: String,
}

fn sip_request(url: &str) -> tungstenite::handshake::client::Request {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
    req
}

impl WsPhone {
    async fn connect(url: &str, ext: &str, tls: Option<Arc<rustls::ClientConfig>>) -> WsPhone {
        let connector = tls.map(Connector::Rustls);
        let (ws, resp) = tokio_tungstenite::connect_async_tls_with_config(
            sip_request(url),
            None,
            false,
            connector,
        )
        .await
        .expect("the WebSocket opens");
        assert_eq!(
            resp.headers().get("Sec-WebSocket-Protocol").unwrap(),
            "sip",
            "the host speaks the sip subprotocol"
        );
        WsPhone {
            ws,
            ext: ext.into(),
            transport: if url.starts_with("wss") { "WSS" } else { "WS" },
            call_id: format!("ws-{ext}-{}", std::process::id()),
        }
    }

    async fn send(&mut self, text: String) {
        self.ws
            .send(tungstenite::Message::text(text))
            .await
            .expect("sent");
    }

    async fn recv(&mut self) -> Message {
        loop {
            let frame = tokio::time::timeout(LIMIT, self.ws.next())
                .await
                .expect("a SIP message in time")
                .expect("the WebSocket is open")
                .expect("a frame");
            match frame {
                tungstenite::Message::Text(t) => {
                    return parse(t.as_bytes(), Framing::Datagram)
                        .expect("one SIP message per frame");
                }
                tungstenite::Message::Binary(b) => {
                    return parse(&b, Framing::Datagram).expect("one SIP message per frame");
                }
                _ => continue,
            }
        }
    }

    fn via(&self, branch: &str) -> String {
        // What a browser puts in its Via and Contact: a made-up host under
        // .invalid (RFC 7118 §5.2).
        format!(
            "Via: SIP/2.0/{} df7jal23ls0d.invalid;branch=z9hG4bK{branch}\r\n",
            self.transport
        )
    }

    async fn register(&mut self, password: &str) {
        let uri = "sip:demo.localhost";
        let aor = format!("<sip:{}@demo.localhost>", self.ext);
        let mut auth = String::new();
        for cseq in 1..=2 {
            let text = format!(
                "REGISTER {uri} SIP/2.0\r\n{}Max-Forwards: 70\r\nFrom: {aor};tag=ws{cseq}\r\nTo: {aor}\r\n\
                 Call-ID: {}\r\nCSeq: {cseq} REGISTER\r\n\
                 Contact: <sip:x7k2@df7jal23ls0d.invalid;transport=ws>;expires=300\r\n{auth}Content-Length: 0\r\n\r\n",
                self.via(&format!("reg{cseq}")),
                self.call_id
            );
            self.send(text).await;
            let m = self.recv().await;
            match m.status() {
                200 => return,
                401 => {
                    let challenge = m.headers.get("WWW-Authenticate").unwrap();
                    let answer = switchyard_sip::auth::answer_challenge(
                        challenge, "REGISTER", uri, &self.ext, password,
                    )
                    .unwrap();
                    auth = format!("Authorization: {answer}\r\n");
                }
                other => panic!("REGISTER over the WebSocket got {other}"),
            }
        }
        panic!("not registered");
    }

    /// Answer the INVITE that comes down the WebSocket; its ACK follows.
    async fn answer_call(&mut self, rtp_port: u16) -> Message {
        let invite = loop {
            let m = self.recv().await;
            if m.method() == "INVITE" {
                break m;
            }
        };
        let ringing = switchyard_sip::message::build::response(&invite, 180, "", Some("wstag"));
        self.send(String::from_utf8(ringing.to_bytes()).unwrap())
            .await;
        let mut ok = switchyard_sip::message::build::response(&invite, 200, "", Some("wstag"));
        ok.headers
            .push("Contact", "<sip:x7k2@df7jal23ls0d.invalid;transport=ws>");
        ok.headers.push("Content-Type", "application/sdp");
        ok.body = common::phone::sdp(rtp_port, "sendrecv").into_bytes();
        self.send(String::from_utf8(ok.to_bytes()).unwrap()).await;
        let ack = self.recv().await;
        assert_eq!(
            ack.method(),
            "ACK",
            "the 200 is acknowledged over the WebSocket"
        );
        invite
    }
}

fn ws_url(http: SocketAddr) -> String {
    format!("ws://{http}/ws")
}

/// An extension registers over ws://…/ws; a phone's call to it arrives
/// down that WebSocket, is answered there, and the phone's BYE follows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_websocket_phone_goes_down_its_websocket() {
    let pbx = pbx_configured(None, None, |_| {}).await;
    let mut browser = WsPhone::connect(&ws_url(pbx.running.http), "1001", None).await;
    browser.register(&pbx.password("1001")).await;
    let bindings = pbx.running.store.bindings("demo", "1001", 0).unwrap();
    assert!(
        bindings.iter().any(|b| b.transport == "WS"),
        "registered over WS: {bindings:?}"
    );

    let sip = pbx.addr();
    let password = pbx.password("1002");
    let caller = tokio::task::spawn_blocking(move || {
        let mut phone = Phone::new(sip, 0x1002);
        phone.call_as("1002", &password, "1001");
        phone
    });
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let invite = browser.answer_call(rtp.local_addr().unwrap().port()).await;
    let via = invite.headers.get("Via").unwrap();
    assert!(
        via.starts_with("SIP/2.0/WS "),
        "the host's Via names WS: {via}"
    );
    let mut phone = caller.await.unwrap();
    let hangup = tokio::task::spawn_blocking(move || phone.bye());
    let bye = browser.recv().await;
    assert_eq!(bye.method(), "BYE", "the hang-up comes down the WebSocket");
    let ok = switchyard_sip::message::build::response(&bye, 200, "", None);
    browser
        .send(String::from_utf8(ok.to_bytes()).unwrap())
        .await;
    hangup.await.unwrap();
}

/// The same over wss:// on the HTTPS port, trusting the development
/// certificate `serve` made; a client that trusts another certificate
/// gets no connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_websocket_registers_with_the_development_certificate() {
    let pbx = pbx_configured(None, None, |c| {
        c.https_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let https = pbx.running.https.expect("HTTPS served");
    let cert = pbx.running.certificate.clone().expect("a certificate");
    assert!(cert.self_signed);
    let url = format!("wss://localhost:{}/ws", https.port());

    let mut browser = WsPhone::connect(
        &url,
        "1003",
        Some(client_trusting(&std::fs::read(&cert.cert).unwrap())),
    )
    .await;
    browser.register(&pbx.password("1003")).await;
    let bindings = pbx
        .running
        .store
        .bindings("demo", "1003", 0)
        .expect("bindings");
    assert!(
        bindings.iter().any(|b| b.transport == "WSS"),
        "registered over WSS: {bindings:?}"
    );

    // A client that trusts only some other certificate refuses ours.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let stranger = client_trusting(other.cert.pem().as_bytes());
    let refused = tokio_tungstenite::connect_async_tls_with_config(
        sip_request(&url),
        None,
        false,
        Some(Connector::Rustls(stranger)),
    )
    .await;
    let err = refused
        .expect_err("an untrusted certificate is refused")
        .to_string();
    assert!(
        err.contains("certificate") || err.contains("Certificate"),
        "the error says why: {err}"
    );
}

/// A WebSocket that does not ask for the `sip` subprotocol is refused
/// with a message saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_without_the_sip_subprotocol_is_refused() {
    let pbx = pbx_configured(None, None, |_| {}).await;
    let req = ws_url(pbx.running.http).into_client_request().unwrap();
    let err = tokio_tungstenite::connect_async(req)
        .await
        .expect_err("refused");
    match err {
        tungstenite::Error::Http(resp) => {
            assert_eq!(resp.status(), 400);
            let body =
                String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).to_string();
            assert!(body.contains("sip"), "{body}");
        }
        other => panic!("expected an HTTP refusal, got {other}"),
    }
    // The server is unharmed: a proper client still registers.
    let mut browser = WsPhone::connect(&ws_url(pbx.running.http), "1001", None).await;
    browser.register(&pbx.password("1001")).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// A web visitor's INVITE with a ticket the host never issued (or one
/// already used) is refused 403, and so is a ticket sent over plain UDP
/// (tickets are taken over WebSocket only: there it is the browser's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_call_without_a_valid_ticket_is_refused() {
    let pbx = pbx_configured(None, None, |_| {}).await;
    let mut browser = WsPhone::connect(&ws_url(pbx.running.http), "web", None).await;
    let invite = format!(
        "INVITE sip:+15550103@demo.localhost SIP/2.0\r\n{}Max-Forwards: 70\r\n\
         From: \"Web visitor\" <sip:web@demo.localhost>;tag=v1\r\nTo: <sip:+15550103@demo.localhost>\r\n\
         Call-ID: web-bogus\r\nCSeq: 1 INVITE\r\nContact: <sip:v@x.invalid;transport=ws>\r\n\
         X-Switchyard-Ticket: 00112233445566778899aabbccddeeff0011223344556677\r\nContent-Length: 0\r\n\r\n",
        browser.via("webcall")
    );
    browser.send(invite).await;
    let answer = loop {
        let m = browser.recv().await;
        if m.status() >= 200 {
            break m;
        }
    };
    assert_eq!(answer.status(), 403, "{answer:?}");
}
