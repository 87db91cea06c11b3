//! # ivr-menu: a multi-level IVR menu
//!
//! The menu is the JSON setting `menu`: named nodes, each with prompts and
//! options; an option either opens another node (`menu`) or sends the caller
//! somewhere (`go`, a [`Destination`]). The rules callers expect:
//!
//! * `0` reaches a human (`human`) at every level;
//! * `*` goes back one level;
//! * no input repeats the node's prompt `max-retries` times (default once),
//!   then goes to a human; an invalid digit plays `invalid-prompt` and counts
//!   as a retry;
//! * a destination that rings and is not answered goes to a human, and a
//!   human who does not answer goes to `human-mailbox`;
//! * a queue that gives up on the caller (`queue-finished` with reason
//!   `timeout`, `no-agents`, `full` or `empty`) counts as not answered; a
//!   caller who presses the queue's exit key (`key`) is back at the menu
//!   level that sent them to the queue.
//!
//! ```json
//! {
//!   "root": "main",
//!   "human": {"ring-group": "operators"},
//!   "human-mailbox": "operators",
//!   "nodes": {
//!     "main": {"prompts": ["main-menu"], "options": {
//!       "1": {"menu": "support"},
//!       "2": {"go": {"queue": "sales"}}}},
//!     "support": {"prompts": ["support-menu", {"say": "Press 1 for broadband"}],
//!       "options": {"1": {"go": {"ring-group": "business-broadband"}}}}
//!   }
//! }
//! ```
//!
//! Prompts are prompt file names, or `{"say": "text"}` / `{"file": "name"}`.
//! `example-config.json` is the market's classic three-level menu.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchyard_sdk::destination::Destination;
use switchyard_sdk::flow::{self, Action, DialOutcome, Event, Prompt, QueueExit};
use switchyard_sdk::{CallFlow, CallSnapshot, config, state};

/// The whole menu configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Menu {
    /// The node callers hear first.
    pub root: String,
    /// Where `0` and exhausted retries go.
    pub human: Destination,
    /// Mailbox when the human does not answer.
    #[serde(default)]
    pub human_mailbox: Option<String>,
    /// How many times a node repeats on no input or an invalid digit.
    #[serde(default = "default_retries")]
    pub max_retries: u8,
    #[serde(default = "default_ring")]
    pub ring_timeout_secs: u32,
    #[serde(default = "default_first_digit")]
    pub first_digit_timeout_ms: u32,
    /// Played before repeating a node after an invalid digit.
    #[serde(default)]
    pub invalid_prompt: Vec<PromptSpec>,
    pub nodes: BTreeMap<String, Node>,
}

fn default_retries() -> u8 {
    1
}
fn default_ring() -> u32 {
    20
}
fn default_first_digit() -> u32 {
    5_000
}

/// One level of the menu.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub prompts: Vec<PromptSpec>,
    /// Digit → what it does.
    #[serde(default)]
    pub options: BTreeMap<String, Choice>,
}

/// What a digit does.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum Choice {
    /// Open another node.
    Menu(String),
    /// Send the caller somewhere.
    Go(Destination),
}

/// A prompt as written in the configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum PromptSpec {
    File(String),
    Tagged(TaggedPrompt),
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum TaggedPrompt {
    File(String),
    Say(String),
}

impl PromptSpec {
    fn prompt(&self) -> Prompt {
        match self {
            PromptSpec::File(f) | PromptSpec::Tagged(TaggedPrompt::File(f)) => flow::file(f),
            PromptSpec::Tagged(TaggedPrompt::Say(s)) => flow::say(s),
        }
    }
}

impl Menu {
    /// Parse and check the menu: every `menu` reference and the root exist.
    pub fn parse(text: &str) -> Result<Menu, String> {
        let menu: Menu = config::from_json("menu", text)?;
        if !menu.nodes.contains_key(&menu.root) {
            return Err(format!("menu: root node `{}` is not defined", menu.root));
        }
        for (name, node) in &menu.nodes {
            for (digit, choice) in &node.options {
                if digit.len() != 1 || !"0123456789*#".contains(digit.as_str()) {
                    return Err(format!(
                        "menu: node `{name}`: option `{digit}` is not one key"
                    ));
                }
                if let Choice::Menu(target) = choice
                    && !menu.nodes.contains_key(target)
                {
                    return Err(format!(
                        "menu: node `{name}` option `{digit}` opens `{target}`, which is not defined"
                    ));
                }
            }
        }
        Ok(menu)
    }
}

/// What the caller is doing, kept between events.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    /// Nodes from the root to the current one.
    pub path: Vec<String>,
    /// Retries used at the current node.
    pub retries: u8,
    /// Where the caller was sent, while it rings or queues.
    pub sent_to: Option<Sent>,
}

/// Where the caller was sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Sent {
    Destination(Destination),
    Human,
    HumanMailbox,
}

/// The menu's answer to one event, as actions and the progress to keep.
pub fn step(menu: &Menu, progress: Progress, event: &Event) -> (Vec<Action>, Progress) {
    let mut p = progress;
    match event {
        Event::CallStarted => {
            p = Progress {
                path: vec![menu.root.clone()],
                ..Progress::default()
            };
            let mut actions = vec![flow::answer()];
            actions.push(gather(menu, &menu.root));
            (actions, p)
        }
        Event::Digits(g) => {
            let key = g
                .digits
                .chars()
                .next()
                .map(String::from)
                .unwrap_or_default();
            let here = p.path.last().cloned().unwrap_or_else(|| menu.root.clone());
            let node = &menu.nodes[&here];
            if let Some(choice) = node.options.get(&key) {
                match choice {
                    Choice::Menu(next) => {
                        p.path.push(next.clone());
                        p.retries = 0;
                        (vec![gather(menu, next)], p)
                    }
                    Choice::Go(dest) => send(menu, p, dest),
                }
            } else if key == "0" {
                to_human(menu, p)
            } else if key == "*" {
                if p.path.len() > 1 {
                    p.path.pop();
                }
                p.retries = 0;
                let back = p.path.last().cloned().unwrap_or_else(|| menu.root.clone());
                (vec![gather(menu, &back)], p)
            } else {
                retry(menu, p, true)
            }
        }
        Event::GatherTimeout => retry(menu, p, false),
        Event::DialFinished(r) if r.outcome == DialOutcome::Answered => (vec![flow::hangup()], p),
        Event::QueueFinished(r) if r.reason == QueueExit::Key => {
            p.sent_to = None;
            p.retries = 0;
            let here = p.path.last().cloned().unwrap_or_else(|| menu.root.clone());
            (vec![gather(menu, &here)], p)
        }
        Event::QueueFinished(r) if !flow::queue_gave_up(r.reason) => (Vec::new(), p),
        Event::DialFinished(_)
        | Event::QueueFinished(_)
        | Event::QueueTimeout(_)
        | Event::QueueOverflow(_) => match p.sent_to.clone() {
            Some(Sent::Human) => to_human_mailbox(menu, p),
            Some(Sent::HumanMailbox) => (vec![flow::hangup()], p),
            _ => to_human(menu, p),
        },
        _ => (Vec::new(), p),
    }
}

fn gather(menu: &Menu, node: &str) -> Action {
    let prompts = menu.nodes[node].prompts.iter().map(PromptSpec::prompt);
    flow::gather(prompts)
        .max_digits(1)
        .timeouts(menu.first_digit_timeout_ms, 3_000)
        .into()
}

fn retry(menu: &Menu, mut p: Progress, invalid: bool) -> (Vec<Action>, Progress) {
    if p.retries >= menu.max_retries {
        return to_human(menu, p);
    }
    p.retries += 1;
    let here = p.path.last().cloned().unwrap_or_else(|| menu.root.clone());
    let mut actions = Vec::new();
    if invalid && !menu.invalid_prompt.is_empty() {
        actions.push(flow::play(
            menu.invalid_prompt.iter().map(PromptSpec::prompt),
        ));
    }
    actions.push(gather(menu, &here));
    (actions, p)
}

fn send(menu: &Menu, mut p: Progress, dest: &Destination) -> (Vec<Action>, Progress) {
    p.sent_to = Some(Sent::Destination(dest.clone()));
    (vec![dest.action(menu.ring_timeout_secs, 0)], p)
}

fn to_human(menu: &Menu, mut p: Progress) -> (Vec<Action>, Progress) {
    p.sent_to = Some(Sent::Human);
    (vec![menu.human.action(menu.ring_timeout_secs, 0)], p)
}

fn to_human_mailbox(menu: &Menu, mut p: Progress) -> (Vec<Action>, Progress) {
    match menu.human_mailbox.clone().or_else(|| menu.human.mailbox()) {
        Some(mailbox) => {
            p.sent_to = Some(Sent::HumanMailbox);
            (vec![flow::voicemail(mailbox)], p)
        }
        None => (vec![flow::hangup()], p),
    }
}

/// The plugin.
pub struct IvrMenu;

impl CallFlow for IvrMenu {
    fn handle(_call: CallSnapshot, event: Event, st: Option<Vec<u8>>) -> flow::Result {
        let text = config::get("menu").ok_or("setting `menu` is not set")?;
        let menu = Menu::parse(&text)?;
        let progress: Progress = state::load(st)?;
        let (actions, progress) = step(&menu, progress, &event);
        flow::decide_with_state(actions, &progress)
    }
}

switchyard_sdk::export_call_flow!(IvrMenu);

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::flow::{DialResult, DialTarget, Gathered};

    fn classic() -> Menu {
        Menu::parse(include_str!("../example-config.json")).unwrap()
    }

    fn digits(d: &str) -> Event {
        Event::Digits(Gathered {
            digits: d.into(),
            finished_by_key: false,
        })
    }

    fn prompt_of(actions: &[Action]) -> Vec<Prompt> {
        match actions.last() {
            Some(Action::Gather(g)) => g.prompts.clone(),
            other => panic!("expected a gather, got {other:?}"),
        }
    }

    fn run(menu: &Menu, events: &[Event]) -> (Vec<Action>, Progress) {
        let mut p = Progress::default();
        let mut last = Vec::new();
        for e in events {
            let (a, np) = step(menu, p, e);
            last = a;
            p = np;
        }
        (last, p)
    }

    #[test]
    fn three_levels_to_the_business_broadband_ring_group() {
        let m = classic();
        let (a, _) = run(&m, &[Event::CallStarted]);
        assert_eq!(a[0], Action::Answer);
        assert_eq!(prompt_of(&a), vec![flow::file("main-menu")]);
        let (a, _) = run(&m, &[Event::CallStarted, digits("1")]);
        assert_eq!(prompt_of(&a), vec![flow::file("support-menu")]);
        let (a, _) = run(&m, &[Event::CallStarted, digits("1"), digits("1")]);
        assert_eq!(prompt_of(&a), vec![flow::file("broadband-menu")]);
        let (a, p) = run(
            &m,
            &[Event::CallStarted, digits("1"), digits("1"), digits("2")],
        );
        match &a[..] {
            [Action::Dial(d)] => {
                assert_eq!(
                    d.targets,
                    vec![DialTarget::RingGroup("business-broadband".into())]
                );
                assert_eq!(d.ring_timeout_secs, 20);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.path, vec!["main", "support", "broadband"]);
    }

    #[test]
    fn zero_reaches_a_human_at_every_level() {
        let m = classic();
        let human = vec![
            flow::dial([flow::ring_group("operators")])
                .ring_timeout(20)
                .into(),
        ];
        for depth in 0..3 {
            let mut events = vec![Event::CallStarted];
            events.extend(std::iter::repeat_n(digits("1"), depth));
            events.push(digits("0"));
            let (a, p) = run(&m, &events);
            assert_eq!(a, human, "depth {depth}");
            assert_eq!(p.sent_to, Some(Sent::Human));
        }
    }

    #[test]
    fn no_input_repeats_once_then_goes_to_a_human() {
        let m = classic();
        let (a, p) = run(&m, &[Event::CallStarted, Event::GatherTimeout]);
        assert_eq!(prompt_of(&a), vec![flow::file("main-menu")]);
        assert_eq!(p.retries, 1);
        let (a, _) = run(
            &m,
            &[
                Event::CallStarted,
                Event::GatherTimeout,
                Event::GatherTimeout,
            ],
        );
        assert!(
            matches!(&a[..], [Action::Dial(d)] if d.targets == vec![DialTarget::RingGroup("operators".into())])
        );
    }

    #[test]
    fn invalid_digit_plays_the_invalid_prompt_and_repeats() {
        let m = classic();
        let (a, _) = run(&m, &[Event::CallStarted, digits("1"), digits("7")]);
        assert_eq!(a[0], flow::play([flow::file("invalid-option")]));
        assert_eq!(prompt_of(&a), vec![flow::file("support-menu")]);
        let (a, _) = run(&m, &[Event::CallStarted, digits("7"), digits("8")]);
        assert!(
            matches!(&a[..], [Action::Dial(_)]),
            "second invalid digit → human"
        );
    }

    #[test]
    fn star_goes_back_one_level() {
        let m = classic();
        let (a, p) = run(
            &m,
            &[Event::CallStarted, digits("1"), digits("1"), digits("*")],
        );
        assert_eq!(prompt_of(&a), vec![flow::file("support-menu")]);
        assert_eq!(p.path, vec!["main", "support"]);
    }

    #[test]
    fn unanswered_destination_goes_to_a_human_then_to_the_mailbox() {
        let m = classic();
        let no_answer = Event::DialFinished(DialResult {
            outcome: DialOutcome::NoAnswer,
            answered_by: None,
            sip_code: 408,
            talk_seconds: 0,
        });
        let base = [Event::CallStarted, digits("1"), digits("1"), digits("2")];
        let mut events = base.to_vec();
        events.push(no_answer.clone());
        let (a, _) = run(&m, &events);
        assert!(
            matches!(&a[..], [Action::Dial(d)] if d.targets == vec![DialTarget::RingGroup("operators".into())])
        );
        events.push(no_answer);
        let (a, _) = run(&m, &events);
        assert_eq!(a, vec![flow::voicemail("operators")]);
    }

    fn left_queue(reason: QueueExit) -> Event {
        Event::QueueFinished(flow::QueueResult {
            queue: "support".into(),
            reason,
            waited_seconds: 60,
            key: None,
        })
    }

    #[test]
    fn a_queue_that_gives_up_counts_as_not_answered() {
        let m = classic();
        // main → 1 support → 3 the IT queue.
        let base = [Event::CallStarted, digits("1"), digits("3")];
        for reason in [
            QueueExit::Timeout,
            QueueExit::NoAgents,
            QueueExit::Full,
            QueueExit::Empty,
        ] {
            let mut events = base.to_vec();
            events.push(left_queue(reason));
            let (a, p) = run(&m, &events);
            assert!(
                matches!(&a[..], [Action::Dial(d)] if d.targets == vec![DialTarget::RingGroup("operators".into())]),
                "{reason:?}: {a:?}"
            );
            assert_eq!(p.sent_to, Some(Sent::Human));
        }
        let mut events = base.to_vec();
        events.push(left_queue(QueueExit::Answered));
        assert!(run(&m, &events).0.is_empty());
    }

    #[test]
    fn the_queue_exit_key_returns_to_the_menu() {
        let m = classic();
        let (a, p) = run(
            &m,
            &[
                Event::CallStarted,
                digits("1"),
                digits("3"),
                left_queue(QueueExit::Key),
            ],
        );
        assert_eq!(prompt_of(&a), vec![flow::file("support-menu")]);
        assert_eq!(p.sent_to, None);
    }

    #[test]
    fn queue_and_flow_options() {
        let m = classic();
        let (a, _) = run(&m, &[Event::CallStarted, digits("2")]);
        assert!(matches!(&a[..], [Action::Enqueue(e)] if e.queue == "sales"));
        let (a, _) = run(&m, &[Event::CallStarted, digits("1"), digits("3")]);
        assert!(matches!(&a[..], [Action::Enqueue(e)] if e.skills == vec!["it".to_string()]));
        let (a, _) = run(&m, &[Event::CallStarted, digits("3")]);
        assert_eq!(a, vec![flow::goto_flow("order-tracking")]);
    }

    #[test]
    fn bad_menus_are_refused_with_the_reason() {
        let e = Menu::parse(r#"{"root":"x","human":"hangup","nodes":{}}"#).unwrap_err();
        assert!(e.contains("root node `x`"), "{e}");
        let e = Menu::parse(
            r#"{"root":"a","human":"hangup","nodes":{"a":{"prompts":[],"options":{"1":{"menu":"b"}}}}}"#,
        )
        .unwrap_err();
        assert!(e.contains("opens `b`"), "{e}");
        let e =
            Menu::parse(r#"{"root":"a","human":"hangup","nodes":{"a":{"prompts":[]}},"colour":1}"#)
                .unwrap_err();
        assert!(e.contains("colour"), "{e}");
    }
}
