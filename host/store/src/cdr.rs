//! Call detail records: time-ordered per tenant, durable on insert.
//!
//! Key: `tenant \0 start_ms (u64 big-endian) \0 id`, so a tenant's records
//! sort by start time and a time window is a key range. Queries return
//! the **newest first**.

use serde::{Deserialize, Serialize};

use crate::keys::{prefix, prefix_end, validate_name, validate_tenant_id};
use crate::{Store, StoreError, decode, encode};

/// How a call ended, as its record, the API, the CSV export and the
/// `call_failures` metric name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Disposition {
    Answered,
    NoAnswer,
    Busy,
    Failed,
    Cancelled,
    Voicemail,
    Rejected,
}

impl Disposition {
    /// Every disposition, `answered` first.
    pub const ALL: [Disposition; 7] = [
        Disposition::Answered,
        Disposition::NoAnswer,
        Disposition::Busy,
        Disposition::Failed,
        Disposition::Cancelled,
        Disposition::Voicemail,
        Disposition::Rejected,
    ];

    /// The name stored and shown: `answered`, `no-answer`, `busy`,
    /// `failed`, `cancelled`, `voicemail`, `rejected`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Disposition::Answered => "answered",
            Disposition::NoAnswer => "no-answer",
            Disposition::Busy => "busy",
            Disposition::Failed => "failed",
            Disposition::Cancelled => "cancelled",
            Disposition::Voicemail => "voicemail",
            Disposition::Rejected => "rejected",
        }
    }
}

impl std::fmt::Display for Disposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Disposition {
    type Err = String;

    /// One of the names [`Disposition::as_str`] gives; anything else is
    /// refused with the list of valid ones.
    fn from_str(s: &str) -> Result<Disposition, String> {
        Disposition::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Disposition::ALL.iter().map(|d| d.as_str()).collect();
                format!("{s:?} is not one of {}", names.join(", "))
            })
    }
}

/// One leg (a dialled target) of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CdrLeg {
    pub target: String,
    pub start_ms: u64,
    pub answer_ms: Option<u64>,
    pub end_ms: u64,
    pub sip_code: u16,
}

/// A supervisor's time on a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CdrMonitor {
    /// The supervisor's extension.
    pub supervisor: String,
    /// The supervised extension.
    pub agent: String,
    /// `listen`, `whisper`, `barge`: in the order used.
    pub modes: Vec<String>,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// A call detail record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cdr {
    pub id: String,
    pub tenant: String,
    pub call_id: String,
    /// `inbound`, `outbound`, `internal`.
    pub direction: String,
    pub caller: String,
    pub caller_name: Option<String>,
    pub callee: String,
    /// What the caller dialled (the number before any routing).
    pub dialled: String,
    pub start_ms: u64,
    pub answer_ms: Option<u64>,
    pub end_ms: u64,
    pub disposition: Disposition,
    /// `caller`, `callee`, `system`.
    pub hangup_by: Option<String>,
    pub sip_code: u16,
    pub queue: Option<String>,
    pub agent: Option<String>,
    pub tags: Vec<String>,
    /// Id of the recording file, when recorded.
    pub recording: Option<String>,
    pub flow_plugin: Option<String>,
    pub plugin_version: Option<u32>,
    pub legs: Vec<CdrLeg>,
    /// Who supervised the call. Added later: older records load
    /// without.
    #[serde(default)]
    pub monitors: Vec<CdrMonitor>,
}

/// What [`CdrRepo::query_cdrs`] returns. All fields optional; `limit` 0
/// means the default page of 100, and pages are capped at 1000 rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CdrFilter {
    /// Calls that started at or after this time.
    pub from_ms: Option<u64>,
    /// Calls that started strictly before this time.
    pub to_ms: Option<u64>,
    /// Equal to the caller, the callee or the dialled number.
    pub number: Option<String>,
    pub agent: Option<String>,
    pub disposition: Option<Disposition>,
    pub limit: usize,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
}

/// One page of records, newest first; `next` is the cursor of the
/// following page, `None` on the last page.
#[derive(Debug, Clone, PartialEq)]
pub struct CdrPage {
    pub rows: Vec<Cdr>,
    pub next: Option<String>,
}

pub trait CdrRepo {
    /// Store a record; it is on disk (flushed) when this returns.
    fn insert_cdr(&self, cdr: &Cdr) -> Result<(), StoreError>;
    /// Store several records with one write and one flush: each record's
    /// own result (one that is not valid is refused, the others are
    /// written), or the error that lost them all (the write or the flush).
    fn insert_cdrs(&self, cdrs: &[Cdr]) -> Result<Vec<Result<(), StoreError>>, StoreError>;
    /// One tenant's records matching `filter`, newest first.
    fn query_cdrs(&self, tenant: &str, filter: &CdrFilter) -> Result<CdrPage, StoreError>;
}

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

fn cdr_key(tenant: &str, start_ms: u64, id: &str) -> Vec<u8> {
    let mut k = prefix(&[tenant.as_bytes()]);
    k.extend_from_slice(&start_ms.to_be_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

/// The cursor naming a row: `<start_ms>.<id>` (the row's key without the
/// tenant, so a cursor never reaches another tenant's rows).
fn cursor(cdr: &Cdr) -> String {
    format!("{}.{}", cdr.start_ms, cdr.id)
}

fn cursor_key(tenant: &str, cursor: &str) -> Result<Vec<u8>, StoreError> {
    let bad = || StoreError::invalid("after", "not a cursor returned by a previous page");
    let (ms, id) = cursor.split_once('.').ok_or_else(bad)?;
    let ms: u64 = ms.parse().map_err(|_| bad())?;
    validate_name("after", id)?;
    Ok(cdr_key(tenant, ms, id))
}

fn matches(c: &Cdr, f: &CdrFilter) -> bool {
    f.number
        .as_deref()
        .is_none_or(|n| c.caller == n || c.callee == n || c.dialled == n)
        && f.agent
            .as_deref()
            .is_none_or(|a| c.agent.as_deref() == Some(a))
        && f.disposition.is_none_or(|d| c.disposition == d)
}

impl CdrRepo for Store {
    fn insert_cdr(&self, cdr: &Cdr) -> Result<(), StoreError> {
        self.insert_cdrs(std::slice::from_ref(cdr))?
            .pop()
            .expect("one result per record")
    }

    fn insert_cdrs(&self, cdrs: &[Cdr]) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let mut batch = sled::Batch::default();
        let results = cdrs
            .iter()
            .map(|cdr| {
                validate_tenant_id(&cdr.tenant)?;
                validate_name("id", &cdr.id)?;
                batch.insert(cdr_key(&cdr.tenant, cdr.start_ms, &cdr.id), encode(cdr));
                Ok(())
            })
            .collect();
        self.t().cdrs.apply_batch(batch)?;
        self.durable()?;
        Ok(results)
    }

    fn query_cdrs(&self, tenant: &str, f: &CdrFilter) -> Result<CdrPage, StoreError> {
        validate_tenant_id(tenant)?;
        let limit = match f.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let p = prefix(&[tenant.as_bytes()]);
        let mut lo = p.clone();
        if let Some(from) = f.from_ms {
            lo.extend_from_slice(&from.to_be_bytes());
        }
        let mut hi = match f.to_ms {
            Some(to) => {
                let mut k = p.clone();
                k.extend_from_slice(&to.to_be_bytes());
                k
            }
            None => prefix_end(&p),
        };
        if let Some(after) = &f.after {
            hi = hi.min(cursor_key(tenant, after)?);
        }
        let mut rows = Vec::new();
        let mut next = None;
        if lo < hi {
            for kv in self.t().cdrs.range(lo..hi).rev() {
                let c: Cdr = decode(&kv?.1)?;
                if !matches(&c, f) {
                    continue;
                }
                if rows.len() == limit {
                    // One more match exists: there is a next page.
                    next = rows.last().map(cursor);
                    break;
                }
                rows.push(c);
            }
        }
        Ok(CdrPage { rows, next })
    }
}

const CSV_HEADER: &[&str] = &[
    "id",
    "call_id",
    "direction",
    "caller",
    "caller_name",
    "callee",
    "dialled",
    "start_ms",
    "answer_ms",
    "end_ms",
    "talk_ms",
    "disposition",
    "hangup_by",
    "sip_code",
    "queue",
    "agent",
    "tags",
    "recording",
    "flow_plugin",
    "plugin_version",
    "legs",
];

/// The records as CSV (RFC 4180: a header row, CRLF line ends, fields
/// with `,` `"` CR or LF quoted with `"` doubled). `tags` are joined by
/// `;`, `legs` are `target/sip_code` joined by `;`. Text that a
/// spreadsheet would run as a formula (starting with `=`, `@`, a tab, a
/// CR, or `+`/`-` not followed by digits only: a caller's display name is
/// chosen by the caller) is prefixed with `'`; phone numbers such as
/// `+15550100` are kept as they are.
pub fn cdrs_to_csv(rows: &[Cdr]) -> String {
    let mut out = String::new();
    push_csv_row(&mut out, CSV_HEADER.iter().map(|h| h.to_string()));
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let num = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    for c in rows {
        let talk = c.answer_ms.map(|a| c.end_ms.saturating_sub(a));
        let legs: Vec<String> = c
            .legs
            .iter()
            .map(|l| format!("{}/{}", l.target, l.sip_code))
            .collect();
        push_csv_row(
            &mut out,
            [
                c.id.clone(),
                c.call_id.clone(),
                c.direction.clone(),
                c.caller.clone(),
                opt(&c.caller_name),
                c.callee.clone(),
                c.dialled.clone(),
                c.start_ms.to_string(),
                num(c.answer_ms),
                c.end_ms.to_string(),
                num(talk),
                c.disposition.to_string(),
                opt(&c.hangup_by),
                c.sip_code.to_string(),
                opt(&c.queue),
                opt(&c.agent),
                c.tags.join(";"),
                opt(&c.recording),
                opt(&c.flow_plugin),
                c.plugin_version.map(|v| v.to_string()).unwrap_or_default(),
                legs.join(";"),
            ]
            .into_iter(),
        );
    }
    out
}

/// Append one CSV row (RFC 4180, CRLF) to `out`, each field quoted and
/// formula-neutralised as [`cdrs_to_csv`] does.
pub fn push_csv_row(out: &mut String, fields: impl Iterator<Item = String>) {
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_field(&f));
    }
    out.push_str("\r\n");
}

/// Digits, with at most one `.` between digits.
fn is_plain_number(s: &str) -> bool {
    let mut parts = s.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && parts.next().is_none_or(digits)
}

fn csv_field(s: &str) -> String {
    let formula = match s.as_bytes().first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        // A signed number (a phone number, an amount) is no formula.
        Some(b'+' | b'-') => !is_plain_number(&s[1..]),
        _ => false,
    };
    let s = if formula {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("+15550100"), "+15550100");
        assert_eq!(csv_field("-5"), "-5");
        assert_eq!(csv_field("-0.24"), "-0.24");
        assert_eq!(csv_field("-1.2.3"), "'-1.2.3");
        assert_eq!(csv_field("-.5"), "'-.5");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("+cmd|x"), "'+cmd|x");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("=a,b"), "\"'=a,b\"");
        assert_eq!(csv_field(""), "");
    }
}
