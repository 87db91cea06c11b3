//! The project's own RFC 4475-style messages (one per RFC 4475 case) and
//! what a receiver must do with each: the table behind
//! `host/sip/tests/torture.rs` (the message layer) and
//! `host/server/tests/wire.rs` (the whole server over UDP and TCP), kept
//! in one place so that both run the same bytes.
//!
//! The RFC's own 49 messages are not ours to copy, so every case here is a
//! message of our own (other users, hosts, Call-IDs and values) with the
//! same kind of defect or oddity as the RFC case it is named after; the
//! answers are those of `../shared/conformance/rfc4475/MANIFEST.md`.
//!
//! Messages are written with LF line ends and turned into CRLF by [`msg`];
//! the few cases about the exact bytes (trailing spaces, binary bodies,
//! control characters) build those bytes explicitly.

// Each test crate that includes this module uses only part of it.
#![allow(dead_code)]

use switchyard_sip::endpoint::via_sent_by;
use switchyard_sip::message::Message;
use switchyard_sip::message::addr::{NameAddr, SipUri};
use switchyard_sip::message::parse::{Framing, parse};
use switchyard_sip::transaction::{RequestParts, TransactionKey};

/// What a receiver must do with a case.
#[derive(Clone, Copy)]
pub enum Expect {
    /// Parses and passes `validate_request` (or `validate_response`); the
    /// function then checks the parsed details the case is about.
    Valid(fn(&Message)),
    /// `parse` refuses with this status and keeps enough of the request to
    /// answer it.
    Unparsable(u16),
    /// Parses, and `validate_request` answers with this status and exactly
    /// these extra headers.
    Refused(u16, &'static [(&'static str, &'static str)]),
    /// A response that is never answered nor acted on: `parse` drops it or
    /// `validate_response` refuses it.
    Dropped,
}

pub struct Case {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    pub expect: Expect,
}

/// A session description for the cases whose body is not the point.
pub const SDP: &str = "v=0
o=torture 5005 5005 IN IP4 203.0.113.10
s=-
c=IN IP4 203.0.113.11
t=0 0
m=audio 40000 RTP/AVP 0 8
m=video 40002 RTP/AVP 31
a=rtpmap:31 LPC
";

/// LF line ends to CRLF.
pub fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

/// A message written with LF line ends (a leading newline is ignored): the
/// line `$SDP` becomes [`SDP`], line ends become CRLF and `$LEN` in the
/// head becomes the length of the body in bytes.
pub fn msg(text: &str) -> Vec<u8> {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let text = crlf(&text.replace("$SDP\n", SDP));
    let (head, body) = text
        .split_once("\r\n\r\n")
        .expect("a message needs the empty line after its head");
    with_body(head, body.as_bytes())
}

/// A head (already CRLF, without the empty line) and a body taken as is;
/// `$LEN` in the head becomes the body's length.
pub fn with_body(head: &str, body: &[u8]) -> Vec<u8> {
    let head = head.replace("$LEN", &body.len().to_string());
    [head.as_bytes(), b"\r\n\r\n", body].concat()
}

/// The REGISTER of `dblreq-like`, and the INVITE glued after it with one
/// extra CRLF in between. Content-Length 0 ends the REGISTER: on a datagram
/// the INVITE is ignored, on a stream it is the next message.
pub fn dblreq_parts() -> (Vec<u8>, Vec<u8>) {
    let register = msg(r#"
REGISTER sip:switchyard.test SIP/2.0
To: sip:k.tanaka@switchyard.test
From: sip:k.tanaka@switchyard.test;tag=db91x
Max-Forwards: 9
I: torture-dblreq.reg.4417
Contact: sip:k.tanaka@desk12.switchyard.test
CSeq: 21 REGISTER
Via: SIP/2.0/UDP 198.51.100.31;branch=z9hG4bKdblreg77
Content-Length: 0

"#);
    let invite = msg(r#"
INVITE sip:pia@switchyard.test SIP/2.0
t: sip:pia@switchyard.test
From: sip:k.tanaka@switchyard.test;tag=db92y
Max-Forwards: 9
Call-ID: torture-dblreq.inv.4418@198.51.100.32
CSeq: 21 INVITE
Via: SIP/2.0/UDP 198.51.100.32;branch=z9hG4bKdblinv78
Content-Type: application/sdp
Content-Length: $LEN

v=0
o=torture 5005 5005 IN IP4 198.51.100.32
s=-
c=IN IP4 198.51.100.32
t=0 0
m=audio 40000 RTP/AVP 0 8
m =video 40002 RTP/AVP 31
a=rtpmap:31 LPC
"#);
    (register, invite)
}

/// Very long values everywhere (`longreq`): built rather than written out.
fn longreq() -> Vec<u8> {
    let long = |word: &str, n: usize| word.repeat(n);
    let mut head = String::new();
    head.push_str("INVITE sip:mina@switchyard.test SIP/2.0\n");
    head.push_str(&format!(
        "To: \"Mina with a display name of {} length\"<sip:mina@switchyard.test:5070;odd1={}value;{}=short;{}NoValue>\n",
        long("enormous", 12),
        long("longer", 24),
        long("paramname", 14),
        long("lengthy", 16),
    ));
    head.push_str(&format!(
        "F: sip:{}@switchyard.test;tag=7733{}\n",
        long("remarkablylongusername", 6),
        long("9", 60)
    ));
    head.push_str(&format!(
        "Call-ID: torture-longreq.{}id\n",
        long("stretched", 30)
    ));
    head.push_str("CSeq: 987654 INVITE\n");
    head.push_str(&format!(
        "X-{}-Name: x-{}-value\n",
        long("Huge", 30),
        long("wide", 60)
    ));
    // Thirty-three Vias under every spelling of the name, then one with a
    // long branch: the list must come out whole and in order.
    let spellings = [
        "Via", "v", "V", "Via", "ViA", "VIa", "VIA", "via", "viA", "vIa", "vIA", "V ", "v ", "V  ",
        "v  ", "Via ", "Via  ",
    ];
    for i in (1..=33).rev() {
        let name = spellings.get(33 - i).copied().unwrap_or("Via");
        head.push_str(&format!("{name}: SIP/2.0/TCP hop{i}.switchyard.test\n"));
    }
    head.push_str(&format!(
        "Via: SIP/2.0/TCP edge.switchyard.test;received=203.0.113.5;branch=z9hG4bK{}\n",
        long("branchy", 40)
    ));
    head.push_str("Max-Forwards: 70\n");
    head.push_str(&format!(
        "Contact: <sip:{}@pc5.switchyard.test>\n",
        long("remarkablylongusername", 6)
    ));
    head.push_str("Content-Type: application/sdp\nl: $LEN\n\n$SDP\n");
    msg(&head)
}

/// A multipart body with a text part and a binary part holding every byte
/// value, CRLFs and an empty line included (`mpart01`).
pub fn multipart_body() -> Vec<u8> {
    let mut body = crlf(
        "--b0undary-42x
Content-Type: text/plain
Content-Transfer-Encoding: binary

Hallo
--b0undary-42x
Content-Type: application/octet-stream
Content-Transfer-Encoding: binary

",
    )
    .into_bytes();
    body.extend(0..=255u8);
    body.extend_from_slice(b"\r\n\r\n\x00\xff\r\n");
    body.extend_from_slice(b"\r\n--b0undary-42x--\r\n");
    body
}

pub fn cases() -> Vec<Case> {
    let case = |name, bytes, expect| Case {
        name,
        bytes,
        expect,
    };
    let (dbl_register, dbl_invite) = dblreq_parts();
    vec![
        // ---- RFC 4475 §3.1.1: valid messages that must parse ----
        case(
            "wsinv-like",
            msg(r#"
INVITE sip:mina@lab.switchyard.test;oddparam SIP/2.0
TO :
 sip:mina@lab.switchyard.test ;   tag    = 77aa31x
from   : "Oskar Lind \\\""       <sip:oskar@switchyard.test>
  ;
  tag = 4fq9z
MaX-fOrWaRdS: 0042
Call-ID: torture-wsinv.71k2@203.0.113.7
Content-Length   : $LEN
cseq: 00012
  INVITE
Via  : SIP  /   2.0
 /UDP
    203.0.113.7;branch=b7notmagic
s :
X-Strange-Header:   first half
 second half
X-Punctuation-Only: ;,;;,,;
Content-Type: application/sdp
Route:
 <sip:edge.switchyard.test;lr;odd=value;flag-only>
v:  SIP  / 2.0  / TCP     relay.switchyard.test   ;
  branch  =   z9hG4bKws2aa  ,
 SIP  /    2.0   / UDP  198.51.100.20   ; branch=
 z9hG4bKws2bb
m:"Quote \"inside\"" <sip:oskar@switchyard.test> ; extparam =
      extvalue ;
  bareparam ; q = 0.5

$SDP
"#),
            Expect::Valid(wsinv),
        ),
        case(
            "intmeth-like",
            msg(&r#"
~Strange-Method_9876543210*+`.%truly'! sip:2_odd.URI~(surely!)&isn't+it$/strange?,/;;*:&still+has=2,odd!*pa$$wo~rd_too.(right)@switchyard.test SIP/2.0
Via: SIP/2.0/TCP edge1.switchyard.test;branch=z9hG4bK-.!%77*_+`'~
To: CONTROLS <sip:2_odd.URI~(surely!)&isn't+it$/strange?,/;;*@switchyard.test>
From: tok1~` tok2'+_ tok3*%!.- <sip:plain@switchyard.test>;fromParam''~+*_!.-%="ничего особенного";tag=_tok~2'+`*%!-.
Call-ID: torture-intmeth.w0rd%QX-!.*_+'@w0rd`~)(><:\/"][?}{
CSeq: 4242 ~Strange-Method_9876543210*+`.%truly'!
Max-Forwards: 255
X-ext-!.%*+_`'~:värde—値
Content-Length: 0

"#
            // Escaped control characters inside a quoted display name.
            .replace("CONTROLS", "\"ring:\\\u{7} zero:\\\u{0} rub:\\\u{7f}\"")),
            Expect::Valid(intmeth),
        ),
        case(
            "esc01-like",
            msg(r#"
INVITE sip:sip%3Apal%40switchyard.test@relay.switchyard.test SIP/2.0
To: sip:%6Dina@switchyard.test
From: <sip:with%20a%20space@relay.switchyard.test>;tag=e51
Max-Forwards: 69
i: torture-esc01.55aa
CSeq: 4100 INVITE
Via: SIP/2.0/UDP gw7.switchyard.test;branch=z9hG4bKesc01x
C: application/sdp
Contact:
  <sip:d%69al@gw7.switchyard.test;%6C%72;k%65y=v%61l%25%34%32>
Content-Length: $LEN

$SDP
"#),
            Expect::Valid(esc01),
        ),
        case(
            "escnull-like",
            msg(r#"
REGISTER sip:switchyard.test SIP/2.0
To: sip:zero-%00-byte@switchyard.test
From: sip:zero-%00-byte@switchyard.test;tag=n0ll
Max-Forwards: 70
Call-ID: torture-escnull.9x8y7z
CSeq: 5150 REGISTER
Via: SIP/2.0/UDP pc9.switchyard.test;branch=z9hG4bKescnul1
Contact: <sip:%00@pc9.switchyard.test>
Contact: <sip:%00%00@pc9.switchyard.test>
L:0

"#),
            Expect::Valid(escnull),
        ),
        case(
            "esc02-like",
            msg(r#"
R%45GIS%54ER sip:reg.switchyard.test SIP/2.0
To: "%Q%52" <sip:thing@switchyard.test>
From: "%Q%52" <sip:thing@switchyard.test>;tag=e2tag
Call-ID: torture-esc02.qq11
Via: SIP/2.0/TCP pc3.switchyard.test;branch=z9hG4bK31%qzbad77
CSeq: 7001 R%45GIS%54ER
Max-Forwards: 70
Contact: <sip:first@pc3.switchyard.test>
Con%74act: <sip:second@pc4.switchyard.test>
Contact: <sip:third@pc5.switchyard.test>
l: 0

"#),
            Expect::Valid(esc02),
        ),
        case(
            "lwsdisp-like",
            msg(r#"
OPTIONS sip:pia@switchyard.test SIP/2.0
To: sip:pia@switchyard.test
From: ringer<sip:ringer@switchyard.test>;tag=8t1
Max-Forwards: 70
Call-ID: torture-lwsdisp.abcd@pc2.switchyard.test
CSeq: 61 OPTIONS
Via: SIP/2.0/UDP pc2.switchyard.test;branch=z9hG4bKlws1
l: 0

"#),
            Expect::Valid(lwsdisp),
        ),
        case("longreq-like", longreq(), Expect::Valid(long_values)),
        case(
            "dblreq-like",
            [dbl_register, b"\r\n".to_vec(), dbl_invite].concat(),
            Expect::Valid(dblreq),
        ),
        case(
            "semiuri-like",
            msg(r#"
OPTIONS sip:desk;ext=u%40branch.switchyard.test@switchyard.test SIP/2.0
To: sip:desk_7@switchyard.test
From: sip:ringer@switchyard.test;tag=s3mi
Max-Forwards: 4
Call-ID: torture-semiuri.77
CSeq: 9 OPTIONS
Accept: application/sdp, application/pkcs7-mime,
        multipart/mixed, multipart/signed,
        message/sip, message/sipfrag
Via: SIP/2.0/UDP 198.51.100.2;branch=z9hG4bKsemi1
l: 0

"#),
            Expect::Valid(semiuri),
        ),
        case(
            "transports-like",
            msg(r#"
OPTIONS sip:pia@switchyard.test SIP/2.0
To: sip:pia@switchyard.test
From: <sip:ringer@switchyard.test>;tag=tr4
Max-Forwards: 70
Call-ID:  torture-transports.q1w2e3
Accept: application/sdp
CSeq: 62 OPTIONS
Via: SIP/2.0/UDP hop1.switchyard.test;branch=z9hG4bKtr1
Via: SIP/2.0/SCTP hop2.switchyard.test;branch=z9hG4bKtr2
Via: SIP/2.0/TLS hop3.switchyard.test;branch=z9hG4bKtr3
Via: SIP/2.0/NOVEL hop4.switchyard.test;branch=z9hG4bKtr4
Via: SIP/2.0/TCP hop5.switchyard.test;branch=z9hG4bKtr5
l: 0

"#),
            Expect::Valid(transports),
        ),
        case(
            "mpart01-like",
            with_body(
                &crlf(
                    "MESSAGE sip:pia@switchyard.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK-mp01-77aa;rport
Max-Forwards: 70
Route: <sip:127.0.0.1:5091>
Contact: <sip:oskar@127.0.0.1:5090>
To: <sip:pia@switchyard.test>
From: <sip:oskar@switchyard.test>;tag=mp01
Call-ID: torture-mpart01.Zm9vYmFy..
CSeq: 1 MESSAGE
Content-Transfer-Encoding: binary
Content-Type: multipart/mixed;boundary=b0undary-42x
Date: Tue, 02 Mar 2027 10:11:12 GMT
Content-Length: $LEN",
                ),
                &multipart_body(),
            ),
            Expect::Valid(mpart01),
        ),
        case(
            "unreason-like",
            msg(r#"
SIP/2.0 200 = 3**2 + 4**2 = 5**2 — теорема Пифагора ✓ (καλά) ¡sí!
Via: SIP/2.0/UDP 198.51.100.98;branch=z9hG4bKunr1
Call-ID: torture-unreason.z2x3
CSeq: 36 INVITE
From: sip:oskar@switchyard.test;tag=u1
To: sip:pia@switchyard.test;tag=u2
Content-Length: $LEN
Content-Type: application/sdp
Contact: <sip:pia@pc98.switchyard.test>

$SDP
"#),
            Expect::Valid(unreason),
        ),
        case(
            // The status line ends with its SP: written with an escape so
            // that the space is visible.
            "noreason-like",
            msg(concat!(
                "SIP/2.0 180 \n",
                r#"Via: SIP/2.0/UDP 198.51.100.5;branch=z9hG4bKnor1
Call-ID: torture-noreason.n0r
CSeq: 37 INVITE
From: <sip:oskar@switchyard.test>;tag=n1
To: <sip:pia@switchyard.test>;tag=n2
Content-Length: 0
Contact: <sip:pia@pc5.switchyard.test>

"#
            )),
            Expect::Valid(noreason),
        ),
        // ---- RFC 4475 §3.1.2: invalid messages ----
        case(
            "badinv01-like",
            msg(r#"
INVITE sip:pia@switchyard.test SIP/2.0
To: sip:pia@switchyard.test
From: sip:oskar@switchyard.test;tag=bi01
Max-Forwards: 8
Call-ID: torture-badinv01.a1
CSeq: 9 INVITE
Via: SIP/2.0/UDP 203.0.113.44;;,;,,
Contact: "Pia" <sip:pia@pc44.switchyard.test>;;;;
Content-Length: $LEN
Content-Type: application/sdp

$SDP
"#),
            Expect::Refused(400, &[]),
        ),
        case(
            "clerr-like",
            msg(r#"
INVITE sip:pia@switchyard.test SIP/2.0
Max-Forwards: 70
To: sip:pia@switchyard.test
From: sip:oskar@switchyard.test;tag=cl1
Contact: <sip:oskar@pc6.switchyard.test>
Call-ID: torture-clerr.c1
CSeq: 10 INVITE
Via: SIP/2.0/UDP pc6.switchyard.test;branch=z9hG4bKclerr1
Content-Type: application/sdp
Content-Length: 8888

$SDP
"#),
            Expect::Unparsable(400),
        ),
        case(
            "ncl-like",
            msg(r#"
INVITE sip:pia@switchyard.test SIP/2.0
Max-Forwards: 200
To: sip:pia@switchyard.test
From: sip:oskar@switchyard.test;tag=ncl1
Call-ID: torture-ncl.n1
CSeq: 0 INVITE
Via: SIP/2.0/UDP 198.51.100.53;branch=z9hG4bKncl1
Contact: <sip:oskar@pc53.switchyard.test>
Content-Type: application/sdp
Content-Length: -42

$SDP
"#),
            Expect::Unparsable(400),
        ),
        case(
            "scalar02-like",
            msg(r#"
REGISTER sip:switchyard.test SIP/2.0
Via: SIP/2.0/TCP pc29.switchyard.test;branch=z9hG4bKsc02
To: <sip:pia@switchyard.test>
From: <sip:pia@switchyard.test>;tag=sc02
CSeq: 98765432109876543210 REGISTER
Call-ID: torture-scalar02.s2
Max-Forwards: 999
Expires: 777777777777777777777777777777777777777777777777777777777777777777777777777777
Contact: <sip:pia@pc29.switchyard.test>
  ;expires=555555555555555
Content-Length: 0

"#),
            Expect::Refused(400, &[]),
        ),
        case(
            "scalarlg-like",
            msg(r#"
SIP/2.0 486 Busy Here
Via: SIP/2.0/TCP pc29.switchyard.test;branch=z9hG4bKsclg;received=203.0.113.29
To: <sip:pia@switchyard.test>
From: <sip:oskar@switchyard.test>;tag=sclg
CSeq: 12345678901234567890123 OPTIONS
Call-ID: torture-scalarlg.l9
Retry-After: 888888888888888888888888888
Warning: 1999 overflow.switchyard.test "Too Large"
Content-Length: 0

"#),
            Expect::Dropped,
        ),
        case(
            "quotbal-like",
            msg(r#"
INVITE sip:pia@switchyard.test SIP/2.0
To: "Ms. R. Callee <sip:r.callee@switchyard.test>
From: sip:oskar@switchyard.test;tag=qb1
Max-Forwards: 11
Call-ID: torture-quotbal.q1
Contact: <sip:oskar@pc59.switchyard.test>
CSeq: 9 INVITE
Via: SIP/2.0/UDP 198.51.100.59:5070;branch=z9hG4bKqbal1
Content-Type: application/sdp
Content-Length: $LEN

$SDP
"#),
            Expect::Refused(400, &[]),
        ),
        case(
            "ltgtruri-like",
            msg(r#"
INVITE <sip:pia@switchyard.test> SIP/2.0
To: sip:pia@switchyard.test
From: sip:oskar@switchyard.test;tag=lg1
Max-Forwards: 22
Call-ID: torture-ltgtruri.1@198.51.100.6
CSeq: 2 INVITE
Via: SIP/2.0/UDP 198.51.100.6
Contact: <sip:oskar@pc6.switchyard.test>
Content-Type: application/sdp
Content-Length: $LEN

$SDP
"#),
            Expect::Unparsable(400),
        ),
        case(
            "lwsruri-like",
            msg(r#"
INVITE sip:pia@switchyard.test; transport=udp SIP/2.0
To: sip:pia@switchyard.test;tag=lw-77-q
From: sip:oskar@switchyard.test;tag=lw1
Max-Forwards: 6
Call-ID: torture-lwsruri.w1
CSeq: 2130706000 INVITE
Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKlwsr1
Contact: <sip:oskar@pc1.switchyard.test>
Content-Type: application/sdp
Content-Length: $LEN

$SDP
"#),
            Expect::Unparsable(400),
        ),
        case(
            "lwsstart-like",
            msg(r#"
INVITE  sip:pia@switchyard.test  SIP/2.0
Max-Forwards: 9
To: sip:pia@switchyard.test
From: sip:oskar@switchyard.test;tag=ls1
Call-ID: torture-lwsstart.s1@switchyard.test
CSeq: 1800 INVITE
Via: SIP/2.0/UDP pc1.switchyard.test;branch=z9hG4bKlwss1
Contact: <sip:oskar@pc1.switchyard.test>
Content-Type: application/sdp
Content-Length: $LEN

$SDP
"#),
            Expect::Unparsable(400),
        ),
        case(
            // Two SP after the version: written with escapes to show them.
            "trws-like",
            msg(concat!(
                "OPTIONS sip:far-end@switchyard.test SIP/2.0  \n",
                r#"Via: SIP/2.0/TCP pc1.switchyard.test;branch=z9hG4bKtrws1
To: <sip:far-end@switchyard.test>
From: <sip:near-end@switchyard.test>;tag=tw1
Call-ID: torture-trws.t1
Accept: application/sdp
CSeq: 238 OPTIONS
Max-Forwards: 70
Content-Length: 0

"#
            )),
            Expect::Unparsable(400),
        ),
        case(
            "escruri-like",
            msg(r#"
INVITE sip:pia@switchyard.test?Route=%3Csip:detour.switchyard.test%3E SIP/2.0
To: sip:pia@switchyard.test
From: sip:oskar@switchyard.test;tag=er1
Max-Forwards: 7
Contact: <sip:oskar@pc39.switchyard.test>
Call-ID: torture-escruri.e1
CSeq: 149 INVITE
Via: SIP/2.0/UDP pc39.switchyard.test;branch=z9hG4bKescr1
Content-Type: application/sdp
Content-Length: $LEN

$SDP
"#),
            Expect::Refused(400, &[]),
        ),
        case(
            "baddate-like",
            msg(r#"
INVITE sip:pia@switchyard.test SIP/2.0
To: sip:pia@switchyard.test
From: sip:oskar@switchyard.test;tag=bd1
Max-Forwards: 70
Call-ID: torture-baddate.d1
CSeq: 139 INVITE
Via: SIP/2.0/UDP pc1.switchyard.test;branch=z9hG4bKbdat1
Date: Mon, 15 Mar 2027 09:30:00 PST
Contact: <sip:oskar@pc1.switchyard.test>
Content-Type: application/sdp
Content-Length: $LEN

$SDP
"#),
            Expect::Valid(baddate),
        ),
        case(
            "regbadct-like",
            msg(r#"
REGISTER sip:switchyard.test SIP/2.0
To: sip:desk@switchyard.test
From: sip:desk@switchyard.test;tag=rb1
Max-Forwards: 70
Call-ID: torture-regbadct.r1@198.51.100.33
CSeq: 1 REGISTER
Via: SIP/2.0/UDP 198.51.100.33:5060;branch=z9hG4bKrbct1
Contact: sip:desk@switchyard.test?Route=%3Csip:proxy.switchyard.test%3E
l: 0

"#),
            Expect::Valid(regbadct),
        ),
        case(
            "badaspec-like",
            msg(r#"
OPTIONS sip:ada@switchyard.test SIP/2.0
Via: SIP/2.0/UDP pc4.switchyard.test:5060;branch=z9hG4bKbasp1
Max-Forwards: 70
From: "Babbage, Charles" <sip:c.babbage@switchyard.test>;tag=ba1
To: "Lovelace, Ada" < sip:ada@switchyard.test >
Call-ID: torture-badaspec.a1
Accept: application/sdp
CSeq: 1815 OPTIONS
l: 0

"#),
            Expect::Refused(400, &[]),
        ),
        case(
            "baddn-like",
            msg(r#"
OPTIONS sip:ada@switchyard.test SIP/2.0
Via:     SIP/2.0/UDP pc4.switchyard.test:5060;branch=z9hG4bKbdn1
Max-Forwards:      70
From:    Babbage, Charles <sip:c.babbage@switchyard.test>;tag=bn1
To:      Lovelace, Ada <sip:ada@switchyard.test>
Call-ID: torture-baddn.n1@pc4.switchyard.test
Accept: application/sdp
CSeq:    1816 OPTIONS
l: 0

"#),
            Expect::Refused(400, &[]),
        ),
        case(
            "badvers-like",
            msg(r#"
OPTIONS sip:ada@switchyard.test SIP/9.1
Via:     SIP/9.1/UDP pc4.switchyard.test;branch=z9hG4bKbver1
Max-Forwards:     70
From:    C. Babbage <sip:c.babbage@switchyard.test>;tag=bv1
To:      A. Lovelace <sip:ada@switchyard.test>
Call-ID: torture-badvers.v1@pc4.switchyard.test
CSeq:    1 OPTIONS
l: 0

"#),
            Expect::Unparsable(505),
        ),
        case(
            "mismatch01-like",
            msg(r#"
OPTIONS sip:pia@switchyard.test SIP/2.0
To: sip:pia@switchyard.test
From: sip:oskar@switchyard.test;tag=mm1
Max-Forwards: 6
Call-ID: torture-mismatch01.m1
CSeq: 12 INVITE
Via: SIP/2.0/UDP pc1.switchyard.test;branch=z9hG4bKmm01
l: 0

"#),
            Expect::Refused(400, &[]),
        ),
        case(
            "mismatch02-like",
            msg(r#"
FROBNICATE sip:pia@switchyard.test SIP/2.0
To: sip:pia@switchyard.test
From: sip:oskar@switchyard.test;tag=mm2
Max-Forwards: 6
Call-ID: torture-mismatch02.m2
CSeq: 12 INVITE
Contact: <sip:oskar@pc1.switchyard.test>
Via: SIP/2.0/UDP pc1.switchyard.test;branch=z9hG4bKmm02
Content-Type: application/sdp
l: $LEN

$SDP
"#),
            Expect::Refused(400, &[]),
        ),
        case(
            "bigcode-like",
            msg(r#"
SIP/2.0 8589934597 should not wrap around
Via: SIP/2.0/UDP 198.51.100.5;branch=z9hG4bKbig1
Call-ID: torture-bigcode.b1
CSeq: 3534 INVITE
From: <sip:oskar@switchyard.test>;tag=bc1
To: <sip:pia@switchyard.test>;tag=bc2
Content-Length: 0
Contact: <sip:pia@pc5.switchyard.test>

"#),
            Expect::Dropped,
        ),
        // ---- §3.2: transaction layer ----
        case(
            "badbranch-like",
            msg(r#"
OPTIONS sip:pia@switchyard.test SIP/2.0
To: sip:pia@switchyard.test
From: sip:ringer@switchyard.test;tag=bb1
Max-Forwards: 3
Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK
Accept: application/sdp
Call-ID: torture-badbranch.b1
CSeq: 9 OPTIONS
l: 0

"#),
            Expect::Valid(badbranch),
        ),
        // ---- §3.3: application layer ----
        case(
            "insuf-like",
            msg(r#"
INVITE sip:pia@switchyard.test SIP/2.0
CSeq: 19394 INVITE
Via: SIP/2.0/UDP 198.51.100.95;branch=z9hG4bKinsuf1
Content-Type: application/sdp
l: $LEN

$SDP
"#),
            Expect::Refused(400, &[]),
        ),
        case(
            "unkscm-like",
            msg(r#"
OPTIONS zorkScheme:utterly-opaque-stuff SIP/2.0
To: sip:pia@switchyard.test
From: sip:oskar@switchyard.test;tag=us1
Max-Forwards: 3
Call-ID: torture-unkscm.u1
CSeq: 392 OPTIONS
Via: SIP/2.0/TCP pc9.switchyard.test;branch=z9hG4bKunks1
Content-Length: 0

"#),
            Expect::Refused(416, &[]),
        ),
        case(
            "novelsc-like",
            msg(r#"
OPTIONS soap.beeps://198.51.100.3:3033 SIP/2.0
To: sip:pia@switchyard.test
From: sip:oskar@switchyard.test;tag=nv1
Max-Forwards: 3
Call-ID: torture-novelsc.v1
CSeq: 393 OPTIONS
Via: SIP/2.0/TCP pc9.switchyard.test;branch=z9hG4bKnov1
Content-Length: 0

"#),
            Expect::Refused(416, &[]),
        ),
        case(
            "unksm2-like",
            msg(r#"
REGISTER sip:switchyard.test SIP/2.0
To: issn:1234-5678
From: <https://www.switchyard.test/people/oskar>;tag=uk2
Call-ID: torture-unksm2.k2@multi-part-host.switchyard.test
CSeq: 2349 REGISTER
Max-Forwards: 70
Via: SIP/2.0/UDP 198.51.100.21:5060;branch=z9hG4bKuks2
Contact: <handle:Oskar_Lind>
l: 0

"#),
            Expect::Refused(416, &[]),
        ),
        case(
            "bext01-like",
            msg(r#"
OPTIONS sip:pia@switchyard.test SIP/2.0
To: sip:desk_7@switchyard.test
From: sip:oskar@switchyard.test;tag=bx1
Max-Forwards: 6
Call-ID: torture-bext01.x1
Require: zeroHasThis, noneHasThisEither
Proxy-Require: noProxyHasThis, noProxyHasThatEither
CSeq: 9 OPTIONS
Via: SIP/2.0/TLS staple.switchyard.test;branch=z9hG4bKbx01
Content-Length: 0

"#),
            Expect::Refused(
                420,
                &[(
                    "Unsupported",
                    "zeroHasThis, noneHasThisEither, noProxyHasThis, noProxyHasThatEither",
                )],
            ),
        ),
        case(
            "invut-like",
            msg(r#"
INVITE sip:pia@switchyard.test SIP/2.0
Contact: <sip:oskar@pc5.switchyard.test>
To: sip:pia@switchyard.test
From: sip:oskar@switchyard.test;tag=iu1
Max-Forwards: 70
Call-ID: torture-invut.i1
CSeq: 23544 INVITE
Via: SIP/2.0/UDP pc5.switchyard.test;branch=z9hG4bKinvut1
Content-Type: application/mystery-format
Content-Length: $LEN

<mystery>nobody can read this</mystery>
"#),
            Expect::Refused(415, &[("Accept", "application/sdp")]),
        ),
        case(
            "regaut01-like",
            msg(r#"
REGISTER sip:switchyard.test SIP/2.0
To: sip:k.tanaka@switchyard.test
From: sip:k.tanaka@switchyard.test;tag=ra1
Max-Forwards: 8
Call-ID: torture-regaut01.a1
CSeq: 9339 REGISTER
Via: SIP/2.0/TCP 198.51.100.253;branch=z9hG4bKrega1
Authorization: ZzzUnheardOfScheme blob=opaque
Content-Length:0

"#),
            Expect::Valid(regaut01),
        ),
        case(
            "multi01-like",
            msg(r#"
INVITE sip:pia@switchyard.test SIP/2.0
Contact: <sip:oskar@pc25.switchyard.test>
Via: SIP/2.0/UDP 198.51.100.25;branch=z9hG4bKmul1
Max-Forwards: 70
CSeq: 5 INVITE
Call-ID: torture-multi01.m@198.51.100.1
CSeq: 59 INVITE
Call-ID: torture-multi01.m@198.51.100.2
From: sip:oskar@switchyard.test;tag=mu1
To: sip:pia@switchyard.test
To: sip:someone-else@switchyard.test
From: sip:oskar@elsewhere.switchyard.test;tag=mu2
Content-Type: application/sdp
l: $LEN
Contact: <sip:oskar@pc36.switchyard.test>
Max-Forwards: 5

$SDP
"#),
            Expect::Refused(400, &[]),
        ),
        case(
            "mcl01-like",
            msg(r#"
OPTIONS sip:pia@switchyard.test SIP/2.0
Via: SIP/2.0/UDP pc5.switchyard.test;branch=z9hG4bKmcl1
To: sip:pia@switchyard.test
From: sip:oskar@switchyard.test;tag=mc1
Call-ID: torture-mcl01.c1
CSeq: 1593 OPTIONS
Content-Length: 11
Max-Forwards: 60
Content-Length: 4
Content-Type: text/plain

four or eleven?
"#),
            Expect::Unparsable(400),
        ),
        case(
            "bcast-like",
            msg(r#"
SIP/2.0 200 OK
Via: SIP/2.0/UDP 198.51.100.98;branch=z9hG4bKbca1
Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bKbca2
Call-ID: torture-bcast.b1
CSeq: 36 INVITE
From: sip:oskar@switchyard.test;tag=bc1
To: sip:pia@switchyard.test;tag=bc2
Content-Length: $LEN
Content-Type: application/sdp
Contact: <sip:pia@pc28.switchyard.test>

$SDP
"#),
            Expect::Valid(bcast),
        ),
        case(
            "zeromf-like",
            msg(r#"
OPTIONS sip:pia@switchyard.test SIP/2.0
To: sip:pia@switchyard.test
From: sip:oskar@switchyard.test;tag=zm1
Call-ID: torture-zeromf.z1
CSeq: 3923 OPTIONS
Via: SIP/2.0/UDP pc1.switchyard.test;branch=z9hG4bKzmf1
Max-Forwards: 0
Content-Length: 0

"#),
            Expect::Valid(zeromf),
        ),
        case(
            "cparam01-like",
            msg(r#"
REGISTER sip:switchyard.test SIP/2.0
Via: SIP/2.0/UDP trunk.switchyard.test:5060;branch=z9hG4bKcp01
Max-Forwards: 70
From: sip:desk@switchyard.test;tag=Cp01xyz
To: sip:desk@switchyard.test
Call-ID: torture-cparam01.1@trunk.switchyard.test
CSeq: 2 REGISTER
Contact: sip:+4930555012@gw2.switchyard.test;strangeparam
l: 0

"#),
            Expect::Valid(cparam01),
        ),
        case(
            "cparam02-like",
            msg(r#"
REGISTER sip:switchyard.test SIP/2.0
Via: SIP/2.0/UDP trunk.switchyard.test:5060;branch=z9hG4bKcp02
Max-Forwards: 70
From: sip:desk@switchyard.test;tag=Cp02
To: sip:desk@switchyard.test
Call-ID: torture-cparam02.2@trunk.switchyard.test
CSeq: 3 REGISTER
Contact: <sip:+4930555012@gw2.switchyard.test;strangeparam>
l: 0

"#),
            Expect::Valid(cparam02),
        ),
        case(
            "regescrt-like",
            msg(r#"
REGISTER sip:switchyard.test SIP/2.0
To: sip:desk@switchyard.test
From: sip:desk@switchyard.test;tag=re1
Max-Forwards: 70
Call-ID: torture-regescrt.e1@198.51.100.1
CSeq: 1439 REGISTER
Via: SIP/2.0/UDP pc5.switchyard.test;branch=z9hG4bKresc1
M: <sip:desk@switchyard.test?Route=%3Csip:edge.switchyard.test%3E>
L:0

"#),
            Expect::Valid(regescrt),
        ),
        case(
            "sdp01-like",
            msg(r#"
INVITE sip:pia@switchyard.test SIP/2.0
To: sip:desk_7@switchyard.test
Contact: <sip:oskar@pc15.switchyard.test>
From: sip:oskar@switchyard.test;tag=sd1
Max-Forwards: 5
Call-ID: torture-sdp01.s1
Accept: text/nobody-reads-this
CSeq: 8 INVITE
Via: SIP/2.0/UDP 198.51.100.15;branch=z9hG4bKsdp1
Content-Length: $LEN
Content-Type: application/sdp

$SDP
"#),
            Expect::Refused(406, &[("Accept", "application/sdp")]),
        ),
        // ---- §3.4: backward compatibility ----
        case(
            "inv2543-like",
            msg(r#"
INVITE sip:UserP@switchyard.test SIP/2.0
Via: SIP/2.0/UDP oldgw.switchyard.test
From: <sip:+4930555111@old.client.switchyard.test;user=phone>
Record-Route: <sip:UserP@switchyard.test;maddr=ss2.switchyard.test>
To: sip:+4930555222@ss2.switchyard.test;user=phone
Call-ID: torture-inv2543.1@old.client.switchyard.test
CSeq: 57 INVITE
Content-Type: application/sdp

$SDP
"#),
            Expect::Valid(inv2543),
        ),
    ]
}

// ---- What the valid cases must look like once parsed ----

fn name_addr(m: &Message, header: &str) -> NameAddr {
    let v = m
        .headers
        .get(header)
        .unwrap_or_else(|| panic!("no {header}"));
    NameAddr::parse(v).unwrap_or_else(|e| panic!("{header}: {e}"))
}

fn uri_of(m: &Message, header: &str) -> SipUri {
    name_addr(m, header).sip_uri().unwrap()
}

fn contact_uris(m: &Message) -> Vec<SipUri> {
    m.headers
        .values("Contact")
        .into_iter()
        .map(|c| NameAddr::parse(c).unwrap().sip_uri().unwrap())
        .collect()
}

/// The transaction key the endpoint would file this request under.
pub fn key_of(m: &Message) -> TransactionKey {
    let top = m.top_via().unwrap_or("");
    let sent_by = via_sent_by(top);
    TransactionKey::for_request(&RequestParts {
        method: m.method(),
        branch: m.branch(),
        sent_by: &sent_by,
        request_uri: m.uri(),
        from_tag: m.from_tag().unwrap_or(""),
        to_tag: m.to_tag().unwrap_or(""),
        call_id: m.call_id(),
        cseq: m.cseq().map_or(0, |c| c.0),
        top_via: top,
    })
}

fn wsinv(m: &Message) {
    // Folded lines joined, with no stray space where a value began on the
    // next line.
    assert_eq!(
        m.headers.get("To"),
        Some("sip:mina@lab.switchyard.test ;   tag    = 77aa31x")
    );
    assert_eq!(m.to_tag(), Some("77aa31x"));
    assert_eq!(
        m.headers.get("Route"),
        Some("<sip:edge.switchyard.test;lr;odd=value;flag-only>")
    );
    assert_eq!(
        m.headers.get("X-Strange-Header"),
        Some("first half second half")
    );
    assert_eq!(m.headers.get("X-Punctuation-Only"), Some(";,;;,,;"));
    // Escaped backslash and quote in the display name; the tag after a
    // folded `;`.
    assert_eq!(
        name_addr(m, "From").display.as_deref(),
        Some(r#"Oskar Lind \""#)
    );
    assert_eq!(m.from_tag(), Some("4fq9z"));
    // Names in any case and compact forms come out in their usual spelling.
    let names: Vec<&str> = m.headers.0.iter().map(|h| h.name.as_str()).collect();
    for name in [
        "To",
        "From",
        "Max-Forwards",
        "Content-Length",
        "CSeq",
        "Via",
        "Subject",
        "Contact",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert_eq!(m.headers.get("Subject"), Some(""));
    // Leading zeros.
    assert_eq!(m.headers.get("Max-Forwards"), Some("0042"));
    assert_eq!(m.cseq(), Some((12, "INVITE")));
    // One Via line folded over three, then two values in a compact one.
    let vias = m.headers.values("Via");
    assert_eq!(vias.len(), 3, "{vias:?}");
    assert_eq!(vias[0], "SIP  /   2.0 /UDP 203.0.113.7;branch=b7notmagic");
    assert_eq!(m.branch(), Some("b7notmagic"));
    assert_eq!(via_sent_by(vias[1]), "relay.switchyard.test");
    assert_eq!(via_sent_by(vias[2]), "198.51.100.20");
    let contact = name_addr(m, "Contact");
    assert_eq!(contact.display.as_deref(), Some(r#"Quote "inside""#));
    assert_eq!(contact.param("extparam"), Some("extvalue"));
    assert_eq!(contact.param("bareparam"), Some(""));
    assert_eq!(contact.param("q"), Some("0.5"));
    assert_eq!(m.body, crlf(SDP).as_bytes());
}

fn intmeth(m: &Message) {
    assert_eq!(m.method(), "~Strange-Method_9876543210*+`.%truly'!");
    assert_eq!(m.cseq(), Some((4242, m.method())));
    let ruri = SipUri::parse(m.uri()).unwrap();
    assert_eq!(ruri.host, "switchyard.test");
    assert_eq!(
        ruri.user.as_deref(),
        Some("2_odd.URI~(surely!)&isn't+it$/strange?,/;;*:&still+has=2,odd!*pa$$wo~rd_too.(right)")
    );
    assert_eq!(
        name_addr(m, "To").display.as_deref(),
        Some("ring:\u{7} zero:\u{0} rub:\u{7f}")
    );
    assert_eq!(
        name_addr(m, "From").display.as_deref(),
        Some("tok1~` tok2'+_ tok3*%!.-")
    );
    assert_eq!(m.from_tag(), Some("_tok~2'+`*%!-."));
    assert_eq!(
        m.call_id(),
        r#"torture-intmeth.w0rd%QX-!.*_+'@w0rd`~)(><:\/"][?}{"#
    );
    assert_eq!(m.headers.get("Max-Forwards"), Some("255"));
    assert_eq!(m.headers.get("X-ext-!.%*+_`'~"), Some("värde—値"));
}

fn esc01(m: &Message) {
    let ruri = SipUri::parse(m.uri()).unwrap();
    assert_eq!(
        ruri.user_decoded().as_deref(),
        Some("sip:pal@switchyard.test")
    );
    assert_eq!(ruri.host, "relay.switchyard.test");
    assert_eq!(uri_of(m, "To").user_decoded().as_deref(), Some("mina"));
    assert_eq!(
        uri_of(m, "From").user_decoded().as_deref(),
        Some("with a space")
    );
    let contact = uri_of(m, "Contact");
    assert_eq!(contact.user_decoded().as_deref(), Some("dial"));
    assert_eq!(contact.host, "gw7.switchyard.test");
    // Compact `i` and `C`.
    assert_eq!(m.call_id(), "torture-esc01.55aa");
    assert_eq!(m.headers.get("Content-Type"), Some("application/sdp"));
}

fn escnull(m: &Message) {
    assert_eq!(
        uri_of(m, "To").user_decoded().as_deref(),
        Some("zero-\0-byte")
    );
    let users: Vec<String> = contact_uris(m)
        .iter()
        .map(|u| u.user_decoded().unwrap())
        .collect();
    assert_eq!(users, ["\0", "\0\0"]);
    assert!(m.body.is_empty());
}

fn esc02(m: &Message) {
    // An escaped method name is some other method: the endpoint answers it
    // 501, it never registers anything.
    assert_ne!(m.method(), "REGISTER");
    assert_eq!(m.method(), "R%45GIS%54ER");
    // `Con%74act` is an unknown header, not a third Contact.
    assert_eq!(m.headers.values("Contact").len(), 2);
    assert_eq!(
        m.headers.get("Con%74act"),
        Some("<sip:second@pc4.switchyard.test>")
    );
    assert_eq!(name_addr(m, "To").display.as_deref(), Some("%Q%52"));
}

fn lwsdisp(m: &Message) {
    let from = name_addr(m, "From");
    assert_eq!(from.display.as_deref(), Some("ringer"));
    assert_eq!(from.uri, "sip:ringer@switchyard.test");
    assert_eq!(m.from_tag(), Some("8t1"));
}

fn long_values(m: &Message) {
    let vias = m.headers.values("Via");
    assert_eq!(vias.len(), 34);
    assert_eq!(via_sent_by(vias[0]), "hop33.switchyard.test");
    assert_eq!(via_sent_by(vias[32]), "hop1.switchyard.test");
    assert_eq!(
        m.branch(),
        None,
        "the top Via of this case has no branch at all"
    );
    assert_eq!(
        vias[33].len(),
        "SIP/2.0/TCP edge.switchyard.test;received=203.0.113.5;branch=z9hG4bK".len()
            + "branchy".len() * 40
    );
    assert_eq!(
        m.call_id(),
        format!("torture-longreq.{}id", "stretched".repeat(30))
    );
    let to = name_addr(m, "To");
    assert!(to.display.unwrap().contains(&"enormous".repeat(12)));
    assert_eq!(uri_of(m, "To").port, Some(5070));
    assert_eq!(
        uri_of(m, "From").user_decoded().unwrap(),
        "remarkablylongusername".repeat(6)
    );
    assert_eq!(m.from_tag().unwrap().len(), 4 + 60);
    let ext = format!("X-{}-Name", "Huge".repeat(30));
    assert_eq!(
        m.headers.get(&ext).unwrap(),
        format!("x-{}-value", "wide".repeat(60))
    );
    assert_eq!(m.body, crlf(SDP).as_bytes());
}

fn dblreq(m: &Message) {
    // Content-Length 0 is the whole body; the INVITE after it is ignored.
    assert_eq!(m.method(), "REGISTER");
    assert_eq!(m.call_id(), "torture-dblreq.reg.4417");
    assert!(m.body.is_empty());
    assert_eq!(m.headers.count("Call-ID"), 1);
}

fn semiuri(m: &Message) {
    // RFC 4475 §3.1.1.9: the `;` belongs to the user part, whose value
    // holds an escaped `@`.
    let ruri = SipUri::parse(m.uri()).unwrap();
    assert_eq!(ruri.host, "switchyard.test");
    assert!(ruri.params.is_empty());
    assert_eq!(
        ruri.user_decoded().as_deref(),
        Some("desk;ext=u@branch.switchyard.test")
    );
    assert_eq!(
        m.headers.values("Accept"),
        [
            "application/sdp",
            "application/pkcs7-mime",
            "multipart/mixed",
            "multipart/signed",
            "message/sip",
            "message/sipfrag"
        ]
    );
}

fn transports(m: &Message) {
    let vias = m.headers.values("Via");
    let protocols: Vec<&str> = vias
        .iter()
        .map(|v| v.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        protocols,
        [
            "SIP/2.0/UDP",
            "SIP/2.0/SCTP",
            "SIP/2.0/TLS",
            "SIP/2.0/NOVEL",
            "SIP/2.0/TCP"
        ]
    );
    assert_eq!(m.call_id(), "torture-transports.q1w2e3");
}

fn mpart01(m: &Message) {
    assert_eq!(m.method(), "MESSAGE");
    assert_eq!(
        m.body,
        multipart_body(),
        "the binary body is kept byte for byte"
    );
    assert_eq!(
        m.headers.get("Content-Type"),
        Some("multipart/mixed;boundary=b0undary-42x")
    );
}

fn unreason(m: &Message) {
    assert_eq!(m.status(), 200);
    let switchyard_sip::message::StartLine::Response { reason, .. } = &m.start else {
        panic!("a response")
    };
    assert_eq!(
        reason,
        "= 3**2 + 4**2 = 5**2 — теорема Пифагора ✓ (καλά) ¡sí!"
    );
    assert_eq!(m.body, crlf(SDP).as_bytes());
}

fn noreason(m: &Message) {
    assert_eq!(
        m.start,
        switchyard_sip::message::StartLine::Response {
            status: 180,
            reason: String::new()
        }
    );
    assert_eq!(m.to_tag(), Some("n2"));
}

fn baddate(m: &Message) {
    // A bad time zone is no reason to refuse: the Date is simply not used.
    assert_eq!(m.headers.get("Date"), Some("Mon, 15 Mar 2027 09:30:00 PST"));
}

fn regbadct(m: &Message) {
    // An addr-spec with URI headers should have been in `<>`; RFC 4475
    // §3.1.2.13 lets a liberal receiver infer them since nothing is
    // ambiguous: the URI keeps its headers, nothing becomes a parameter.
    let contact = name_addr(m, "Contact");
    assert_eq!(contact.params, "");
    let uri = contact.sip_uri().unwrap();
    assert_eq!(uri.host, "switchyard.test");
    assert_eq!(
        uri.headers.as_deref(),
        Some("Route=%3Csip:proxy.switchyard.test%3E")
    );
}

fn badbranch(m: &Message) {
    // A branch that is only the magic cookie identifies nothing: match the
    // request the RFC 2543 way (and answer it normally).
    assert_eq!(m.branch(), Some("z9hG4bK"));
    let key = key_of(m);
    let TransactionKey::Rfc2543(k) = &key else {
        panic!("RFC 2543 matching expected, got {key:?}")
    };
    assert_eq!(
        (k.call_id.as_str(), k.cseq, k.method.as_str()),
        ("torture-badbranch.b1", 9, "OPTIONS")
    );
    // The same request with a real branch is matched by that branch.
    let text = String::from_utf8(m.to_bytes())
        .unwrap()
        .replace("branch=z9hG4bK", "branch=z9hG4bKreal1");
    let fixed = parse(text.as_bytes(), Framing::Datagram).unwrap();
    assert!(matches!(key_of(&fixed), TransactionKey::Rfc3261 { .. }));
}

fn regaut01(m: &Message) {
    // The message layer lets an unknown Authorization scheme through: the
    // registrar ignores it and challenges.
    assert_eq!(
        m.headers.get("Authorization"),
        Some("ZzzUnheardOfScheme blob=opaque")
    );
    assert!(m.body.is_empty());
}

fn bcast(m: &Message) {
    // It parses; the endpoint drops it because no client transaction of
    // ours matches, and never sends anything towards the second Via.
    assert!(!m.is_request());
    assert_eq!(m.status(), 200);
    assert_eq!(via_sent_by(m.headers.values("Via")[1]), "255.255.255.255");
}

fn zeromf(m: &Message) {
    let mf: u32 = m.headers.get("Max-Forwards").unwrap().parse().unwrap();
    assert_eq!(mf, 0);
}

fn cparam01(m: &Message) {
    // Without `<>`, the parameter belongs to the Contact header, not to
    // the URI.
    let contact = name_addr(m, "Contact");
    assert_eq!(contact.uri, "sip:+4930555012@gw2.switchyard.test");
    assert_eq!(contact.param("strangeparam"), Some(""));
    assert!(contact.sip_uri().unwrap().params.is_empty());
}

fn cparam02(m: &Message) {
    // Inside `<>`, it belongs to the URI.
    let contact = name_addr(m, "Contact");
    assert_eq!(contact.params, "");
    let uri = contact.sip_uri().unwrap();
    assert_eq!(uri.param("strangeparam"), Some(None));
    assert_eq!(uri.user_decoded().as_deref(), Some("+4930555012"));
}

fn regescrt(m: &Message) {
    // Registered as given: the escaped Route stays a URI header.
    let uri = uri_of(m, "Contact");
    assert_eq!(uri.user.as_deref(), Some("desk"));
    assert_eq!(
        uri.headers.as_deref(),
        Some("Route=%3Csip:edge.switchyard.test%3E")
    );
    assert_eq!(m.headers.get("Content-Length"), Some("0"));
}

fn inv2543(m: &Message) {
    // No branch, no From tag, no Max-Forwards, no Content-Length: an old
    // but acceptable INVITE, matched the RFC 2543 way.
    assert_eq!(m.branch(), None);
    assert_eq!(m.from_tag(), None);
    assert!(matches!(key_of(m), TransactionKey::Rfc2543(_)));
    assert_eq!(m.body, crlf(SDP).as_bytes(), "the datagram is the body");
    // Without `<>`, `;user=phone` is a parameter of the To header
    // (RFC 3261 §20.10), not of the URI.
    assert_eq!(name_addr(m, "To").param("user"), Some("phone"));
    assert_eq!(uri_of(m, "To").param("user"), None);
}

/// On a stream Content-Length is mandatory: give one to a message that
/// relied on the end of its datagram (`inv2543-like`).
pub fn with_content_length(bytes: &[u8]) -> Vec<u8> {
    let has_length = parse(bytes, Framing::Datagram)
        .map(|m| m.headers.get("Content-Length").is_some())
        .unwrap_or(true);
    let Some(split) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return bytes.to_vec();
    };
    if has_length {
        return bytes.to_vec();
    }
    let (head, rest) = bytes.split_at(split);
    let length = format!("\r\nContent-Length: {}", rest.len() - 4);
    [head, length.as_bytes(), rest].concat()
}
