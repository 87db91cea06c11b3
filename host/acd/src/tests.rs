//! The engine on a fake clock: every step drains the outputs and checks
//! the invariants.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::figures::{agent_figures, queue_figures};
use crate::*;

const START_MS: u64 = 1_000_000_000;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The test owner: a fake clock, the outputs seen since the last `take`,
/// the whole queue log, and (when `auto`) a strategy that ranks the
/// candidates by member order.
struct H {
    acd: Acd,
    t0: Instant,
    now: Instant,
    outs: Vec<Output>,
    log: Vec<QueueEvent>,
    auto: bool,
}

impl H {
    fn new() -> H {
        let t0 = Instant::now();
        H {
            acd: Acd::new(t0, START_MS),
            t0,
            now: t0,
            outs: vec![],
            log: vec![],
            auto: true,
        }
    }

    fn at(&self, s: u64) -> Instant {
        self.t0 + secs(s)
    }

    fn ms(&self, s: u64) -> u64 {
        START_MS + s * 1000
    }

    /// Drain outputs (answering rankings when `auto`) and check the
    /// invariants.
    fn drain(&mut self) {
        loop {
            let mut ranks = vec![];
            while let Some(o) = self.acd.poll_output() {
                if let Output::Log(e) = &o {
                    self.log.push(e.clone());
                }
                if let Output::Rank {
                    call, candidates, ..
                } = &o
                    && self.auto
                {
                    let mut c = candidates.clone();
                    c.sort_by(|a, b| (a.order, &a.agent).cmp(&(b.order, &b.agent)));
                    ranks.push((
                        call.clone(),
                        c.into_iter()
                            .map(|c| c.agent.to_string())
                            .collect::<Vec<_>>(),
                    ));
                }
                self.outs.push(o);
            }
            self.acd.check_invariants().unwrap();
            if ranks.is_empty() {
                break;
            }
            for (call, order) in ranks {
                self.acd.handle_ranking(&call, order, self.now);
                self.acd.check_invariants().unwrap();
            }
        }
    }

    /// Move the clock to `t0 + s`, running every timer due on the way at
    /// its own time.
    fn to(&mut self, s: u64) {
        let target = self.at(s);
        assert!(target >= self.now, "the clock only goes forward");
        while let Some(t) = self.acd.poll_timeout().filter(|t| *t <= target) {
            self.now = t.max(self.now);
            self.acd.handle_timeout(self.now);
            self.drain();
        }
        self.now = target;
    }

    fn take(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outs)
    }

    /// `Ring` outputs since the last `take`, as (call, agents).
    fn rings(&mut self) -> Vec<(String, Vec<String>)> {
        self.take()
            .into_iter()
            .filter_map(|o| match o {
                Output::Ring { call, agents } => Some((call, agents)),
                _ => None,
            })
            .collect()
    }

    fn queue(&mut self, cfg: QueueConfig) {
        self.acd.set_queue(cfg);
    }

    fn agent(&mut self, id: &str, queue: &str, order: u32, skills: &[&str]) {
        let m = Membership {
            queue: queue.into(),
            penalty: 0,
            skills: skills.iter().map(|s| (s.to_string(), 5)).collect(),
            order,
        };
        self.acd.set_agent(AgentConfig::new(id, vec![m]), self.now);
        self.drain();
    }

    fn login(&mut self, id: &str) {
        self.acd.login(id, self.now);
        self.drain();
    }

    fn join(&mut self, call: &str, queue: &str, priority: u8) {
        self.join_with(call, queue, priority, &[]);
    }

    fn join_with(&mut self, call: &str, queue: &str, priority: u8, skills: &[&str]) {
        let skills = skills.iter().map(|s| s.to_string()).collect();
        self.acd
            .join(call, queue, priority, skills, vec![], self.now)
            .unwrap();
        self.drain();
    }

    fn answer(&mut self, call: &str, agent: &str) {
        self.acd.offer_answered(call, agent, self.now);
        self.drain();
    }

    fn end(&mut self, call: &str) {
        self.acd.call_ended(call, self.now);
        self.drain();
    }

    fn state(&self, agent: &str) -> AgentState {
        self.acd.agent_state(agent).unwrap().clone()
    }
}

fn v(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

fn ring(call: &str, agents: &[&str]) -> (String, Vec<String>) {
    (call.to_string(), v(agents))
}

#[test]
fn vip_is_served_before_earlier_callers() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    h.agent("a", "q", 0, &[]);
    h.join("c1", "q", 0);
    h.to(5);
    h.join("c2", "q", 0);
    h.to(10);
    h.join("vip", "q", 10);
    h.take();
    h.login("a");
    assert_eq!(h.rings(), vec![ring("vip", &["a"])]);
    h.answer("vip", "a");
    h.end("vip");
    h.to(20); // wrap-up of 10 s ends
    assert_eq!(h.rings(), vec![ring("c1", &["a"])]);
}

#[test]
fn ring_timeout_moves_to_the_next_agent_and_auto_pauses() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.ring_timeout = secs(15);
    q.auto_pause_after = 2;
    h.queue(q);
    h.agent("a", "q", 0, &[]);
    h.agent("b", "q", 1, &[]);
    h.login("a");
    h.login("b");
    h.join("c1", "q", 0);
    assert_eq!(h.rings(), vec![ring("c1", &["a"])]);
    h.to(15);
    let outs = h.take();
    assert!(outs.contains(&Output::CancelRing {
        call: "c1".into(),
        agents: v(&["a"])
    }));
    assert!(outs.contains(&Output::Ring {
        call: "c1".into(),
        agents: v(&["b"])
    }));
    assert!(
        h.log
            .iter()
            .any(|e| e.kind == EventKind::RingNoAnswer && e.agent.as_deref() == Some("a"))
    );
    assert!(matches!(h.state("a"), AgentState::Available { .. }));
    // b rings out too: nobody left in the order, the call is ranked again
    // and a rings a second time.
    h.to(30);
    assert_eq!(h.rings(), vec![ring("c1", &["a"])]);
    h.to(45);
    // a's second unanswered offer in a row: paused, and b rings.
    assert_eq!(
        h.state("a"),
        AgentState::Paused {
            reason: "no-answer".into()
        }
    );
    assert_eq!(h.rings(), vec![ring("c1", &["b"])]);
    h.answer("c1", "b");
    assert!(matches!(h.state("b"), AgentState::OnCall { .. }));
    let missed = agent_figures(&h.log, "a", h.ms(0), h.ms(100)).missed_offers;
    assert_eq!(missed, 2);
}

#[test]
fn an_answer_resets_the_unanswered_count() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.wrap_up = Duration::ZERO;
    h.queue(q);
    h.agent("a", "q", 0, &[]);
    h.login("a");
    h.join("c1", "q", 0);
    h.to(15); // no answer (1), re-ranked, rings again
    h.answer("c1", "a");
    h.end("c1");
    h.join("c2", "q", 0);
    h.to(30); // no answer (1 again, not 2)
    assert!(!matches!(h.state("a"), AgentState::Paused { .. }));
}

/// What agents' and supervisors' screens show as "time in state" and the
/// wrap-up countdown, in wall-clock ms.
#[test]
fn the_agent_view_says_since_when_and_until_when_in_wall_clock_ms() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q")); // wrap-up 10 s
    h.agent("a", "q", 0, &[]);
    h.to(5);
    h.login("a");
    let v = h.acd.agent_view("a").unwrap();
    assert_eq!((v.since_ms, v.wrap_up_ends_ms), (h.ms(5), None));
    h.join("c1", "q", 0);
    h.to(8);
    h.answer("c1", "a");
    assert_eq!(h.acd.agent_view("a").unwrap().since_ms, h.ms(8));
    h.to(60);
    h.end("c1");
    let v = h.acd.agent_view("a").unwrap();
    assert_eq!((v.since_ms, v.wrap_up_ends_ms), (h.ms(60), Some(h.ms(70))));
    h.to(70);
    let v = h.acd.agent_view("a").unwrap();
    assert_eq!((v.since_ms, v.wrap_up_ends_ms), (h.ms(70), None));
}

#[test]
fn wrap_up_is_respected() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q")); // wrap-up 10 s
    h.agent("a", "q", 0, &[]);
    h.login("a");
    h.join("c1", "q", 0);
    h.answer("c1", "a");
    h.to(60);
    h.end("c1");
    assert_eq!(h.state("a"), AgentState::WrapUp { until: h.at(70) });
    h.join("c2", "q", 0);
    h.take();
    h.to(69);
    assert!(h.rings().is_empty());
    h.to(70);
    assert_eq!(h.rings(), vec![ring("c2", &["a"])]);
    let wrap = h.log.iter().find_map(|e| match e.kind {
        EventKind::WrapUpEnded { wrap } => Some(wrap),
        _ => None,
    });
    assert_eq!(wrap, Some(secs(10)));
}

#[test]
fn ring_all_reserves_every_eligible_agent_and_cancels_the_rest_on_answer() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.ring_mode = RingMode::All;
    h.queue(q);
    for (i, a) in ["a", "b", "c"].iter().enumerate() {
        h.agent(a, "q", i as u32, &[]);
        h.login(a);
    }
    h.join("c1", "q", 0);
    assert_eq!(h.rings(), vec![ring("c1", &["a", "b", "c"])]);
    for a in ["a", "b", "c"] {
        assert_eq!(h.state(a), AgentState::Reserved { call: "c1".into() });
    }
    h.answer("c1", "b");
    let outs = h.take();
    assert!(outs.contains(&Output::CancelRing {
        call: "c1".into(),
        agents: v(&["a", "c"])
    }));
    assert!(outs.contains(&Output::Exit {
        call: "c1".into(),
        reason: ExitReason::Answered
    }));
    assert!(matches!(h.state("a"), AgentState::Available { .. }));
    assert!(matches!(h.state("c"), AgentState::Available { .. }));
    assert_eq!(h.state("b"), AgentState::OnCall { call: "c1".into() });
}

#[test]
fn first_n_rings_n_and_tops_up_when_one_fails() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.ring_mode = RingMode::FirstN(2);
    h.queue(q);
    for (i, a) in ["a", "b", "c"].iter().enumerate() {
        h.agent(a, "q", i as u32, &[]);
        h.login(a);
    }
    h.join("c1", "q", 0);
    assert_eq!(h.rings(), vec![ring("c1", &["a", "b"])]);
    h.acd.offer_failed("c1", "a", h.now);
    h.drain();
    assert_eq!(h.rings(), vec![ring("c1", &["c"])]);
}

#[test]
fn two_calls_never_get_the_same_agent() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.ring_mode = RingMode::All;
    h.queue(q);
    h.agent("a", "q", 0, &[]);
    h.agent("b", "q", 1, &[]);
    h.login("a");
    h.login("b");
    h.join("c1", "q", 0);
    h.join("c2", "q", 0);
    assert_eq!(h.rings(), vec![ring("c1", &["a", "b"])]);
    // c2 is not even ranked while c1 holds both agents.
    h.answer("c1", "a");
    assert_eq!(h.rings(), vec![ring("c2", &["b"])]);
}

#[test]
fn skills_filter_candidates_and_a_lower_call_gets_an_agent_nobody_ahead_can_use() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    h.agent("fr", "q", 0, &["french"]);
    h.agent("en", "q", 1, &["english"]);
    h.join_with("german", "q", 9, &["german"]);
    h.join_with("c-fr", "q", 0, &["french"]);
    h.take();
    h.login("fr");
    h.login("en");
    let outs = h.take();
    let ranks: Vec<(String, Vec<String>)> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Rank {
                call, candidates, ..
            } => Some((
                call.clone(),
                candidates.iter().map(|c| c.agent.to_string()).collect(),
            )),
            _ => None,
        })
        .collect();
    // Nobody speaks German: the VIP waits, the French caller gets "fr"
    // only; "en" is offered to nobody.
    assert_eq!(ranks, vec![ring("c-fr", &["fr"])]);
    assert!(matches!(h.state("en"), AgentState::Available { .. }));
}

#[test]
fn a_failed_or_garbage_ranking_falls_back_to_longest_idle() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    h.agent("a", "q", 0, &[]);
    h.agent("b", "q", 1, &[]);
    h.auto = false;
    h.login("b"); // idle since 0
    h.to(10);
    h.login("a"); // idle since 10
    h.join("c1", "q", 0);
    let rank = h.take().into_iter().find_map(|o| match o {
        Output::Rank {
            candidates,
            waiting,
            queue,
            ..
        } => Some((candidates, waiting, queue)),
        _ => None,
    });
    let (candidates, waiting, queue) = rank.unwrap();
    assert_eq!(
        queue,
        QueueInfo {
            name: "q".into(),
            waiting: 1
        }
    );
    assert_eq!(waiting.priority, 0);
    assert_eq!(candidates.len(), 2);
    assert_eq!(candidates[1].idle_since_ms, h.ms(0));
    h.acd.handle_ranking_failed("c1", h.now);
    h.drain();
    assert_eq!(h.rings(), vec![ring("c1", &["b"])]);
    assert_eq!(h.acd.fallbacks(), 1);

    // Garbage (unknown ids) falls back too.
    h.join("c2", "q", 0);
    h.acd.handle_ranking("c2", v(&["zz", ""]), h.now);
    h.drain();
    assert_eq!(h.rings(), vec![ring("c2", &["a"])]);
    assert_eq!(h.acd.fallbacks(), 2);
}

#[test]
fn a_ranking_as_positions_rings_in_that_order_and_drops_what_is_not_a_candidate() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.ring_mode = RingMode::OneAtATime;
    h.queue(q);
    h.agent("a", "q", 0, &[]);
    h.agent("b", "q", 1, &[]);
    h.agent("c", "q", 2, &[]);
    h.auto = false;
    for a in ["a", "b", "c"] {
        h.login(a);
    }
    h.join("c1", "q", 0);
    let candidates = h
        .take()
        .into_iter()
        .find_map(|o| match o {
            Output::Rank { candidates, .. } => Some(candidates),
            _ => None,
        })
        .unwrap();
    let at = |id: &str| candidates.iter().position(|c| &*c.agent == id).unwrap() as u32;
    // Out of range and a repeat are dropped: c, then a.
    h.acd
        .handle_ranked("c1", vec![99, at("c"), at("c"), at("a")], h.now);
    h.drain();
    assert_eq!(h.rings(), vec![ring("c1", &["c"])]);

    // Nothing usable falls back to longest idle.
    h.join("c2", "q", 0);
    h.acd.handle_ranked("c2", vec![7, 8], h.now);
    h.drain();
    assert_eq!(h.acd.fallbacks(), 1);
    assert_eq!(h.rings().len(), 1, "c2 rang one of the free agents");
}

#[test]
fn a_strategy_that_never_answers_does_not_stall_the_queue() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    h.agent("a", "q", 0, &[]);
    h.auto = false;
    h.login("a");
    h.join("c1", "q", 0);
    h.take();
    h.to(2);
    assert_eq!(h.rings(), vec![ring("c1", &["a"])]);
    assert_eq!(h.acd.fallbacks(), 1);
    // A late answer is ignored.
    h.acd.handle_ranking("c1", v(&["a"]), h.now);
    h.drain();
    assert!(h.rings().is_empty());
}

#[test]
fn announcements_come_at_the_configured_frequency_with_position_and_estimate() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.announce_every = Some(secs(30));
    q.comfort_every = Some(secs(20));
    h.queue(q);
    h.agent("a", "q", 0, &[]);
    h.login("a");
    h.acd.agent_busy("a", true, h.now); // staffed but on another call
    h.drain();
    h.join("c1", "q", 0);
    h.to(10);
    h.join("c2", "q", 0);
    h.take();
    h.to(70);
    let announces: Vec<(String, u32, Duration)> = h
        .take()
        .into_iter()
        .filter_map(|o| match o {
            Output::Announce {
                call,
                position,
                estimated_wait,
            } => Some((call, position, estimated_wait)),
            _ => None,
        })
        .collect();
    // No answered call yet: 180 s × position ÷ 1 staffed agent.
    assert_eq!(
        announces,
        vec![
            ("c1".into(), 1, secs(180)),
            ("c2".into(), 2, secs(360)),
            ("c1".into(), 1, secs(180)),
            ("c2".into(), 2, secs(360)),
        ]
    );
    // Comfort every 20 s, first after 20 s: 20, 40, 60 by 65 s.
    let mut h2 = H::new();
    let mut q = QueueConfig::new("q");
    q.comfort_every = Some(secs(20));
    h2.queue(q);
    h2.join("c1", "q", 0);
    h2.to(65);
    let comforts = h2
        .take()
        .iter()
        .filter(|o| matches!(o, Output::Comfort { .. }))
        .count();
    assert_eq!(comforts, 3);
}

#[test]
fn the_estimate_uses_the_last_answered_calls_and_the_staffed_agents() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.announce_every = Some(secs(30));
    q.wrap_up = secs(10);
    h.queue(q);
    h.agent("a", "q", 0, &[]);
    h.agent("b", "q", 1, &[]);
    h.login("a");
    h.join("c1", "q", 0);
    h.answer("c1", "a");
    h.to(50);
    h.end("c1"); // handle 50 + 10 = 60 s
    h.login("b");
    h.acd.agent_busy("a", true, h.now);
    h.acd.agent_busy("b", true, h.now);
    h.drain();
    h.join("c2", "q", 0);
    h.take();
    h.to(80);
    let a = h.take().into_iter().find_map(|o| match o {
        Output::Announce {
            position,
            estimated_wait,
            ..
        } => Some((position, estimated_wait)),
        _ => None,
    });
    // 60 s × position 1 ÷ 2 staffed agents.
    assert_eq!(a, Some((1, secs(30))));
}

#[test]
fn max_wait_exits_with_timeout() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.max_wait = Some(secs(60));
    h.queue(q);
    h.join("c1", "q", 0);
    h.to(59);
    assert!(!h.take().iter().any(|o| matches!(o, Output::Exit { .. })));
    h.to(60);
    assert!(h.take().contains(&Output::Exit {
        call: "c1".into(),
        reason: ExitReason::Timeout
    }));
    let last = h.log.last().unwrap();
    assert_eq!(
        last.kind,
        EventKind::Exit {
            reason: ExitReason::Timeout,
            wait: secs(60)
        }
    );
    assert_eq!(last.at_ms, h.ms(60));
}

#[test]
fn join_policies_refuse_full_and_empty_queues() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.max_len = Some(1);
    q.join_empty = JoinEmpty::Never;
    h.queue(q);
    h.agent("a", "q", 0, &[]);
    let none = h.acd.join("c1", "q", 0, vec![], vec![], h.now);
    assert_eq!(none, Err(Refusal::NoAgents));
    assert_eq!(
        h.acd.join("c1", "nope", 0, vec![], vec![], h.now),
        Err(Refusal::NoSuchQueue)
    );
    h.login("a");
    h.acd.agent_busy("a", true, h.now);
    h.join("c1", "q", 0);
    assert_eq!(
        h.acd.join("c2", "q", 0, vec![], vec![], h.now),
        Err(Refusal::Full)
    );
}

#[test]
fn the_last_logout_empties_a_leave_when_empty_queue() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.leave_when_empty = true;
    h.queue(q);
    h.agent("a", "q", 0, &[]);
    h.agent("b", "q", 1, &[]);
    h.login("a");
    h.login("b");
    h.acd.pause("a", "lunch", h.now);
    h.acd.agent_busy("b", true, h.now);
    h.drain();
    h.join("c1", "q", 0);
    h.join("c2", "q", 0);
    h.acd.logout("b", h.now);
    h.drain();
    // a is still logged in (paused): nobody leaves yet.
    assert!(!h.take().iter().any(|o| matches!(o, Output::Exit { .. })));
    h.acd.logout("a", h.now);
    h.drain();
    let exits: Vec<Output> = h
        .take()
        .into_iter()
        .filter(|o| matches!(o, Output::Exit { .. }))
        .collect();
    assert_eq!(
        exits,
        vec![
            Output::Exit {
                call: "c1".into(),
                reason: ExitReason::Empty
            },
            Output::Exit {
                call: "c2".into(),
                reason: ExitReason::Empty
            },
        ]
    );
}

#[test]
fn keys_leave_or_ask_for_a_callback() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.leave_key = Some('0');
    q.callback_key = Some('1');
    h.queue(q);
    h.join("c1", "q", 0);
    let tags = vec![(CALLBACK_NUMBER_TAG.to_string(), "+15550001".to_string())];
    h.acd.join("c2", "q", 0, vec![], tags, h.now).unwrap();
    h.join("c3", "q", 0);
    h.take();
    h.acd.key("c1", '0', h.now);
    h.acd.key("c2", '1', h.now);
    h.acd.key("c3", '1', h.now);
    h.acd.key("c3", '7', h.now);
    h.drain();
    let outs: Vec<Output> = h
        .take()
        .into_iter()
        .filter(|o| !matches!(o, Output::Log(_)))
        .collect();
    assert_eq!(
        outs,
        vec![
            Output::Exit {
                call: "c1".into(),
                reason: ExitReason::Key
            },
            Output::Exit {
                call: "c2".into(),
                reason: ExitReason::CallbackChosen
            },
            Output::CallbackNumberWanted { call: "c3".into() },
        ]
    );
    assert_eq!(h.acd.placeholders().len(), 1);
    assert_eq!(h.acd.placeholders()[0].number, "+15550001");
}

/// Serve every call one by one with the only agent, answering each offer
/// and connecting each callback at once: the order in which calls reach
/// the agent.
fn serve_all(h: &mut H, agent: &str, until: u64) -> Vec<String> {
    let mut served = vec![];
    let mut t = h.now.duration_since(h.t0).as_secs();
    while t < until {
        for o in h.take() {
            match o {
                Output::Ring { call, agents } => {
                    assert_eq!(agents, v(&[agent]));
                    served.push(call.clone());
                    h.answer(&call, agent);
                    h.to(t + 30);
                    h.end(&call);
                }
                Output::Callback {
                    placeholder,
                    agent: a,
                    ..
                } => {
                    assert_eq!(a, agent);
                    served.push(placeholder.clone());
                    h.acd
                        .callback_result(&placeholder, CallbackOutcome::Connected, h.now);
                    h.drain();
                    h.to(t + 30);
                    h.end(&placeholder);
                }
                _ => {}
            }
        }
        t = h.now.duration_since(h.t0).as_secs() + 1;
        h.to(t);
    }
    served
}

#[test]
fn a_callback_keeps_its_place_exactly() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    h.agent("a", "q", 0, &[]);
    h.join("before1", "q", 0);
    h.to(1);
    h.join("before2", "q", 0);
    h.to(1);
    h.join("cb", "q", 0);
    h.to(2);
    h.join("after1", "q", 0);
    h.to(3);
    h.acd.request_callback("cb", "+15550002", h.now);
    h.drain();
    assert!(h.take().contains(&Output::Exit {
        call: "cb".into(),
        reason: ExitReason::CallbackChosen
    }));
    h.to(4);
    h.join("after2", "q", 0);
    h.take();
    h.login("a");
    let served = serve_all(&mut h, "a", 600);
    assert_eq!(served, v(&["before1", "before2", "cb", "after1", "after2"]));
    let kinds: Vec<&EventKind> = h
        .log
        .iter()
        .filter(|e| e.call.as_deref() == Some("cb"))
        .map(|e| &e.kind)
        .collect();
    assert!(kinds.contains(&&EventKind::CallbackRequested { automatic: false }));
    assert!(kinds.contains(&&EventKind::CallbackAttempted { attempt: 1 }));
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, EventKind::CallbackCompleted { .. }))
    );
}

#[test]
fn a_caller_who_hangs_up_after_the_threshold_is_called_back_in_their_place() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.callback_on_abandon_after = Some(secs(30));
    h.queue(q);
    h.agent("a", "q", 0, &[]);
    let number = |n: &str| vec![(CALLBACK_NUMBER_TAG.to_string(), n.to_string())];
    h.acd
        .join("early", "q", 0, vec![], number("+15550001"), h.now)
        .unwrap();
    h.acd
        .join("patient", "q", 0, vec![], number("+15550002"), h.now)
        .unwrap();
    h.join("unknown", "q", 0);
    h.to(10);
    h.join("after", "q", 0);
    // Under the threshold: an ordinary abandonment.
    h.to(29);
    h.acd.leave("early", LeaveReason::Abandoned, h.now);
    h.drain();
    // At the threshold: a callback; without a number: abandoned.
    h.to(30);
    h.acd.leave("patient", LeaveReason::Abandoned, h.now);
    h.acd.leave("unknown", LeaveReason::Abandoned, h.now);
    h.drain();
    let placeholders = h.acd.placeholders();
    assert_eq!(placeholders.len(), 1);
    assert_eq!(
        (
            placeholders[0].call.as_str(),
            placeholders[0].number.as_str()
        ),
        ("patient", "+15550002")
    );
    let kinds = |call: &str| -> Vec<EventKind> {
        h.log
            .iter()
            .filter(|e| e.call.as_deref() == Some(call))
            .map(|e| e.kind.clone())
            .collect()
    };
    assert_eq!(
        kinds("early").last(),
        Some(&EventKind::Abandon { wait: secs(29) })
    );
    assert_eq!(
        kinds("unknown").last(),
        Some(&EventKind::Abandon { wait: secs(30) })
    );
    assert!(kinds("patient").contains(&EventKind::CallbackRequested { automatic: true }));
    assert!(
        !kinds("patient")
            .iter()
            .any(|k| matches!(k, EventKind::Abandon { .. })),
        "a caller called back is not counted as abandoned"
    );
    // The callback is served before the caller who joined after it.
    h.take();
    h.login("a");
    let served = serve_all(&mut h, "a", 600);
    assert_eq!(served, v(&["patient", "after"]));
}

#[test]
fn a_callback_not_answered_is_retried_then_fails_after_max_attempts() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.callback_retry_interval = secs(300);
    q.callback_max_attempts = 3;
    h.queue(q);
    h.agent("a", "q", 0, &[]);
    h.join("cb", "q", 0);
    h.acd.request_callback("cb", "+15550003", h.now);
    h.drain();
    h.login("a");
    let mut attempts_at = vec![];
    for attempt in 1..=3 {
        let outs = h.take();
        let cb = outs.iter().find_map(|o| match o {
            Output::Callback {
                placeholder,
                agent,
                number,
            } => Some((placeholder.clone(), agent.clone(), number.clone())),
            _ => None,
        });
        assert_eq!(cb, Some(("cb".into(), "a".into(), "+15550003".into())));
        attempts_at.push(h.now.duration_since(h.t0).as_secs());
        h.to(attempts_at.last().unwrap() + 20);
        h.acd
            .callback_result("cb", CallbackOutcome::NotAnswered, h.now);
        h.drain();
        assert!(matches!(h.state("a"), AgentState::Available { .. }));
        if attempt == 3 {
            break;
        }
        let t = h.now.duration_since(h.t0).as_secs();
        h.to(t + 299);
        assert!(
            !h.take()
                .iter()
                .any(|o| matches!(o, Output::Callback { .. })),
            "retried too early"
        );
        h.to(t + 300);
    }
    assert_eq!(attempts_at, vec![0, 320, 640]);
    let outs = h.take();
    assert!(outs.contains(&Output::Exit {
        call: "cb".into(),
        reason: ExitReason::CallbackFailed
    }));
    assert!(h.log.iter().any(|e| e.kind == EventKind::CallbackFailed));
    assert!(h.acd.placeholders().is_empty());
}

#[test]
fn placeholders_survive_a_restart_in_their_place() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.callback_retry_interval = secs(300);
    h.queue(q.clone());
    h.agent("a", "q", 0, &[]);
    h.join("first", "q", 0);
    h.to(10);
    h.join("second", "q", 0);
    h.acd.request_callback("second", "+2", h.now);
    h.acd.request_callback("first", "+1", h.now);
    h.drain();
    // One attempt of "second" not answered: it waits until 10 + 20 + 300.
    let mut stored = h.acd.placeholders();
    assert_eq!(stored.len(), 2);
    stored.reverse();

    // A new engine an hour later (wall clock), fresh Instant origin.
    let mut n = H::new();
    n.acd = Acd::new(n.t0, START_MS + 3_600_000);
    n.queue(q);
    n.agent("a", "q", 0, &[]);
    n.join("newcomer", "q", 0);
    let rejected = n.acd.restore(stored.clone(), n.now);
    assert!(rejected.is_empty());
    n.drain();
    let mut again = n.acd.placeholders();
    again.sort_by_key(|p| p.joined_ms);
    stored.sort_by_key(|p| p.joined_ms);
    assert_eq!(again, stored);
    n.take();
    n.login("a");
    let served = serve_all(&mut n, "a", 600);
    assert_eq!(served, v(&["first", "second", "newcomer"]));
}

#[test]
fn a_pending_retry_survives_a_restart() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    h.agent("a", "q", 0, &[]);
    h.join("cb", "q", 0);
    h.acd.request_callback("cb", "+1", h.now);
    h.login("a");
    h.drain();
    h.acd
        .callback_result("cb", CallbackOutcome::NotAnswered, h.now);
    h.drain();
    let stored = h.acd.placeholders();
    assert_eq!(stored[0].attempts, 1);
    assert_eq!(stored[0].retry_at_ms, Some(h.ms(300)));

    // Restarted 100 s later: the retry is still 200 s away.
    let mut n = H::new();
    n.acd = Acd::new(n.t0, START_MS + 100_000);
    n.queue(QueueConfig::new("q"));
    n.agent("a", "q", 0, &[]);
    n.login("a");
    n.acd.restore(stored, n.now);
    n.drain();
    n.to(199);
    assert!(
        !n.take()
            .iter()
            .any(|o| matches!(o, Output::Callback { .. }))
    );
    n.to(200);
    assert!(
        n.take()
            .iter()
            .any(|o| matches!(o, Output::Callback { .. }))
    );
}

#[test]
fn figures_match_hand_computed_values() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q"); // threshold 20 s, wrap-up 10 s
    q.ring_timeout = secs(30);
    h.queue(q);
    h.agent("a", "q", 0, &[]);
    h.login("a"); // t=0
    h.join("c1", "q", 0); // t=0, rings a
    h.to(5);
    h.join("c2", "q", 0); // t=5, waits (a is ringing)
    h.to(10);
    h.answer("c1", "a"); // c1 waited 10 s (within 20)
    h.to(20);
    h.join("c3", "q", 0);
    h.to(25);
    h.acd.leave("c3", LeaveReason::Abandoned, h.now); // abandoned after 5 s (within)
    h.drain();
    h.to(40);
    h.join("c4", "q", 0);
    h.to(55);
    h.acd.leave("c4", LeaveReason::Abandoned, h.now); // abandoned after 15 s (within)
    h.drain();
    h.to(70);
    h.end("c1"); // talk 60 s, wrap-up until 80
    h.take();
    h.to(80); // wrap-up ends: c2 rings a
    assert_eq!(h.rings(), vec![ring("c2", &["a"])]);
    h.answer("c2", "a"); // c2 waited 75 s (not within)
    h.to(110);
    h.end("c2"); // talk 30 s, wrap-up until 120
    h.to(150);
    h.acd.pause("a", "lunch", h.now);
    h.drain();
    h.to(200);

    let f = queue_figures(&h.log, "q", h.ms(0), h.ms(200), secs(20));
    assert_eq!(f.offered, 4); // c1..c4
    assert_eq!(f.answered, 2); // c1, c2
    assert_eq!(f.abandoned, 2); // c3, c4
    // Mean wait before abandoning: (5 + 15) / 2 = 10 s.
    assert_eq!(f.abandon_mean_wait, Some(secs(10)));
    assert_eq!(f.abandonment_rate, Some(0.5)); // 2 / 4
    // ASA: (10 + 75) / 2 = 42.5 s.
    assert_eq!(f.asa, Some(Duration::from_millis(42_500)));
    // AHT: ((60 + 10) + (30 + 10)) / 2 = 55 s.
    assert_eq!(f.aht, Some(secs(55)));
    // SL: answered within 20 s (c1) / answered (2) = 0.5.
    assert_eq!(f.service_level, Some(0.5));
    // SL2: (1 answered within + 2 abandoned within) / (2 + 2) = 0.75.
    assert_eq!(f.service_level_2, Some(0.75));

    let a = agent_figures(&h.log, "a", h.ms(0), h.ms(200));
    assert_eq!(a.calls, 2);
    assert_eq!(a.talk, secs(90));
    assert_eq!(a.missed_offers, 0);
    assert_eq!(a.pause_by_reason.get("lunch"), Some(&secs(50))); // 150..200
    assert_eq!(a.logged_in, secs(200));
    // Staffed 0..150 = 150 s; busy: on call 10..70 and 80..110 (90 s),
    // wrap-up 70..80 and 110..120 (20 s) = 110 s → 110 / 150.
    assert_eq!(a.staffed, secs(150));
    assert_eq!(a.busy, secs(110));
    assert_eq!(a.occupancy, Some(110.0 / 150.0));

    // The live view agrees: SL today 1/2, mean wait 42.5 s.
    let s = h.acd.queue_status("q", h.now).unwrap();
    assert_eq!(s.service_level_today, Some(0.5));
    assert_eq!(s.average_wait, Duration::from_millis(42_500));
    assert_eq!((s.waiting, s.agents_logged_in, s.agents_paused), (0, 1, 1));
}

#[test]
fn queue_status_counts_agents_by_state_and_the_longest_wait() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    for (i, a) in ["a", "b", "c", "d"].iter().enumerate() {
        h.agent(a, "q", i as u32, &["x"]);
    }
    h.login("a");
    h.login("b");
    h.login("c");
    h.acd.pause("c", "break", h.now);
    h.drain();
    h.join("c1", "q", 0); // rings a
    h.to(30);
    h.answer("c1", "a");
    h.join_with("c2", "q", 0, &["y"]); // nobody has y
    h.to(45);
    h.join_with("c3", "q", 0, &["y"]);
    let s = h.acd.queue_status("q", h.now).unwrap();
    assert_eq!(s.waiting, 2);
    assert_eq!(s.longest_wait, secs(15));
    assert_eq!(s.agents_logged_in, 3);
    assert_eq!(
        (s.agents_on_call, s.agents_available, s.agents_paused),
        (1, 1, 1)
    );
    assert_eq!(s.service_level_today, Some(0.0)); // waited 30 s
}

/// A tiny deterministic xorshift: no rand crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> Option<&'a T> {
        if v.is_empty() {
            None
        } else {
            Some(&v[self.below(v.len())])
        }
    }
}

/// Random joins, leaves, logins, pauses, rankings, answers, failures,
/// callbacks and clock moves; the invariants are checked after every one.
#[test]
fn random_steps_keep_the_invariants() {
    for seed in [0x9E37_79B9_7F4A_7C15u64, 42, 7_777_777] {
        random_run(seed, 3000);
    }
}

fn random_run(seed: u64, steps: usize) {
    let mut rng = Rng(seed);
    let mut h = H::new();
    h.auto = false;
    let modes = [RingMode::OneAtATime, RingMode::All, RingMode::FirstN(2)];
    for (i, name) in ["q1", "q2"].iter().enumerate() {
        let mut q = QueueConfig::new(*name);
        q.ring_mode = modes[i];
        q.max_wait = Some(secs(400));
        q.max_len = Some(12);
        q.announce_every = Some(secs(45));
        q.leave_when_empty = i == 1;
        q.callback_retry_interval = secs(60);
        q.wrap_up = secs(5 + 10 * i as u64);
        q.leave_key = Some('0');
        q.callback_key = Some('1');
        h.queue(q);
    }
    let agents = ["a", "b", "c", "d", "e"];
    for (i, a) in agents.iter().enumerate() {
        let mut ms = vec![Membership {
            queue: "q1".into(),
            penalty: 0,
            skills: vec![("x".into(), 1)],
            order: i as u32,
        }];
        if i % 2 == 0 {
            ms.push(Membership {
                queue: "q2".into(),
                penalty: i as u32,
                skills: vec![("y".into(), 3)],
                order: 0,
            });
        }
        let mut cfg = AgentConfig::new(*a, ms);
        cfg.ring_in_use = i == 4;
        h.acd.set_agent(cfg, h.now);
    }
    // What the owner knows, from the outputs.
    let mut ranks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut rings: BTreeSet<(String, String)> = BTreeSet::new();
    let mut dialing: BTreeMap<String, String> = BTreeMap::new();
    let mut waiting: BTreeSet<String> = BTreeSet::new();
    let mut connected: BTreeSet<String> = BTreeSet::new();
    let mut next_call = 0;
    let mut t = 0u64;
    for step in 0..steps {
        let now = h.now;
        match rng.below(16) {
            0 | 1 => {
                next_call += 1;
                let id = format!("c{next_call}");
                let q = if rng.below(3) == 0 { "q2" } else { "q1" };
                let skills = match rng.below(4) {
                    0 => vec!["x".to_string()],
                    1 => vec!["y".to_string()],
                    2 => vec!["z".to_string()],
                    _ => vec![],
                };
                let tags = if rng.below(2) == 0 {
                    vec![(CALLBACK_NUMBER_TAG.to_string(), "+9".to_string())]
                } else {
                    vec![]
                };
                if h.acd
                    .join(&id, q, rng.below(3) as u8, skills, tags, now)
                    .is_ok()
                {
                    waiting.insert(id);
                }
            }
            2 => {
                if let Some(c) = rng.pick(&waiting.iter().cloned().collect::<Vec<_>>()) {
                    h.acd.leave(c, LeaveReason::Abandoned, now);
                }
            }
            3 => h.acd.login(rng.pick(&agents).unwrap(), now),
            4 => {
                if rng.below(3) == 0 {
                    h.acd.logout(rng.pick(&agents).unwrap(), now);
                }
            }
            5 => h.acd.pause(rng.pick(&agents).unwrap(), "break", now),
            6 => h.acd.unpause(rng.pick(&agents).unwrap(), now),
            7 => h
                .acd
                .agent_busy(rng.pick(&agents).unwrap(), rng.below(2) == 0, now),
            8 => {
                if let Some((call, cands)) =
                    rng.pick(&ranks.clone().into_iter().collect::<Vec<_>>())
                {
                    match rng.below(4) {
                        0 => h.acd.handle_ranking_failed(call, now),
                        1 => h.acd.handle_ranking(call, vec!["ghost".into()], now),
                        _ => {
                            let mut order = cands.clone();
                            for i in (1..order.len()).rev() {
                                order.swap(i, rng.below(i + 1));
                            }
                            h.acd.handle_ranking(call, order, now);
                        }
                    }
                }
            }
            9 => {
                if let Some((call, agent)) = rng.pick(&rings.iter().cloned().collect::<Vec<_>>()) {
                    h.acd.offer_answered(call, agent, now);
                }
            }
            10 => {
                if let Some((call, agent)) = rng.pick(&rings.iter().cloned().collect::<Vec<_>>()) {
                    h.acd.offer_failed(call, agent, now);
                    rings.remove(&(call.clone(), agent.clone()));
                }
            }
            11 => {
                if let Some(c) = rng.pick(&connected.iter().cloned().collect::<Vec<_>>()) {
                    h.acd.call_ended(c, now);
                    connected.remove(c);
                }
            }
            12 => {
                if let Some(c) = rng.pick(&waiting.iter().cloned().collect::<Vec<_>>()) {
                    h.acd.request_callback(c, "+1", now);
                }
            }
            13 => {
                if let Some((p, _)) = rng.pick(&dialing.clone().into_iter().collect::<Vec<_>>()) {
                    let outcome = if rng.below(2) == 0 {
                        CallbackOutcome::Connected
                    } else {
                        CallbackOutcome::NotAnswered
                    };
                    h.acd.callback_result(p, outcome, now);
                    dialing.remove(p);
                    if outcome == CallbackOutcome::Connected {
                        waiting.remove(p);
                        connected.insert(p.clone());
                    }
                }
            }
            14 if rng.below(2) == 0 => {
                if let Some(c) = rng.pick(&waiting.iter().cloned().collect::<Vec<_>>()) {
                    h.acd.key(c, ['0', '1', '5'][rng.below(3)], now);
                }
            }
            14 => {
                // Stale and unknown ids must be harmless.
                h.acd.offer_answered("ghost", "a", now);
                h.acd.call_ended("ghost", now);
                h.acd
                    .callback_result("ghost", CallbackOutcome::Connected, now);
                h.acd.key("c2", '5', now);
            }
            _ => {
                t += rng.below(25) as u64;
                h.to(t);
            }
        }
        h.drain();
        for o in h.take() {
            match o {
                Output::Rank {
                    call, candidates, ..
                } => {
                    ranks.insert(
                        call,
                        candidates
                            .into_iter()
                            .map(|c| c.agent.to_string())
                            .collect(),
                    );
                }
                Output::Ring { call, agents } => {
                    ranks.remove(&call);
                    rings.extend(agents.into_iter().map(|a| (call.clone(), a)));
                }
                Output::CancelRing { call, agents } => {
                    for a in agents {
                        rings.remove(&(call.clone(), a));
                        dialing.remove(&call);
                    }
                }
                Output::Callback {
                    placeholder, agent, ..
                } => {
                    ranks.remove(&placeholder);
                    dialing.insert(placeholder, agent);
                }
                Output::Exit { call, reason } => {
                    ranks.remove(&call);
                    rings.retain(|(c, _)| *c != call);
                    if reason == ExitReason::Answered {
                        connected.insert(call.clone());
                    }
                    if reason != ExitReason::CallbackChosen {
                        waiting.remove(&call);
                        dialing.remove(&call);
                    }
                }
                _ => {}
            }
        }
        // Owner-side consistency: every ring the owner knows is a Reserved agent.
        for (call, agent) in &rings {
            assert_eq!(
                h.state(agent),
                AgentState::Reserved { call: call.clone() },
                "seed {seed} step {step}: ring {call}/{agent}"
            );
        }
    }
    // Something actually happened.
    let count = |f: &dyn Fn(&EventKind) -> bool| h.log.iter().filter(|e| f(&e.kind)).count();
    let answered = count(&|k| matches!(k, EventKind::Answer { .. }));
    let no_answer = count(&|k| matches!(k, EventKind::RingNoAnswer));
    let callbacks = count(&|k| matches!(k, EventKind::CallbackCompleted { .. }));
    let cb_failed = count(&|k| matches!(k, EventKind::CallbackFailed));
    let timeouts = count(&|k| {
        matches!(
            k,
            EventKind::Exit {
                reason: ExitReason::Timeout,
                ..
            }
        )
    });
    let empty = count(&|k| {
        matches!(
            k,
            EventKind::Exit {
                reason: ExitReason::Empty,
                ..
            }
        )
    });
    let auto_paused =
        count(&|k| matches!(k, EventKind::AgentState { reason, .. } if reason == "no-answer"));
    eprintln!(
        "seed {seed}: answered {answered}, ring-no-answer {no_answer}, callbacks {callbacks}/{cb_failed} failed, \
         timeouts {timeouts}, empty {empty}, auto-paused {auto_paused}, fallbacks {}",
        h.acd.fallbacks()
    );
    assert!(answered > 20, "seed {seed}: only {answered} answers");
    assert!(
        no_answer > 0 && callbacks > 0 && auto_paused > 0 && timeouts > 0,
        "seed {seed}: too tame"
    );
}

#[test]
fn a_pause_asked_during_a_call_starts_when_it_ends() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    h.agent("a", "q", 0, &[]);
    h.login("a");
    h.join("c1", "q", 0);
    h.answer("c1", "a");
    h.acd.pause("a", "training", h.now);
    h.drain();
    assert_eq!(h.state("a"), AgentState::OnCall { call: "c1".into() });
    h.to(40);
    h.end("c1");
    assert_eq!(
        h.state("a"),
        AgentState::Paused {
            reason: "training".into()
        }
    );
    h.join("c2", "q", 0);
    h.acd.unpause("a", h.now);
    h.drain();
    assert!(h.rings().contains(&ring("c2", &["a"])));
}

#[test]
fn a_logout_or_pause_while_ringing_moves_the_call_on() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    h.agent("a", "q", 0, &[]);
    h.agent("b", "q", 1, &[]);
    h.agent("c", "q", 2, &[]);
    h.login("a");
    h.login("b");
    h.login("c");
    h.join("c1", "q", 0);
    h.take();
    h.acd.logout("a", h.now);
    h.drain();
    let outs = h.take();
    assert!(outs.contains(&Output::CancelRing {
        call: "c1".into(),
        agents: v(&["a"])
    }));
    assert!(outs.contains(&Output::Ring {
        call: "c1".into(),
        agents: v(&["b"])
    }));
    h.acd.pause("b", "coffee", h.now);
    h.drain();
    assert!(h.rings().contains(&ring("c1", &["c"])));
    assert_eq!(h.state("a"), AgentState::LoggedOut);
    assert_eq!(
        h.state("b"),
        AgentState::Paused {
            reason: "coffee".into()
        }
    );
}

#[test]
fn another_call_blocks_offers_unless_ring_in_use() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    h.agent("a", "q", 0, &[]);
    let mut cfg = AgentConfig::new(
        "b",
        vec![Membership {
            queue: "q".into(),
            penalty: 0,
            skills: vec![],
            order: 1,
        }],
    );
    cfg.ring_in_use = true;
    h.acd.set_agent(cfg, h.now);
    h.login("a");
    h.login("b");
    h.acd.agent_busy("a", true, h.now);
    h.acd.agent_busy("b", true, h.now);
    h.drain();
    assert_eq!(h.state("a"), AgentState::OnOtherCall);
    h.join("c1", "q", 0);
    assert_eq!(h.rings(), vec![ring("c1", &["b"])]);
    h.acd.agent_busy("a", false, h.now);
    h.join("c2", "q", 0);
    assert_eq!(h.rings(), vec![ring("c2", &["a"])]);
}

#[test]
fn a_late_timer_gives_one_announcement_not_a_burst() {
    let mut h = H::new();
    let mut q = QueueConfig::new("q");
    q.announce_every = Some(secs(10));
    h.queue(q);
    h.join("c1", "q", 0);
    h.now = h.at(55); // the owner was late
    h.acd.handle_timeout(h.now);
    h.drain();
    let n = h
        .take()
        .iter()
        .filter(|o| matches!(o, Output::Announce { .. }))
        .count();
    assert_eq!(n, 1);
    assert_eq!(h.acd.poll_timeout(), Some(h.at(60)));
}

#[test]
fn a_pending_ranking_holds_its_agents() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    h.agent("a", "q", 0, &[]);
    h.agent("b", "q", 1, &[]);
    h.auto = false;
    h.login("a");
    h.login("b");
    h.join("c1", "q", 0);
    h.join("vip", "q", 5);
    // c1's ranking holds a and b: the VIP is not ranked against the same
    // agents (whichever answer came first would take them).
    let ranked = |outs: Vec<Output>| -> Vec<(String, Vec<String>)> {
        outs.into_iter()
            .filter_map(|o| match o {
                Output::Rank {
                    call, candidates, ..
                } => Some((
                    call,
                    candidates
                        .into_iter()
                        .map(|c| c.agent.to_string())
                        .collect(),
                )),
                _ => None,
            })
            .collect()
    };
    assert_eq!(ranked(h.take()), vec![ring("c1", &["a", "b"])]);
    h.acd.handle_ranking("c1", v(&["b"]), h.now);
    h.drain();
    // b rings for c1; a is free again and goes to the VIP's ranking.
    let outs = h.take();
    assert!(outs.contains(&Output::Ring {
        call: "c1".into(),
        agents: v(&["b"])
    }));
    assert_eq!(ranked(outs), vec![ring("vip", &["a"])]);
}

#[test]
fn a_callback_never_reported_frees_the_agent() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    h.agent("a", "q", 0, &[]);
    h.join("cb", "q", 0);
    h.acd.request_callback("cb", "+1", h.now);
    h.login("a");
    assert!(
        h.take()
            .iter()
            .any(|o| matches!(o, Output::Callback { .. }))
    );
    let t = CALLBACK_REPORT_TIMEOUT.as_secs();
    h.to(t - 1);
    assert_eq!(h.state("a"), AgentState::Reserved { call: "cb".into() });
    h.to(t);
    assert!(h.take().contains(&Output::CancelRing {
        call: "cb".into(),
        agents: v(&["a"])
    }));
    assert!(matches!(h.state("a"), AgentState::Available { .. }));
    assert_eq!(h.acd.placeholders()[0].attempts, 1);
}

#[test]
fn restore_rejects_placeholders_of_unknown_queues() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    let p = Placeholder {
        call: "x".into(),
        queue: "gone".into(),
        priority: 0,
        skills: vec![],
        tags: vec![],
        number: "+1".into(),
        joined_ms: START_MS,
        attempts: 0,
        retry_at_ms: None,
    };
    assert_eq!(h.acd.restore(vec![p.clone()], h.now), vec![p]);
    h.drain();
}

#[test]
fn a_logout_during_wrap_up_ends_it_in_the_log() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    h.agent("a", "q", 0, &[]);
    h.login("a");
    h.join("c1", "q", 0);
    h.answer("c1", "a");
    h.to(20);
    h.end("c1");
    h.to(24);
    h.acd.remove_agent("a", h.now);
    h.drain();
    assert!(h.acd.agent_state("a").is_none());
    let wrap = h.log.iter().find_map(|e| match e.kind {
        EventKind::WrapUpEnded { wrap } => Some(wrap),
        _ => None,
    });
    assert_eq!(wrap, Some(secs(4)));
    let f = queue_figures(&h.log, "q", h.ms(0), h.ms(100), secs(20));
    assert_eq!(f.aht, Some(secs(24))); // 20 s talk + 4 s wrap-up
}

#[test]
fn an_agent_in_two_queues_takes_the_earliest_caller_of_either() {
    let mut h = H::new();
    h.queue(QueueConfig::new("sales"));
    h.queue(QueueConfig::new("support"));
    let ms = ["sales", "support"]
        .iter()
        .map(|q| Membership {
            queue: q.to_string(),
            penalty: 0,
            skills: vec![],
            order: 0,
        })
        .collect();
    h.acd.set_agent(AgentConfig::new("a", ms), h.now);
    h.join("support-1", "support", 0);
    h.to(1);
    h.join("sales-1", "sales", 0);
    h.to(2);
    h.join("support-2", "support", 0);
    h.take();
    h.login("a");
    let served = serve_all(&mut h, "a", 600);
    assert_eq!(served, v(&["support-1", "sales-1", "support-2"]));
}

#[test]
fn a_logout_during_a_call_and_a_login_before_its_end_is_back_on_the_call() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    h.agent("a", "q", 0, &[]);
    h.login("a");
    h.join("c1", "q", 0);
    h.answer("c1", "a");
    h.acd.logout("a", h.now);
    h.drain();
    h.login("a");
    assert_eq!(h.state("a"), AgentState::OnCall { call: "c1".into() });
    h.take();
    h.join("c2", "q", 0);
    assert!(h.rings().is_empty());
    h.to(30);
    h.end("c1");
    assert!(matches!(h.state("a"), AgentState::WrapUp { .. }));
}

#[test]
fn a_callback_asked_from_the_web_waits_its_turn_once_per_number() {
    let mut h = H::new();
    h.queue(QueueConfig::new("q"));
    h.agent("a", "q", 0, &[]);
    h.join("first", "q", 0);
    h.to(1);
    let web = vec![("source".to_string(), "web".to_string())];
    assert_eq!(
        h.acd
            .add_callback("web-1", "q", "+15550009", 0, web.clone(), h.now),
        Some(())
    );
    // Asked again (a double click, a reload): the same place, not two.
    assert_eq!(
        h.acd
            .add_callback("web-2", "q", "+15550009", 0, web.clone(), h.now),
        None
    );
    assert_eq!(
        h.acd
            .add_callback("web-3", "nope", "+15550008", 0, web, h.now),
        None,
        "no such queue"
    );
    h.to(2);
    h.join("later", "q", 0);
    h.drain();
    let p = h.acd.placeholders();
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].call.as_str(), p[0].number.as_str()),
        ("web-1", "+15550009")
    );
    assert!(h.log.iter().any(|e| e.call.as_deref() == Some("web-1")
        && e.kind == EventKind::CallbackRequested { automatic: false }));
    h.take();
    h.login("a");
    let served = serve_all(&mut h, "a", 600);
    assert_eq!(served, v(&["first", "web-1", "later"]));
}
