//! `sip-ping ADDR [--timeout SECS]`: send an OPTIONS over UDP every 2 ms
//! until ADDR answers with any final response, then exit 0 (1 on timeout).
//! `bench/run` times a server's start-up with it: the clock starts when
//! the server is spawned and stops when SIP first answers.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

fn options(to: SocketAddr, from: SocketAddr, n: u32) -> String {
    format!(
        "OPTIONS sip:ping@{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from};branch=z9hG4bK-bench-ping-{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:bench@{from}>;tag=bench-ping\r\n\
         To: <sip:ping@{to}>\r\n\
         Call-ID: bench-ping-{n}@{from}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// Whether `datagram` is a SIP final response (status ≥ 200).
fn is_final_response(datagram: &[u8]) -> bool {
    let text = String::from_utf8_lossy(datagram);
    text.strip_prefix("SIP/2.0 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .is_some_and(|code| code >= 200)
}

pub fn run(args: &[String]) {
    let usage = || -> ! {
        eprintln!("usage: switchyard-bench sip-ping ADDR [--timeout SECS]");
        std::process::exit(2);
    };
    let Some(to) = args.first().and_then(|a| a.parse::<SocketAddr>().ok()) else {
        usage()
    };
    let timeout = match args.get(1..) {
        Some([flag, secs]) if flag == "--timeout" => {
            Duration::from_secs_f64(secs.parse().unwrap_or_else(|_| usage()))
        }
        Some([]) | None => Duration::from_secs(30),
        _ => usage(),
    };
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(2)))
        .expect("timeout");
    let from = sock.local_addr().expect("local address");
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    let mut n = 0;
    while start.elapsed() < timeout {
        n += 1;
        // Nothing listening yet gives ECONNREFUSED on loopback: keep trying.
        let _ = sock.send_to(options(to, from, n).as_bytes(), to);
        while let Ok(len) = sock.recv(&mut buf) {
            if is_final_response(&buf[..len]) {
                return;
            }
        }
    }
    eprintln!("{to} did not answer OPTIONS within {timeout:?}");
    std::process::exit(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_responses_are_recognised_and_provisional_ones_are_not() {
        assert!(is_final_response(b"SIP/2.0 200 OK\r\n\r\n"));
        assert!(is_final_response(b"SIP/2.0 405 Method Not Allowed\r\n"));
        assert!(!is_final_response(b"SIP/2.0 100 Trying\r\n"));
        assert!(!is_final_response(b"OPTIONS sip:x SIP/2.0\r\n"));
    }

    #[test]
    fn the_request_names_its_own_address_in_via() {
        let to: SocketAddr = "127.0.0.1:5060".parse().expect("addr");
        let from: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
        let m = options(to, from, 7);
        assert!(m.starts_with("OPTIONS sip:ping@127.0.0.1:5060 SIP/2.0\r\n"));
        assert!(m.contains("Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bK-bench-ping-7\r\n"));
        assert!(m.ends_with("\r\n\r\n"));
    }
}
