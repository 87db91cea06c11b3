//! A client of rtpengine's "ng" control protocol: a cookie, a space and a
//! bencoded dictionary over UDP, the reply echoing the cookie. Requests
//! are retransmitted until answered (rtpengine caches replies by cookie,
//! so a retransmitted offer is not a second offer).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::oneshot;

/// A bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bencode {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Bencode>),
    /// Keys in insertion order; encoded sorted, as bencode requires.
    Dict(Vec<(Vec<u8>, Bencode)>),
}

impl Bencode {
    pub fn str(s: &str) -> Bencode {
        Bencode::Bytes(s.as_bytes().to_vec())
    }

    /// A dictionary from string keys.
    pub fn dict<'a>(pairs: impl IntoIterator<Item = (&'a str, Bencode)>) -> Bencode {
        Bencode::Dict(
            pairs
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v))
                .collect(),
        )
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Bencode::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
            Bencode::Bytes(b) => {
                out.extend_from_slice(format!("{}:", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            Bencode::List(l) => {
                out.push(b'l');
                for v in l {
                    v.encode(out);
                }
                out.push(b'e');
            }
            Bencode::Dict(d) => {
                let mut sorted: Vec<_> = d.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                out.push(b'd');
                for (k, v) in sorted {
                    Bencode::Bytes(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// One value from the start of `input`, and the bytes it used.
    pub fn decode(input: &[u8]) -> Result<(Bencode, usize), String> {
        let first = *input.first().ok_or("empty input")?;
        match first {
            b'i' => {
                let end = find(input, b'e')?;
                let n = std::str::from_utf8(&input[1..end])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or("bad integer")?;
                Ok((Bencode::Int(n), end + 1))
            }
            b'0'..=b'9' => {
                let colon = find(input, b':')?;
                let len: usize = std::str::from_utf8(&input[..colon])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or("bad string length")?;
                let start = colon + 1;
                let bytes = input.get(start..start + len).ok_or("string past the end")?;
                Ok((Bencode::Bytes(bytes.to_vec()), start + len))
            }
            b'l' | b'd' => {
                let mut at = 1;
                let mut items = Vec::new();
                while *input.get(at).ok_or("unterminated list")? != b'e' {
                    let (v, used) = Bencode::decode(&input[at..])?;
                    items.push(v);
                    at += used;
                }
                if first == b'l' {
                    return Ok((Bencode::List(items), at + 1));
                }
                if items.len() % 2 != 0 {
                    return Err("dictionary with a key and no value".into());
                }
                let mut pairs = Vec::new();
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    let Bencode::Bytes(k) = k else {
                        return Err("dictionary key not a string".into());
                    };
                    pairs.push((k, v));
                }
                Ok((Bencode::Dict(pairs), at + 1))
            }
            _ => Err(format!("unexpected byte {first:#x}")),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Bencode> {
        match self {
            Bencode::Dict(d) => d.iter().find(|(k, _)| k == key.as_bytes()).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Bencode::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

fn find(input: &[u8], byte: u8) -> Result<usize, String> {
    input
        .iter()
        .position(|&b| b == byte)
        .ok_or_else(|| format!("no {:?}", byte as char))
}

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Bencode>>>>;

pub struct NgClient {
    sock: Arc<UdpSocket>,
    waiters: Waiters,
    next: AtomicU64,
}

impl NgClient {
    /// A client of the rtpengine listening for ng on `server`.
    pub async fn connect(server: SocketAddr) -> std::io::Result<NgClient> {
        let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        sock.connect(server).await?;
        let waiters: Waiters = Arc::default();
        let (s, w) = (sock.clone(), waiters.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = s.recv(&mut buf).await {
                let Some(space) = buf[..n].iter().position(|&b| b == b' ') else {
                    continue;
                };
                let cookie = String::from_utf8_lossy(&buf[..space]).into_owned();
                let Ok((reply, _)) = Bencode::decode(&buf[space + 1..n]) else {
                    continue;
                };
                if let Some(tx) = w.lock().expect("waiters lock").remove(&cookie) {
                    let _ = tx.send(reply);
                }
            }
        });
        Ok(NgClient {
            sock,
            waiters,
            next: AtomicU64::new(1),
        })
    }

    /// Send `request` and wait for its reply (1 s, then resent, 5 tries);
    /// an error unless the reply's `result` is `ok` (or `pong`).
    pub async fn request(&self, request: &Bencode) -> Result<Bencode, String> {
        let cookie = format!(
            "sy{}_{}",
            std::process::id(),
            self.next.fetch_add(1, Relaxed)
        );
        let mut wire = format!("{cookie} ").into_bytes();
        request.encode(&mut wire);
        let (tx, mut rx) = oneshot::channel();
        self.waiters
            .lock()
            .expect("waiters lock")
            .insert(cookie.clone(), tx);
        for _ in 0..5 {
            self.sock.send(&wire).await.map_err(|e| e.to_string())?;
            if let Ok(reply) = tokio::time::timeout(Duration::from_secs(1), &mut rx).await {
                let reply = reply.map_err(|_| "client closed".to_string())?;
                let result = reply.get("result").and_then(Bencode::as_str).unwrap_or("");
                if result == "ok" || result == "pong" {
                    return Ok(reply);
                }
                let reason = reply
                    .get("error-reason")
                    .and_then(Bencode::as_str)
                    .unwrap_or("no reason");
                return Err(format!("rtpengine: {result}: {reason}"));
            }
        }
        self.waiters.lock().expect("waiters lock").remove(&cookie);
        Err("rtpengine did not answer".into())
    }

    /// `offer` (the caller's SDP) → the SDP for the callee.
    pub async fn offer(&self, call_id: &str, from_tag: &str, sdp: &str) -> Result<String, String> {
        self.sdp_command("offer", call_id, from_tag, None, sdp)
            .await
    }

    /// `answer` (the callee's SDP) → the SDP for the caller.
    pub async fn answer(
        &self,
        call_id: &str,
        from_tag: &str,
        to_tag: &str,
        sdp: &str,
    ) -> Result<String, String> {
        self.sdp_command("answer", call_id, from_tag, Some(to_tag), sdp)
            .await
    }

    async fn sdp_command(
        &self,
        command: &str,
        call_id: &str,
        from_tag: &str,
        to_tag: Option<&str>,
        sdp: &str,
    ) -> Result<String, String> {
        let mut pairs = vec![
            ("command", Bencode::str(command)),
            ("call-id", Bencode::str(call_id)),
            ("from-tag", Bencode::str(from_tag)),
            ("sdp", Bencode::str(sdp)),
            // Plain RTP/AVP in, the same out: no ICE, no SRTP.
            ("ICE", Bencode::str("remove")),
            (
                "replace",
                Bencode::List(vec![
                    Bencode::str("origin"),
                    Bencode::str("session-connection"),
                ]),
            ),
        ];
        if let Some(t) = to_tag {
            pairs.push(("to-tag", Bencode::str(t)));
        }
        let reply = self.request(&Bencode::dict(pairs)).await?;
        reply
            .get("sdp")
            .and_then(Bencode::as_str)
            .map(str::to_string)
            .ok_or_else(|| "rtpengine: reply without sdp".to_string())
    }

    pub async fn delete(&self, call_id: &str, from_tag: &str) -> Result<(), String> {
        let req = Bencode::dict([
            ("command", Bencode::str("delete")),
            ("call-id", Bencode::str(call_id)),
            ("from-tag", Bencode::str(from_tag)),
        ]);
        self.request(&req).await.map(|_| ())
    }

    pub async fn ping(&self) -> Result<(), String> {
        self.request(&Bencode::dict([("command", Bencode::str("ping"))]))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionaries_encode_with_sorted_keys() {
        let d = Bencode::dict([
            ("sdp", Bencode::str("v=0")),
            ("command", Bencode::str("offer")),
            ("n", Bencode::Int(-3)),
            ("flags", Bencode::List(vec![Bencode::str("a")])),
        ]);
        let mut out = Vec::new();
        d.encode(&mut out);
        assert_eq!(
            out,
            b"d7:command5:offer5:flagsl1:ae1:ni-3e3:sdp3:v=0e".to_vec()
        );
    }

    #[test]
    fn a_reply_decodes_and_its_fields_are_found() {
        let wire = b"d6:result2:ok3:sdp11:v=0\r\nc=IN x5:extrali1ei2eee";
        let (v, used) = Bencode::decode(wire).expect("decodes");
        assert_eq!(used, wire.len());
        assert_eq!(v.get("result").and_then(Bencode::as_str), Some("ok"));
        assert_eq!(
            v.get("sdp").and_then(Bencode::as_str),
            Some("v=0\r\nc=IN x")
        );
        assert_eq!(
            v.get("extra"),
            Some(&Bencode::List(vec![Bencode::Int(1), Bencode::Int(2)]))
        );
        assert!(v.get("missing").is_none());
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"i12",
            b"5:abc",
            b"l1:a",
            b"d1:ae",
            b"di1e1:ae",
            b"x",
        ] {
            assert!(Bencode::decode(bad).is_err(), "{bad:?}");
        }
    }
}
