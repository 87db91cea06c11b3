//! # router: send each call where its dialled number says
//!
//! The JSON setting `routes` holds rules tried in order against the dialled
//! number; the first that matches decides. Patterns follow the convention
//! PBX administrators know from Asterisk: a plain string matches exactly; a
//! pattern starting with `_` matches digit by digit, where `X` is any digit,
//! `Z` is 1-9, `N` is 2-9, `[15-7]` is a set, and a final `.` matches one or
//! more of anything.
//!
//! ```json
//! {
//!   "ring-timeout-secs": 20,
//!   "rules": [
//!     {"match": "700", "go": {"flow": "ivr"}},
//!     {"match": "+15550199", "tag": "VIP", "priority": 10, "go": {"queue": "support"}},
//!     {"match": "_1XXX", "go": {"extension": "${dialled}"},
//!      "no-answer": {"voicemail": "${dialled}"}},
//!     {"match": "_9.", "strip": 1, "go": {"number": "${dialled}"}}
//!   ],
//!   "default": {"reject": "unavailable"}
//! }
//! ```
//!
//! * `go` is a [`Destination`]; `${dialled}` in it is replaced by the dialled
//!   number after `strip` leading characters are removed.
//! * `no-answer` (and `busy`, which defaults to `no-answer`) is where the
//!   caller goes when the dial is not answered; an extension without one
//!   goes to its own voicemail. An extension with no registered device goes
//!   there at once instead of ringing nothing.
//! * `tag` labels the call (agents see it: the market's "VIP by dialled
//!   number") and `priority` raises its place in any queue it reaches.
//! * `default` handles numbers no rule matches (default: reject as
//!   unavailable).
//! * A caller who leaves a queue but stays on the line (`queue-finished`
//!   with reason `timeout`, `no-agents`, `full`, `empty`, or `key` when
//!   they pressed the queue's exit key) goes to the rule's `no-answer`
//!   destination like an unanswered dial (for a rule without one, the
//!   call ends). Other reasons need nothing from the flow.

use serde::{Deserialize, Serialize};
use switchyard_sdk::destination::{Destination, Rejection};
use switchyard_sdk::flow::{self, Action, DialOutcome, Event, QueueExit};
use switchyard_sdk::{CallFlow, CallSnapshot, config, directory, state};

/// The routing table.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Routes {
    #[serde(default = "default_ring")]
    pub ring_timeout_secs: u32,
    pub rules: Vec<Rule>,
    #[serde(default = "default_destination")]
    pub default: Destination,
}

fn default_ring() -> u32 {
    20
}
fn default_destination() -> Destination {
    Destination::Reject(Rejection::Unavailable)
}

/// One rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Rule {
    #[serde(rename = "match")]
    pub pattern: String,
    #[serde(default)]
    pub strip: usize,
    pub go: Destination,
    #[serde(default)]
    pub no_answer: Option<Destination>,
    #[serde(default)]
    pub busy: Option<Destination>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub priority: u8,
}

impl Routes {
    /// Parse and check the table (every pattern is well-formed).
    pub fn parse(text: &str) -> Result<Routes, String> {
        let routes: Routes = config::from_json("routes", text)?;
        for (i, r) in routes.rules.iter().enumerate() {
            check_pattern(&r.pattern).map_err(|e| format!("routes: rule {}: {e}", i + 1))?;
        }
        Ok(routes)
    }

    /// The first rule matching `dialled`, with its index.
    pub fn find(&self, dialled: &str) -> Option<(usize, &Rule)> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, r)| matches(&r.pattern, dialled))
    }
}

fn check_pattern(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("empty pattern".into());
    }
    if let Some(body) = p.strip_prefix('_') {
        let mut chars = body.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '[' && !chars.any(|c| c == ']') {
                return Err(format!("pattern `{p}`: `[` without `]`"));
            }
            if c == '.' && chars.peek().is_some() {
                return Err(format!("pattern `{p}`: `.` must come last"));
            }
        }
    }
    Ok(())
}

/// Asterisk-style pattern match (see the crate docs).
pub fn matches(pattern: &str, number: &str) -> bool {
    let Some(body) = pattern.strip_prefix('_') else {
        return pattern == number;
    };
    let p: Vec<char> = body.chars().collect();
    let n: Vec<char> = number.chars().collect();
    let (mut i, mut j) = (0, 0);
    while i < p.len() {
        if p[i] == '.' {
            return j < n.len();
        }
        let Some(&c) = n.get(j) else { return false };
        let ok = match p[i] {
            'X' | 'x' => c.is_ascii_digit(),
            'Z' | 'z' => ('1'..='9').contains(&c),
            'N' | 'n' => ('2'..='9').contains(&c),
            '[' => {
                let end = p[i..].iter().position(|&x| x == ']').map(|e| i + e);
                let Some(end) = end else { return false };
                let set = &p[i + 1..end];
                i = end;
                set_contains(set, c)
            }
            lit => lit == c,
        };
        if !ok {
            return false;
        }
        i += 1;
        j += 1;
    }
    j == n.len()
}

fn set_contains(set: &[char], c: char) -> bool {
    let mut k = 0;
    while k < set.len() {
        if k + 2 < set.len() && set[k + 1] == '-' {
            if (set[k]..=set[k + 2]).contains(&c) {
                return true;
            }
            k += 3;
        } else {
            if set[k] == c {
                return true;
            }
            k += 1;
        }
    }
    false
}

/// Replace `${dialled}` in every string of a destination.
fn substitute(dest: &Destination, dialled: &str) -> Destination {
    let json = serde_json::to_string(dest).expect("destinations serialize");
    let escaped = serde_json::to_string(dialled).expect("strings serialize");
    let replaced = json.replace("${dialled}", escaped.trim_matches('"'));
    serde_json::from_str(&replaced).unwrap_or_else(|_| dest.clone())
}

/// What happened so far on this call.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    /// Index of the matched rule (none: the default).
    pub rule: Option<usize>,
    /// The dialled number after `strip`.
    pub dialled: String,
    /// True once the caller was sent to the no-answer/busy destination.
    pub forwarded: bool,
}

/// What the host's directory says of an extension: `None` when unknown,
/// else whether a device is registered.
pub type Registered<'a> = &'a dyn Fn(&str) -> Option<bool>;

/// The router's answer to one event.
pub fn step(
    routes: &Routes,
    dialled: &str,
    progress: Progress,
    event: &Event,
    registered: Registered<'_>,
) -> (Vec<Action>, Progress) {
    let mut p = progress;
    match event {
        Event::CallStarted => {
            let Some((index, rule)) = routes.find(dialled) else {
                return (vec![routes.default.action(routes.ring_timeout_secs, 0)], p);
            };
            p.rule = Some(index);
            p.dialled = dialled.chars().skip(rule.strip).collect();
            let go = substitute(&rule.go, &p.dialled);
            let mut actions = Vec::new();
            if let Some(tag) = &rule.tag {
                actions.push(flow::set_tag(tag));
            }
            if let Destination::Extension(ext) = &go
                && registered(ext) == Some(false)
            {
                return forward(routes, rule, p, actions, false);
            }
            actions.push(go.action(routes.ring_timeout_secs, rule.priority));
            (actions, p)
        }
        Event::DialFinished(r) => match r.outcome {
            DialOutcome::Answered => (vec![flow::hangup()], p),
            DialOutcome::Cancelled => (Vec::new(), p),
            outcome => match p.rule.map(|i| &routes.rules[i]) {
                Some(rule) if !p.forwarded => {
                    forward(routes, rule, p, Vec::new(), outcome == DialOutcome::Busy)
                }
                _ => (vec![flow::hangup()], p),
            },
        },
        Event::QueueFinished(r) if !left_queue(r.reason) => (Vec::new(), p),
        Event::QueueFinished(_) | Event::QueueTimeout(_) | Event::QueueOverflow(_) => {
            match p.rule.map(|i| &routes.rules[i]) {
                Some(rule) if !p.forwarded => forward(routes, rule, p, Vec::new(), false),
                _ => (vec![flow::hangup()], p),
            }
        }
        _ => (Vec::new(), p),
    }
}

/// The caller left the queue and is still with us: the queue gave up on
/// them, or they pressed its exit key.
fn left_queue(reason: QueueExit) -> bool {
    flow::queue_gave_up(reason) || reason == QueueExit::Key
}

/// Send the caller to the rule's no-answer (or busy) destination.
fn forward(
    routes: &Routes,
    rule: &Rule,
    mut p: Progress,
    mut actions: Vec<Action>,
    busy: bool,
) -> (Vec<Action>, Progress) {
    let configured = if busy {
        rule.busy.as_ref().or(rule.no_answer.as_ref())
    } else {
        rule.no_answer.as_ref()
    };
    let dest = match configured {
        Some(d) => Some(substitute(d, &p.dialled)),
        None => substitute(&rule.go, &p.dialled)
            .mailbox()
            .filter(|_| matches!(rule.go, Destination::Extension(_)))
            .map(Destination::Voicemail),
    };
    p.forwarded = true;
    match dest {
        Some(d) => actions.push(d.action(routes.ring_timeout_secs, rule.priority)),
        None => actions.push(flow::hangup()),
    }
    (actions, p)
}

/// The plugin.
pub struct Router;

impl CallFlow for Router {
    fn handle(call: CallSnapshot, event: Event, st: Option<Vec<u8>>) -> flow::Result {
        let text = config::get("routes").ok_or("setting `routes` is not set")?;
        let routes = Routes::parse(&text)?;
        let progress: Progress = state::load(st)?;
        let registered = |ext: &str| directory::extension(ext).map(|e| e.registered);
        let (actions, progress) = step(&routes, &call.dialled, progress, &event, &registered);
        flow::decide_with_state(actions, &progress)
    }
}

switchyard_sdk::export_call_flow!(Router);

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::flow::{DialResult, DialTarget, RejectReason};

    fn table() -> Routes {
        Routes::parse(include_str!("../example-config.json")).unwrap()
    }

    fn finished(outcome: DialOutcome) -> Event {
        Event::DialFinished(DialResult {
            outcome,
            answered_by: None,
            sip_code: 486,
            talk_seconds: 0,
        })
    }

    fn everyone_registered(_: &str) -> Option<bool> {
        Some(true)
    }

    fn call(r: &Routes, dialled: &str, events: &[Event]) -> (Vec<Action>, Progress) {
        let mut p = Progress::default();
        let mut last = Vec::new();
        for e in events {
            let (a, np) = step(r, dialled, p, e, &everyone_registered);
            last = a;
            p = np;
        }
        (last, p)
    }

    #[test]
    fn patterns_match_like_a_pbx_dialplan() {
        assert!(matches("_1XXX", "1002"));
        assert!(!matches("_1XXX", "10023"));
        assert!(!matches("_1XXX", "2002"));
        assert!(matches("_9.", "9+15551234"));
        assert!(!matches("_9.", "9"));
        assert!(matches("_N[0-4]X", "230"));
        assert!(!matches("_N[0-4]X", "150"));
        assert!(matches("_Z[15-7]", "16"));
        assert!(!matches("_Z[15-7]", "14"));
        assert!(matches("700", "700"));
        assert!(!matches("700", "7000"));
    }

    #[test]
    fn extension_rings_then_forwards_to_its_voicemail() {
        let r = table();
        let (a, _) = call(&r, "1002", &[Event::CallStarted]);
        assert_eq!(
            a,
            vec![flow::dial([flow::ext("1002")]).ring_timeout(20).into()]
        );
        let (a, p) = call(
            &r,
            "1002",
            &[Event::CallStarted, finished(DialOutcome::NoAnswer)],
        );
        assert_eq!(a, vec![flow::voicemail("1002")]);
        assert!(p.forwarded);
        let (a, _) = call(
            &r,
            "1002",
            &[Event::CallStarted, finished(DialOutcome::Busy)],
        );
        assert_eq!(
            a,
            vec![flow::voicemail("1002")],
            "busy falls back to no-answer"
        );
        let (a, _) = call(
            &r,
            "1002",
            &[Event::CallStarted, finished(DialOutcome::Answered)],
        );
        assert_eq!(a, vec![flow::hangup()]);
    }

    #[test]
    fn unregistered_extension_goes_straight_to_voicemail() {
        let r = table();
        let (a, p) = step(
            &r,
            "1003",
            Progress::default(),
            &Event::CallStarted,
            &|_| Some(false),
        );
        assert_eq!(a, vec![flow::voicemail("1003")]);
        assert!(p.forwarded);
    }

    #[test]
    fn vip_number_is_tagged_and_prioritised() {
        let (a, _) = call(&table(), "+15550199", &[Event::CallStarted]);
        assert_eq!(a[0], flow::set_tag("VIP"));
        match &a[1] {
            Action::Enqueue(e) => {
                assert_eq!(e.queue, "support");
                assert_eq!(e.priority, 10);
            }
            other => panic!("{other:?}"),
        }
    }

    fn left(reason: QueueExit) -> Event {
        Event::QueueFinished(flow::QueueResult {
            queue: "support".into(),
            reason,
            waited_seconds: 30,
            key: (reason == QueueExit::Key).then(|| "1".into()),
        })
    }

    #[test]
    fn leaving_a_queue_goes_to_the_no_answer_destination() {
        let r = Routes::parse(
            r#"{"rules": [{"match": "100", "go": {"queue": "support"},
                           "no-answer": {"voicemail": "sales"}}]}"#,
        )
        .unwrap();
        for reason in [
            QueueExit::Timeout,
            QueueExit::NoAgents,
            QueueExit::Full,
            QueueExit::Empty,
            QueueExit::Key,
        ] {
            let (a, p) = call(&r, "100", &[Event::CallStarted, left(reason)]);
            assert_eq!(a, vec![flow::voicemail("sales")], "{reason:?}");
            assert!(p.forwarded);
        }
        // Nothing to do when the queue connected or lost the caller.
        for reason in [QueueExit::Answered, QueueExit::Abandoned] {
            let (a, p) = call(&r, "100", &[Event::CallStarted, left(reason)]);
            assert!(a.is_empty(), "{reason:?}");
            assert!(!p.forwarded);
        }
        // A queue rule without `no-answer`: the call ends.
        let (a, _) = call(
            &table(),
            "+15550199",
            &[Event::CallStarted, left(QueueExit::Timeout)],
        );
        assert_eq!(a, vec![flow::hangup()]);
    }

    #[test]
    fn outside_line_prefix_is_stripped() {
        let (a, _) = call(&table(), "9+15557654321", &[Event::CallStarted]);
        match &a[..] {
            [Action::Dial(d)] => {
                assert_eq!(d.targets, vec![DialTarget::Number("+15557654321".into())])
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_numbers_get_the_default() {
        let (a, _) = call(&table(), "555", &[Event::CallStarted]);
        assert_eq!(a, vec![flow::reject(RejectReason::Unavailable)]);
        let (a, _) = call(&table(), "700", &[Event::CallStarted]);
        assert_eq!(a, vec![flow::goto_flow("ivr")]);
    }

    #[test]
    fn bad_tables_are_refused_with_the_reason() {
        let e = Routes::parse(r#"{"rules":[{"match":"_1[23","go":"hangup"}]}"#).unwrap_err();
        assert!(e.contains("rule 1") && e.contains("`[` without `]`"), "{e}");
        let e = Routes::parse(r#"{"rules":[{"match":"1","go":{"moon":"x"}}]}"#).unwrap_err();
        assert!(e.contains("routes"), "{e}");
    }
}
