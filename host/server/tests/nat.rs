//! Where peers are told to reach the host. Behind 1:1 NAT (`public_ip`,
//! `--public-ip`) our Contact and SDP name the public address while the
//! sockets stay on the private one; without it, a host listening on
//! `0.0.0.0` names its default route's interface, never `0.0.0.0` or
//! loopback, so a phone on another machine can send its ACK and BYE.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::phone::{Phone, carrier_tenant};
use common::{blocking, pbx_configured};

/// The demo IVR's number: answered by the host itself, its menu played.
const IVR: &str = "+15550100";

/// A call from the carrier (trusted by its address, 127.0.0.1) to the IVR: the host's Contact URI and SDP answer,
/// and how many bytes of the menu the phone heard.
fn call_the_ivr(sip: SocketAddr) -> (String, String, usize) {
    let mut phone = Phone::new(sip, 0x0a7e);
    phone.call(IVR);
    let heard = phone.listen(Duration::from_millis(1500)).len();
    phone.bye();
    (phone.target.clone(), phone.answer.clone(), heard)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nat_peers_are_told_the_public_address_and_media_still_flows() {
    let public: IpAddr = "203.0.113.7".parse().unwrap();
    let pbx = pbx_configured(Some(carrier_tenant()), None, |c| c.public_ip = Some(public)).await;
    let sip = pbx.addr();
    let (contact, answer, heard) = blocking(move || call_the_ivr(sip)).await;
    assert!(
        contact.contains(&format!("@203.0.113.7:{}", sip.port())),
        "Contact {contact}"
    );
    assert!(answer.contains("c=IN IP4 203.0.113.7"), "{answer}");
    assert!(!answer.contains("127.0.0.1"), "{answer}");
    // The RTP socket is still on 127.0.0.1: the host sends the menu from
    // it to the phone, and latches onto what the phone sends.
    assert!(heard >= 1600, "heard {heard} bytes of the menu");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_on_every_address_names_a_reachable_one() {
    let pbx = pbx_configured(Some(carrier_tenant()), None, |c| {
        c.sip_listen = "0.0.0.0:0".parse().unwrap()
    })
    .await;
    let sip = SocketAddr::new([127, 0, 0, 1].into(), pbx.addr().port());
    let (contact, _, heard) = blocking(move || call_the_ivr(sip)).await;
    let route = switchyard_transport::default_route_ip();
    assert!(
        contact.contains(&format!("@{route}:{}", sip.port())),
        "Contact {contact}, default route {route}"
    );
    assert!(!contact.contains("0.0.0.0"), "Contact {contact}");
    assert!(heard >= 1600, "heard {heard} bytes of the menu");
}
