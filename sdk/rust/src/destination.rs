//! Where a flow sends a caller, as tenants write it in plugin configuration.
//!
//! Plugins that route (`router`, `ivr-menu`, `business-hours`) share this
//! JSON vocabulary, so one tenant configuration reads the same everywhere:
//!
//! ```json
//! {"extension": "1002"}            {"extensions": ["1002", "1003"]}
//! {"ring-group": "sales"}          {"queue": "support"}
//! {"queue": {"name": "support", "skills": ["it"], "priority": 5}}
//! {"voicemail": "1001"}            {"flow": "after-hours"}
//! {"number": "+15550100"}          {"reject": "busy"}       "hangup"
//! {"conference": "board"}
//! ```

use crate::flow::{self, Action, RejectReason};
use serde::{Deserialize, Serialize};

/// A place to send the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Destination {
    /// Ring one extension (all its devices).
    Extension(String),
    /// Ring several extensions at once.
    Extensions(Vec<String>),
    /// Ring a ring group.
    RingGroup(String),
    /// Queue the caller.
    Queue(QueueDestination),
    /// Leave a voicemail in this mailbox.
    Voicemail(String),
    /// Hand the call to another flow.
    Flow(String),
    /// Call a number out through the trunk.
    Number(String),
    /// Join a conference room (the host's room settings say who is a
    /// moderator, the PIN and the rest).
    Conference(String),
    /// Refuse the call.
    Reject(Rejection),
    /// End the call.
    Hangup,
}

/// A queue, by name or with skills and priority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum QueueDestination {
    Name(String),
    Detailed {
        name: String,
        #[serde(default)]
        skills: Vec<String>,
        #[serde(default)]
        priority: u8,
        #[serde(default, rename = "timeout-secs")]
        timeout_secs: Option<u32>,
    },
}

/// Why a call is refused, as written in configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rejection {
    Busy,
    Decline,
    Unavailable,
}

impl Destination {
    /// True when reaching it means ringing somebody (a dial).
    pub fn rings(&self) -> bool {
        matches!(
            self,
            Destination::Extension(_)
                | Destination::Extensions(_)
                | Destination::RingGroup(_)
                | Destination::Number(_)
        )
    }

    /// The action that sends the caller there; dials ring for
    /// `ring_timeout_secs`, queues get `extra_priority` added.
    pub fn action(&self, ring_timeout_secs: u32, extra_priority: u8) -> Action {
        match self {
            Destination::Extension(e) => flow::dial([flow::ext(e)])
                .ring_timeout(ring_timeout_secs)
                .into(),
            Destination::Extensions(list) => flow::dial(list.iter().map(flow::ext))
                .ring_timeout(ring_timeout_secs)
                .into(),
            Destination::RingGroup(g) => flow::dial([flow::ring_group(g)])
                .ring_timeout(ring_timeout_secs)
                .into(),
            Destination::Number(n) => flow::dial([flow::number(n)])
                .ring_timeout(ring_timeout_secs)
                .into(),
            Destination::Queue(q) => {
                let (name, skills, priority, timeout) = match q {
                    QueueDestination::Name(n) => (n.clone(), Vec::new(), 0, None),
                    QueueDestination::Detailed {
                        name,
                        skills,
                        priority,
                        timeout_secs,
                    } => (name.clone(), skills.clone(), *priority, *timeout_secs),
                };
                let mut b = flow::enqueue(name)
                    .priority(priority.saturating_add(extra_priority))
                    .skills(skills);
                if let Some(t) = timeout {
                    b = b.timeout(t);
                }
                b.into()
            }
            Destination::Voicemail(m) => flow::voicemail(m),
            Destination::Flow(f) => flow::goto_flow(f),
            Destination::Conference(room) => flow::conference(room),
            Destination::Reject(r) => flow::reject(match r {
                Rejection::Busy => RejectReason::Busy,
                Rejection::Decline => RejectReason::Decline,
                Rejection::Unavailable => RejectReason::Unavailable,
            }),
            Destination::Hangup => flow::hangup(),
        }
    }

    /// The mailbox that naturally backs this destination when nobody
    /// answers (an extension's own box, a ring group's or queue's shared box).
    pub fn mailbox(&self) -> Option<String> {
        match self {
            Destination::Extension(e) => Some(e.clone()),
            Destination::RingGroup(g) => Some(g.clone()),
            Destination::Queue(QueueDestination::Name(n)) => Some(n.clone()),
            Destination::Queue(QueueDestination::Detailed { name, .. }) => Some(name.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{DialTarget, Enqueue};

    fn parse(s: &str) -> Destination {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn configuration_json_reads_as_destinations() {
        assert_eq!(
            parse(r#"{"extension":"1002"}"#),
            Destination::Extension("1002".into())
        );
        assert_eq!(parse(r#""hangup""#), Destination::Hangup);
        assert_eq!(
            parse(r#"{"conference": "board"}"#),
            Destination::Conference("board".into())
        );
        assert_eq!(
            parse(r#"{"conference": "board"}"#).action(20, 0),
            flow::conference("board")
        );
        assert_eq!(
            parse(r#"{"reject":"busy"}"#),
            Destination::Reject(Rejection::Busy)
        );
        assert_eq!(
            parse(r#"{"queue":{"name":"support","skills":["it"],"priority":5}}"#),
            Destination::Queue(QueueDestination::Detailed {
                name: "support".into(),
                skills: vec!["it".into()],
                priority: 5,
                timeout_secs: None
            })
        );
        assert!(serde_json::from_str::<Destination>(r#"{"teleport":"x"}"#).is_err());
    }

    #[test]
    fn destinations_become_actions() {
        match parse(r#"{"ring-group":"sales"}"#).action(25, 0) {
            Action::Dial(d) => {
                assert_eq!(d.targets, vec![DialTarget::RingGroup("sales".into())]);
                assert_eq!(d.ring_timeout_secs, 25);
            }
            other => panic!("{other:?}"),
        }
        match parse(r#"{"queue":{"name":"vip","priority":250}}"#).action(20, 10) {
            Action::Enqueue(Enqueue {
                queue, priority, ..
            }) => {
                assert_eq!(queue, "vip");
                assert_eq!(priority, 255, "priority saturates");
            }
            other => panic!("{other:?}"),
        }
    }
}
