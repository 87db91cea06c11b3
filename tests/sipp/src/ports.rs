//! Free loopback ports for sipp, and whether sipp has bound one yet.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn udp_free(port: u16) -> bool {
    UdpSocket::bind(SocketAddrV4::new(LOOPBACK, port)).is_ok()
}

fn tcp_free(port: u16) -> bool {
    TcpListener::bind(SocketAddrV4::new(LOOPBACK, port)).is_ok()
}

/// A loopback port that is free for both UDP and TCP right now (sipp may
/// use either transport, and with TCP it still opens its UDP socket too).
/// The sockets are closed before returning, so the port is only very
/// probably still free when sipp binds it.
pub fn free_sip_port() -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind(SocketAddrV4::new(LOOPBACK, 0)).expect("binding a UDP socket");
        let port = udp.local_addr().expect("UDP socket address").port();
        if tcp_free(port) {
            return port;
        }
    }
    panic!("found no loopback port free for both UDP and TCP");
}

/// An even port `p` with `p` and `p + 2` free for UDP: sipp binds its
/// audio socket on `-mp` and its video socket two above. Picking it here
/// keeps sipp off its default 6000+ range, where a PBX may put its RTP.
pub fn free_media_port() -> u16 {
    for _ in 0..200 {
        let udp = UdpSocket::bind(SocketAddrV4::new(LOOPBACK, 0)).expect("binding a UDP socket");
        let port = udp.local_addr().expect("UDP socket address").port();
        let even = port & !1;
        drop(udp);
        if (1024..=u16::MAX - 3).contains(&even) && udp_free(even) && udp_free(even + 2) {
            return even;
        }
    }
    panic!("found no free even UDP port pair for sipp's media sockets");
}

/// Whether something listens on `port` (UDP socket, or TCP listener when
/// `tcp`), read from the kernel's socket tables so the check never binds the
/// port itself (which could make sipp's own bind fail).
///
/// `None` when the tables cannot be read (not Linux).
pub fn is_bound(port: u16, tcp: bool) -> Option<bool> {
    let tables: &[&str] = if tcp {
        &["/proc/net/tcp", "/proc/net/tcp6"]
    } else {
        &["/proc/net/udp", "/proc/net/udp6"]
    };
    let mut readable = false;
    for table in tables {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        readable = true;
        if table_has_port(&text, port, tcp) {
            return Some(true);
        }
    }
    readable.then_some(false)
}

/// Whether a `/proc/net/{udp,tcp}` table lists a socket bound to `port`
/// (for TCP: in the LISTEN state, `0A`).
fn table_has_port(text: &str, port: u16, tcp: bool) -> bool {
    let wanted = format!("{port:04X}");
    text.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace();
        let (Some(_slot), Some(local), Some(_remote), Some(state)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return false;
        };
        let Some((_, local_port)) = local.rsplit_once(':') else {
            return false;
        };
        local_port.eq_ignore_ascii_case(&wanted) && (!tcp || state == "0A")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const UDP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 1234: 0100007F:13C4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 0
";
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:13C4 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 1
   1: 00000000:13C5 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2
";

    #[test]
    fn finds_udp_sockets_by_port() {
        assert!(table_has_port(UDP, 5060, false));
        assert!(!table_has_port(UDP, 5061, false));
    }

    #[test]
    fn tcp_needs_a_listener() {
        // 5060 is only an established connection, 5061 listens.
        assert!(!table_has_port(TCP, 5060, true));
        assert!(table_has_port(TCP, 5061, true));
    }

    #[test]
    fn sees_a_real_bound_socket() {
        let socket = UdpSocket::bind((LOOPBACK, 0)).unwrap();
        let port = socket.local_addr().unwrap().port();
        assert_eq!(is_bound(port, false), Some(true));
        drop(socket);
        assert_eq!(is_bound(port, false), Some(false));
    }

    #[test]
    fn picked_ports_are_free() {
        let port = free_sip_port();
        assert!(udp_free(port) && tcp_free(port));
        let media = free_media_port();
        assert_eq!(media % 2, 0);
        assert!(udp_free(media) && udp_free(media + 2));
    }
}
