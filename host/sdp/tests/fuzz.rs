//! Deterministic fuzzing: real-world descriptions with bytes flipped,
//! inserted and deleted, lines dropped, doubled and swapped, and
//! truncations. Nothing may panic. Whatever parses must read back equal
//! after writing, and must negotiate consistently.

mod common;

use common::*;
use switchyard_sdp::{
    Direction, LocalSession, Refusal, Sdp, accept_answer, answer, offer, peer_holds,
};

/// xorshift64*: tiny, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Bytes that matter to the grammar, so mutations hit edge cases often.
const INTERESTING: &[u8] = b" \t\r\n=:/-0123456789amcvotsbiIPN\x00\xff\xc3";

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    match rng.below(9) {
        0 => {
            if !input.is_empty() {
                let i = rng.below(input.len());
                input[i] = rng.next() as u8;
            }
        }
        1 => {
            if !input.is_empty() {
                let i = rng.below(input.len());
                input[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
        }
        2 => {
            let i = rng.below(input.len() + 1);
            input.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
        }
        3 => {
            if !input.is_empty() {
                let i = rng.below(input.len());
                let n = 1 + rng.below(8);
                input.drain(i..(i + n).min(input.len()));
            }
        }
        4 => {
            let at = rng.below(input.len() + 1);
            input.truncate(at);
        }
        _ => {
            // Line-level edits: drop, double, swap, or move a line.
            let mut lines: Vec<Vec<u8>> = input
                .split_inclusive(|b| *b == b'\n')
                .map(<[u8]>::to_vec)
                .collect();
            if lines.is_empty() {
                return;
            }
            let i = rng.below(lines.len());
            let j = rng.below(lines.len());
            match rng.below(4) {
                0 => {
                    lines.remove(i);
                }
                1 => {
                    let l = lines[i].clone();
                    lines.insert(j, l);
                }
                2 => lines.swap(i, j),
                _ => {
                    let l = lines.remove(i);
                    let j = rng.below(lines.len() + 1);
                    lines.insert(j, l);
                }
            }
            *input = lines.concat();
        }
    }
}

/// Everything the B2BUA would do with a description from the wire.
/// Returns whether it parsed.
fn exercise(input: &[u8], our_offer: &Sdp) -> bool {
    let sdp = match Sdp::parse(input) {
        Ok(s) => s,
        Err(e) => {
            assert!(e.line >= 1, "{e:?}");
            assert_eq!(Refusal::from(e).status_code(), 400);
            return false;
        }
    };
    let written = sdp.to_string();
    let again = Sdp::parse(written.as_bytes())
        .unwrap_or_else(|e| panic!("own output refused: {e}\n{written}\nfrom {input:?}"));
    assert_eq!(again, sdp, "round trip changed\n{written}\nfrom {input:?}");

    let _ = peer_holds(&sdp);
    let _ = accept_answer(our_offer, &sdp);
    match answer(&sdp, &us(), &ALL) {
        Ok(a) => {
            let ours = a.to_sdp(&mut LocalSession::new(1, 1));
            let back = Sdp::parse(ours.to_string().as_bytes())
                .unwrap_or_else(|e| panic!("our answer refused: {e}\n{ours}"));
            let n = accept_answer(&sdp, &back)
                .unwrap_or_else(|r| panic!("our answer unusable: {r}\n{ours}\nto {sdp}"));
            assert_eq!(n.codec, a.negotiated.codec);
            assert_eq!(n.payload_type, a.negotiated.payload_type);
            assert_eq!(n.telephone_event, a.negotiated.telephone_event);
        }
        Err(r) => assert_eq!(r, Refusal::NotAcceptable),
    }
    true
}

#[test]
fn mutated_descriptions_never_panic_and_stay_consistent() {
    let our_offer = offer(
        &us(),
        &ALL,
        Direction::SendRecv,
        &mut LocalSession::new(5, 5),
    );
    let corpus: Vec<Vec<u8>> = samples().into_iter().map(|(_, s)| s.into_bytes()).collect();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..40_000 {
        let mut input = corpus[rng.below(corpus.len())].clone();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut input);
        }
        if exercise(&input, &our_offer) {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    // Both outcomes must be common, or the mutations are not testing much.
    assert!(accepted > 2_000, "accepted {accepted}, refused {refused}");
    assert!(refused > 2_000, "accepted {accepted}, refused {refused}");
}

#[test]
fn random_bytes_and_every_truncation() {
    let our_offer = offer(
        &us(),
        &ALL,
        Direction::SendOnly,
        &mut LocalSession::new(5, 5),
    );
    let mut rng = Rng(42);
    for _ in 0..5_000 {
        let len = rng.below(300);
        let noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        exercise(&noise, &our_offer);
    }
    // Every prefix of every sample: most are refused, none panic, and the
    // ones that parse (cut at a line end) are consistent.
    for (name, text) in samples() {
        let bytes = text.as_bytes();
        let mut parsed = 0;
        for end in 0..=bytes.len() {
            if exercise(&bytes[..end], &our_offer) {
                parsed += 1;
            }
        }
        assert!(parsed > 0, "{name}: no prefix parsed, not even the whole");
    }
}
