//! Replayed digest credentials (issue 11, item 2): a `Proxy-Authorization`
//! captured from one of 1001's calls, pasted into new INVITEs from another
//! address with new Call-IDs. Before the fix the one pasted into an INVITE
//! to an international number was accepted without a challenge and the
//! call went out the carrier trunk. The captured header here is from a call
//! to 1002; the attacker pastes it into an INVITE to `9` + an international
//! number, which the demo router sends to the trunk.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use switchyard_sip::message::Message;
use switchyard_sip::message::parse::{Framing, parse};
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout, timeout_at};

use crate::common::pbx_with;

const DEMO: &str = "demo.localhost";
/// Long enough for any answer on a loaded machine; the waits end as soon
/// as the answer is there.
const WAIT: Duration = Duration::from_secs(20);

/// The demo tenant with a carrier trunk at `carrier` (the router's `9…`
/// rule dials outside numbers through it).
fn tenant_with_trunk(carrier: SocketAddr) -> Value {
    let mut t: Value = serde_json::from_str(switchyard_artifacts::DEMO_TENANT).unwrap();
    t["trunks"] = serde_json::json!([{
        "name": "carrier",
        "host": carrier.to_string(),
        "username": "trunkuser",
        "password": "trunkpass",
        "register": false,
        "caller-id": "+15550100",
        "inbound-addresses": [carrier.to_string()],
    }]);
    t
}

fn invite(ruri_user: &str, call_id: &str, cseq: u32, local: SocketAddr) -> Message {
    let mut m = Message::request("INVITE", &format!("sip:{ruri_user}@{DEMO}"));
    m.headers.push(
        "Via",
        format!("SIP/2.0/UDP {local};branch=z9hG4bK{call_id}{cseq};rport"),
    );
    m.headers.push("Max-Forwards", "70");
    m.headers
        .push("From", format!("<sip:1001@{DEMO}>;tag={call_id}"));
    m.headers.push("To", format!("<sip:{ruri_user}@{DEMO}>"));
    m.headers.push("Call-ID", call_id);
    m.headers.push("CSeq", format!("{cseq} INVITE"));
    m.headers.push("Contact", format!("<sip:1001@{local}>"));
    m.headers.push("Content-Type", "application/sdp");
    m.body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        .as_bytes()
        .to_vec();
    m
}

fn ack(invite: &Message, answer: &Message) -> Vec<u8> {
    let mut ack = Message::request("ACK", invite.uri());
    if let Some(via) = invite.top_via() {
        ack.headers.push("Via", via);
    }
    for name in ["From", "Call-ID"] {
        if let Some(v) = invite.headers.get(name) {
            ack.headers.push(name, v);
        }
    }
    ack.headers
        .push("To", answer.headers.get("To").unwrap_or_default());
    let n = invite.cseq().map_or(1, |c| c.0);
    ack.headers.push("CSeq", format!("{n} ACK"));
    ack.headers.push("Max-Forwards", "70");
    ack.to_bytes()
}

/// Send `req` and return the first answer other than 100 (ACKed when it
/// is a failure).
async fn first_answer(sock: &UdpSocket, pbx: SocketAddr, req: &Message) -> Message {
    sock.send_to(&req.to_bytes(), pbx).await.expect("send");
    let deadline = Instant::now() + WAIT;
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, _) = timeout_at(deadline, sock.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no answer to {} within {WAIT:?}", req.uri()))
            .expect("recv");
        let Ok(m) = parse(&buf[..n], Framing::Datagram) else {
            continue;
        };
        if m.is_request() || m.call_id() != req.call_id() || m.status() == 100 {
            continue;
        }
        if m.status() >= 300 {
            sock.send_to(&ack(req, &m), pbx).await.expect("ACK");
        }
        return m;
    }
}

/// The Call-IDs of the INVITEs the carrier has seen so far (it never
/// answers; the PBX's retransmissions repeat the same ones).
async fn carrier_call_ids(carrier: &UdpSocket, seen: &mut HashSet<String>, wait: Duration) {
    let mut buf = vec![0u8; 65_536];
    while let Ok(Ok((n, _))) = timeout(wait, carrier.recv_from(&mut buf)).await {
        if let Ok(m) = parse(&buf[..n], Framing::Datagram)
            && m.is_request()
            && m.method() == "INVITE"
        {
            seen.insert(m.call_id().to_string());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn captured_credentials_pasted_into_new_invites_reach_no_trunk() {
    let carrier = UdpSocket::bind("127.0.0.1:0").await.expect("carrier");
    let pbx = pbx_with(Some(tenant_with_trunk(carrier.local_addr().unwrap())), None).await;
    let sip = pbx.running.sip_udp;
    let password = pbx.password("1001");

    // 1001's own outbound call: challenged, then authenticated — its
    // INVITE reaches the carrier. That header is what an eavesdropper saw.
    let phone = UdpSocket::bind("127.0.0.1:0").await.expect("phone");
    let local = phone.local_addr().unwrap();
    let first = invite("1002", "legit", 1, local);
    let challenge = first_answer(&phone, sip, &first).await;
    assert_eq!(challenge.status(), 407, "{challenge:?}");
    let prompt = challenge
        .headers
        .get("Proxy-Authenticate")
        .expect("challenge");
    let mut legit = invite("1002", "legit", 2, local);
    let captured =
        switchyard_sip::auth::answer_challenge(prompt, "INVITE", legit.uri(), "1001", &password)
            .expect("answer");
    legit.headers.push("Proxy-Authorization", captured.clone());
    // Accepted: past authentication (1002 has no phone registered, so
    // the flow ends it, but not with a challenge or a refusal).
    let answer = first_answer(&phone, sip, &legit).await;
    assert!(
        ![401, 403, 407].contains(&answer.status()),
        "the real call was not let in: {answer:?}"
    );
    let mut at_carrier = HashSet::new();

    // The attacker: another address, new Call-IDs, the captured header.
    let attacker = UdpSocket::bind("127.0.0.2:0").await.expect("attacker");
    let from = attacker.local_addr().unwrap();

    // Pasted into an INVITE to an international number: the credentials
    // were made for another Request-URI.
    let mut fraud = invite("90044207946000", "fraud", 1, from);
    fraud.headers.push("Proxy-Authorization", captured.clone());
    let answer = first_answer(&attacker, sip, &fraud).await;
    assert!(
        [403, 407].contains(&answer.status()),
        "toll fraud by replay got {answer:?}"
    );

    // Sent again as it was, to the same number: the nonce and count were
    // used; a fresh challenge.
    let mut again = invite("1002", "again", 1, from);
    again.headers.push("Proxy-Authorization", captured);
    let answer = first_answer(&attacker, sip, &again).await;
    assert_eq!(answer.status(), 407, "an exact replay got {answer:?}");
    assert!(
        answer
            .headers
            .get("Proxy-Authenticate")
            .is_some_and(|c| c.contains("stale=true")),
        "{answer:?}"
    );

    // Both were answered before any routing: nothing went out the trunk.
    carrier_call_ids(&carrier, &mut at_carrier, Duration::from_millis(500)).await;
    assert_eq!(at_carrier, HashSet::new(), "INVITEs at the carrier");
    assert!(
        pbx.running
            .pbx
            .metrics_text()
            .contains("switchyard_auth_replays_total{tenant=\"demo\"} 1"),
        "the replay is counted"
    );
}
