//! Running one plugin call: a fresh `Store` with the tenant's limits, the
//! instantiation from the version's `InstancePre`, the call, and the
//! mapping of whatever went wrong to a [`PluginFailure`].
//!
//! Limits applied to every invocation:
//! * CPU: epoch deadline of one tick, re-armed by a callback that counts
//!   ticks of guest execution (see [`crate::state::CpuMeter`] for why host
//!   calls are not counted) and traps past the budget. The callback yields
//!   to the executor at every tick, so a busy guest never starves the
//!   runtime and the wall-clock timeout can fire.
//! * Wall clock: `tokio::time::timeout` around instantiate + call.
//! * Memory: the store's limiter (and the pool's maximum).
//! * Host DoS: `set_hostcall_fuel` bounds bytes per host call.
//! * Concurrency: a per-tenant semaphore; an invocation waits for a free
//!   place up to `max_queue_wait`, then is `Overloaded`.
//!
//! The store is dropped at the end of every invocation, failed or not, so
//! nothing of a trapped or timed-out instance survives — except that an
//! agent ranking that went well may leave its instance for the next
//! ranking of the same version (see [`crate::warm`]); its meters are
//! renewed for every decision. A flow decision or a CRM look-up may run
//! on an instance made ahead of it, never used, and its store is dropped
//! by the host's spare thread when it went well (see [`crate::spare`]).

use std::future::Future;
use std::time::Instant;

use wasmtime::component::Instance;
use wasmtime::{Store, Trap, UpdateDeadline};

use crate::bindings::account_types::AccountNotice;
use crate::bindings::flow_types::{Decision, Event};
use crate::bindings::queue_types::{AgentCandidate, QueueInfo, WaitingCall};
use crate::bindings::ranking_types::CandidateColumns;
use crate::bindings::types::Notice;
use crate::bindings::types::{CallRecord, CallSnapshot, Contact};
use crate::compat;
use crate::failure::PluginFailure;
use crate::output;
use crate::registry::{Pinned, RoleExports};
use crate::spare::Made;
use crate::state::PluginState;
use crate::tenant::TenantRuntime;
use crate::transcript::{self, CallReplay, Difference, ReplayReport, Step, Tape, Transcript};
use crate::validate::World;

/// wasmtime's (private) error for exhausted hostcall fuel, recognised by its
/// text: it means the guest passed or returned too much data in one call.
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

/// Longest trap message kept.
const TRAP_MESSAGE_BYTES: usize = 2048;

fn wrong_world(v: &Pinned, wanted: World) -> PluginFailure {
    PluginFailure::WrongWorld {
        name: v.name.clone(),
        world: v.world(),
        wanted,
    }
}

impl TenantRuntime {
    fn cpu_ticks(&self) -> u64 {
        let tick = self.host().config().epoch_tick.as_nanos().max(1);
        (self.limits().cpu.as_nanos().div_ceil(tick) as u64).max(1)
    }

    /// A fresh store with the tenant's limits, and the instance.
    async fn instantiate(
        &self,
        v: &Pinned,
    ) -> Result<(Store<PluginState>, Instance), PluginFailure> {
        self.instantiate_taped(v, Tape::Off).await
    }

    /// [`Self::instantiate`] with the host calls taped (see
    /// [`crate::transcript`]).
    async fn instantiate_taped(
        &self,
        v: &Pinned,
        tape: Tape,
    ) -> Result<(Store<PluginState>, Instance), PluginFailure> {
        let mut state = self.plugin_state(v, self.cpu_ticks());
        state.tape = tape;
        let mut store = Store::new(v.pre.component().engine(), state);
        store.limiter(|s| &mut s.limiter);
        self.arm(&mut store);
        store.epoch_deadline_callback(|mut cx| {
            let cpu = &mut cx.data_mut().cpu;
            cpu.used += 1;
            if cpu.used > cpu.budget {
                cpu.exceeded = true;
                return Err(wasmtime::format_err!("plugin CPU budget exceeded"));
            }
            Ok(UpdateDeadline::Yield(1))
        });
        match v.pre.instantiate_async(&mut store).await {
            Ok(instance) => Ok((store, instance)),
            Err(e) => Err(self.classify(v, &mut store, e)),
        }
    }

    /// The instance a flow decision or a CRM look-up runs in: the
    /// version's spare when one is ready (meters renewed, budgets re-armed,
    /// the tape put in), else one made here (see [`crate::spare`]).
    async fn spare_or_fresh(&self, pinned: &Pinned, tape: Tape) -> Result<Made, PluginFailure> {
        let spare = pinned.spare.take();
        self.host().count_spare(spare.is_some());
        match spare {
            Some(mut made) => {
                let data = made.store.data_mut();
                data.renew();
                data.tape = tape;
                self.arm(&mut made.store);
                Ok(made)
            }
            None => {
                let (store, instance) = self.instantiate_taped(pinned, tape).await?;
                Ok(Made {
                    store,
                    instance,
                    flow: None,
                })
            }
        }
    }

    /// After a flow decision or a CRM look-up: the host's spare maker
    /// drops the decision's store and tops the version's spares up, off
    /// the decision's path (see [`crate::spare`]). A store whose decision
    /// failed is dropped here, at once, as before: a trapped instance may
    /// hold all the memory its tenant may have. So is a store the maker is
    /// too far behind to take; then no spare is asked for either.
    fn recycle<T>(
        &self,
        pinned: &Pinned,
        used: Store<PluginState>,
        outcome: &Result<T, PluginFailure>,
    ) {
        let used = match outcome {
            Ok(_) => Some(used),
            Err(_) => {
                drop(used);
                None
            }
        };
        let refill = pinned
            .spare
            .ask_refill()
            .then(|| (self.clone(), pinned.clone()));
        let asked = refill.is_some();
        if used.is_none() && !asked {
            return;
        }
        let job = self.host().spare_maker().submit(Box::new(move |workshop| {
            drop(used);
            let Some((tenant, pinned)) = refill else {
                return;
            };
            workshop.stocked(&pinned);
            while pinned.spare.wants_more() {
                let held = match tenant.host().spares(pinned.loaded.pool()).hold() {
                    Some(held) => held,
                    None if workshop.take_back_idle(Instant::now()) => continue,
                    None => break,
                };
                let Ok((mut store, instance)) = workshop.block_on(tenant.instantiate(&pinned))
                else {
                    break;
                };
                let flow = match &pinned.exports {
                    RoleExports::Flow(idx) => idx.load(&mut store, &instance).ok(),
                    _ => None,
                };
                let made = Made {
                    store,
                    instance,
                    flow,
                };
                pinned.spare.put(made, held);
            }
            pinned.spare.refilled();
        }));
        if let Err(job) = job {
            drop(job);
            if asked {
                pinned.spare.refilled();
            }
        }
    }

    /// Runs one agent ranking on the version's warm instance when it keeps
    /// one, else on a fresh one, and keeps the instance for the next
    /// ranking if this one went well (see [`crate::warm`]). Limits as for
    /// any invocation: the meters are renewed for every decision.
    async fn ranking<R>(
        &self,
        pinned: &Pinned,
        call: impl AsyncFnOnce(&mut Store<PluginState>, &Instance) -> wasmtime::Result<R>,
    ) -> Result<R, PluginFailure> {
        self.guarded(async {
            let (mut store, instance, history) = match pinned.warm.take(Instant::now()) {
                Some(warm) => {
                    let (mut store, instance, history) = warm.into_parts();
                    store.data_mut().renew();
                    self.arm(&mut store);
                    (store, instance, Some(history))
                }
                None => {
                    let (store, instance) = self.instantiate(pinned).await?;
                    (store, instance, None)
                }
            };
            let r = call(&mut store, &instance).await;
            let out = self.finish(pinned, &mut store, r)?;
            self.host()
                .warm()
                .keep(&pinned.warm, store, instance, history, Instant::now());
            Ok(out)
        })
        .await
    }

    /// The per-invocation budgets the store itself keeps: bytes through
    /// host calls, and the first CPU tick.
    fn arm(&self, store: &mut Store<PluginState>) {
        store.set_hostcall_fuel(self.limits().hostcall_fuel);
        store.set_epoch_deadline(1);
    }

    /// Runs `fut` under the tenant's concurrency cap and wall-clock limit.
    async fn guarded<R>(
        &self,
        fut: impl Future<Output = Result<R, PluginFailure>>,
    ) -> Result<R, PluginFailure> {
        let permits = self.permits().clone();
        let _permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            // At the cap: wait in line, briefly.
            Err(_) => tokio::time::timeout(self.limits().max_queue_wait, permits.acquire_owned())
                .await
                .ok()
                .and_then(Result::ok)
                .ok_or(PluginFailure::Overloaded)?,
        };
        match tokio::time::timeout(self.limits().wall_clock, fut).await {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!(tenant = self.id(), "plugin invocation timed out");
                Err(PluginFailure::Timeout)
            }
        }
    }

    /// Asks a call-flow plugin what to do after `event`. On any `Err`, the
    /// caller runs [`TenantRuntime::fallback_decision`].
    ///
    /// A flow built against `switchyard:plugin@0.1.0` gets the event
    /// converted (`queue-finished` becomes `queue-timeout` or
    /// `queue-overflow`, see [`crate::compat`]); for an event 0.1.0 has no
    /// counterpart for, it is not asked and the answer is "no actions, state
    /// unchanged".
    pub async fn invoke_flow(
        &self,
        pinned: &Pinned,
        call: &CallSnapshot,
        event: &Event,
        state: Option<Vec<u8>>,
    ) -> Result<Decision, PluginFailure> {
        let started = std::time::Instant::now();
        let Some(sink) = self.transcripts() else {
            let result = self
                .decide_flow(pinned, call, event, state, &mut Tape::Off)
                .await;
            self.count_decision(pinned, &result, started);
            return result;
        };
        let mut tape = Tape::Recording(Vec::new());
        let result = self
            .decide_flow(pinned, call, event, state.clone(), &mut tape)
            .await;
        self.count_decision(pinned, &result, started);
        // A decision that timed out or failed to instantiate took its
        // tape with it: its step has no host calls.
        let host_calls = match tape {
            Tape::Recording(calls) => calls,
            _ => Vec::new(),
        };
        sink.record(
            &pinned.name,
            Step {
                at_ms: switchyard_clock::unix_ms(),
                version: pinned.number,
                call: call.clone(),
                event: event.clone(),
                state,
                host_calls,
                outcome: transcript::outcome(&result),
            },
        );
        result
    }

    /// Every decision counts for its version (the canary's figures), and a
    /// canary's may stop it.
    fn count_decision(
        &self,
        pinned: &Pinned,
        result: &Result<Decision, PluginFailure>,
        started: Instant,
    ) {
        self.host().record_decision(
            self.id(),
            &pinned.name,
            pinned.number,
            result.is_ok(),
            started.elapsed(),
        );
        self.judge_canary(pinned);
    }

    /// Runs version `version` of call-flow plugin `plugin` through the
    /// recorded `transcripts` of that plugin (see [`crate::transcript`]):
    /// each call's recorded events in order, each with the recorded call
    /// and host-call answers and the candidate's own state, until its
    /// actions differ from what happened. Nothing is written anywhere and
    /// no figure counts; each decision has the tenant's limits, as a call's.
    pub async fn replay(
        &self,
        plugin: &str,
        version: u32,
        transcripts: &[Transcript],
    ) -> Result<ReplayReport, PluginFailure> {
        let pinned = self.pin_version(plugin, version)?;
        if pinned.world() != World::CallFlow {
            return Err(wrong_world(&pinned, World::CallFlow));
        }
        let mut replays = Vec::new();
        for t in transcripts.iter().filter(|t| t.plugin == plugin) {
            let Some(first) = t.steps.first() else {
                continue;
            };
            let mut call = CallReplay {
                call_id: t.call_id.clone(),
                started_ms: t.started_ms,
                caller: first.call.caller.number.clone(),
                dialled: first.call.dialled.clone(),
                steps_replayed: 0,
                steps_recorded: t.steps.len(),
                difference: None,
            };
            let mut state = first.state.clone();
            for (i, step) in t.steps.iter().enumerate() {
                let mut tape = Tape::replaying(step.host_calls.clone());
                let result = self
                    .decide_flow(&pinned, &step.call, &step.event, state.take(), &mut tape)
                    .await;
                call.steps_replayed = i + 1;
                let candidate = transcript::outcome(&result);
                if !transcript::same_outcome(&step.outcome, &candidate) {
                    let unrecorded_host_calls = match tape {
                        Tape::Replaying { unrecorded, .. } => unrecorded,
                        _ => Vec::new(),
                    };
                    call.difference = Some(Difference {
                        step: i + 1,
                        event: step.event.clone(),
                        recorded: step.outcome.clone(),
                        candidate,
                        unrecorded_host_calls,
                    });
                    break;
                }
                // After a failure the call took the fallback: the recorded
                // state was kept, so the candidate keeps its own.
                state = match result {
                    Ok(d) => d.state,
                    Err(_) => step.state.clone(),
                };
            }
            replays.push(call);
        }
        replays.sort_by_key(|r| std::cmp::Reverse(r.started_ms));
        let differing = replays.iter().filter(|r| r.difference.is_some()).count();
        Ok(ReplayReport {
            plugin: plugin.to_string(),
            candidate_version: version,
            calls: replays.len(),
            same: replays.len() - differing,
            differing,
            replays,
        })
    }

    async fn decide_flow(
        &self,
        pinned: &Pinned,
        call: &CallSnapshot,
        event: &Event,
        state: Option<Vec<u8>>,
        tape: &mut Tape,
    ) -> Result<Decision, PluginFailure> {
        let out = match &pinned.exports {
            RoleExports::Flow(idx) => {
                self.guarded(async {
                    let Made {
                        mut store,
                        instance,
                        flow,
                    } = self.spare_or_fresh(pinned, std::mem::take(tape)).await?;
                    let r = async {
                        let guest = match flow {
                            Some(guest) => guest,
                            None => idx.load(&mut store, &instance)?,
                        };
                        guest
                            .call_handle(&mut store, call, event, state.as_deref())
                            .await
                    }
                    .await;
                    *tape = std::mem::take(&mut store.data_mut().tape);
                    let out = self.finish(pinned, &mut store, r);
                    self.recycle(pinned, store, &out);
                    out
                })
                .await?
            }
            RoleExports::FlowV0_1(idx) => {
                let Some(event) = compat::event_v0_1(event) else {
                    return Ok(Decision {
                        actions: Vec::new(),
                        state,
                    });
                };
                self.guarded(async {
                    let Made {
                        mut store,
                        instance,
                        ..
                    } = self.spare_or_fresh(pinned, std::mem::take(tape)).await?;
                    let r = async {
                        let guest = idx.load(&mut store, &instance)?;
                        guest
                            .call_handle(&mut store, call, &event, state.as_deref())
                            .await
                    }
                    .await;
                    *tape = std::mem::take(&mut store.data_mut().tape);
                    let out = self.finish(pinned, &mut store, r);
                    self.recycle(pinned, store, &out);
                    out
                })
                .await?
                .map(compat::decision)
            }
            _ => return Err(wrong_world(pinned, World::CallFlow)),
        };
        let decision = out.map_err(PluginFailure::PluginError)?;
        output::check_decision(&decision, self.limits())?;
        Ok(decision)
    }

    /// Asks a queue-strategy plugin to order `candidates`. Ids that are not
    /// candidates, and repeats, are dropped. A ranker (0.2.1) gets them as
    /// columns and answers with positions; a strategy built against
    /// `switchyard:plugin@0.1.0` gets the data without the fields 0.2.0
    /// added.
    pub async fn select_agents(
        &self,
        pinned: &Pinned,
        queue: &QueueInfo,
        call: &WaitingCall,
        candidates: &[AgentCandidate],
    ) -> Result<Vec<String>, PluginFailure> {
        if !matches!(pinned.exports, RoleExports::Ranking(_)) {
            return self.select_records(pinned, queue, call, candidates).await;
        }
        let columns = crate::columns::of(candidates);
        let positions = self
            .rank_agents(pinned, queue, call, &columns, || candidates.to_vec())
            .await?;
        Ok(positions
            .into_iter()
            .map(|p| candidates[p as usize].id.clone())
            .collect())
    }

    /// Asks a queue-strategy plugin to order candidates given as columns
    /// (build them with [`crate::candidate_columns`] from whatever holds
    /// them); answers positions in them, best first, without those out of
    /// range and repeats. A ranker (0.2.1) gets the columns as they are;
    /// a strategy that takes records (`select`, 0.2.0 or 0.1.0) gets
    /// `records()` — called only then — and its ids become positions.
    pub async fn rank_agents(
        &self,
        pinned: &Pinned,
        queue: &QueueInfo,
        call: &WaitingCall,
        columns: &CandidateColumns,
        records: impl FnOnce() -> Vec<AgentCandidate>,
    ) -> Result<Vec<u32>, PluginFailure> {
        let n = columns.id_ends.len();
        let positions = match &pinned.exports {
            RoleExports::Ranking(idx) => {
                self.ranking(pinned, async |store, instance| {
                    let guest = idx.load(&mut *store, instance)?;
                    guest.call_rank(store, queue, call, columns).await
                })
                .await?
            }
            _ => {
                let records = records();
                let ids = self.select_records(pinned, queue, call, &records).await?;
                let at: std::collections::HashMap<&str, u32> = records
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (r.id.as_str(), i as u32))
                    .collect();
                ids.iter()
                    .filter_map(|id| at.get(id.as_str()).copied())
                    .collect()
            }
        };
        Ok(crate::columns::valid_positions(n, positions))
    }

    /// `select` of a strategy that takes records (0.2.0 or 0.1.0).
    async fn select_records(
        &self,
        pinned: &Pinned,
        queue: &QueueInfo,
        call: &WaitingCall,
        candidates: &[AgentCandidate],
    ) -> Result<Vec<String>, PluginFailure> {
        let ids = match &pinned.exports {
            RoleExports::Strategy(idx) => {
                self.ranking(pinned, async |store, instance| {
                    let guest = idx.load(&mut *store, instance)?;
                    guest.call_select(store, queue, call, candidates).await
                })
                .await?
            }
            RoleExports::StrategyV0_1(idx) => {
                let queue = compat::queue_info(queue);
                let call = compat::waiting_call(call);
                let candidates: Vec<_> = candidates.iter().map(compat::candidate).collect();
                self.ranking(pinned, async |store, instance| {
                    let guest = idx.load(&mut *store, instance)?;
                    guest.call_select(store, &queue, &call, &candidates).await
                })
                .await?
            }
            _ => return Err(wrong_world(pinned, World::QueueStrategy)),
        };
        // Sets, not list scans: 200 candidates would otherwise cost
        // 80,000 id comparisons; and the plugin's strings are moved into
        // the answer, not copied (first decide which to keep).
        let known: std::collections::HashSet<&str> =
            candidates.iter().map(|c| c.id.as_str()).collect();
        let mut seen: std::collections::HashSet<&str> =
            std::collections::HashSet::with_capacity(ids.len());
        let keep: Vec<bool> = ids
            .iter()
            .map(|id| known.contains(id.as_str()) && seen.insert(id.as_str()))
            .collect();
        Ok(ids
            .into_iter()
            .zip(keep)
            .filter_map(|(id, k)| k.then_some(id))
            .collect())
    }

    /// "Who is calling?" through the tenant's crm-connector: `None` when
    /// there is none, it knows nobody, or it failed (the failure is logged).
    pub async fn crm_lookup(&self, number: &str) -> Option<Contact> {
        match self.try_crm_lookup(number).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(tenant = self.id(), error = %e, "CRM lookup failed");
                None
            }
        }
    }

    /// Like [`Self::crm_lookup`], but says why it failed.
    pub async fn try_crm_lookup(&self, number: &str) -> Result<Option<Contact>, PluginFailure> {
        let pinned = self
            .crm_plugin()
            .ok_or_else(|| PluginFailure::NotInstalled("crm-connector".into()))?;
        let RoleExports::Crm { lookup, .. } = &pinned.exports else {
            return Err(wrong_world(&pinned, World::CrmConnector));
        };
        let out = self
            .guarded(async {
                let Made {
                    mut store,
                    instance,
                    ..
                } = self.spare_or_fresh(&pinned, Tape::Off).await?;
                let r = async {
                    let f = instance
                        .get_typed_func::<(&str,), (Result<Option<Contact>, String>,)>(
                            &mut store, lookup,
                        )?;
                    Ok(f.call_async(&mut store, (number,)).await?.0)
                }
                .await;
                let out = self.finish(&pinned, &mut store, r);
                self.recycle(&pinned, store, &out);
                out
            })
            .await?;
        let contact = out.map_err(PluginFailure::PluginError)?;
        if let Some(c) = &contact {
            output::check_contact(c, self.limits())?;
        }
        Ok(contact)
    }

    /// Records a finished call in the tenant's CRM.
    pub async fn crm_log_call(&self, record: &CallRecord) -> Result<(), PluginFailure> {
        let pinned = self
            .crm_plugin()
            .ok_or_else(|| PluginFailure::NotInstalled("crm-connector".into()))?;
        let RoleExports::Crm { log_call, .. } = &pinned.exports else {
            return Err(wrong_world(&pinned, World::CrmConnector));
        };
        self.guarded(async {
            let (mut store, instance) = self.instantiate(&pinned).await?;
            let r = async {
                let f = instance.get_typed_func::<(&CallRecord,), (Result<(), String>,)>(
                    &mut store, log_call,
                )?;
                Ok(f.call_async(&mut store, (record,)).await?.0)
            }
            .await;
            self.finish(&pinned, &mut store, r)
        })
        .await?
        .map_err(PluginFailure::PluginError)
    }

    /// Hands a finished call to every reporter; one result per reporter.
    pub async fn report_call_record(
        &self,
        record: &CallRecord,
    ) -> Vec<(String, Result<(), PluginFailure>)> {
        let mut results = Vec::new();
        for pinned in self.reporter_plugins() {
            let r = self
                .run_reporter(
                    &pinned,
                    async |guest, store| guest.call_on_call_record(store, record).await,
                    async |guest, store| guest.call_on_call_record(store, record).await,
                )
                .await;
            results.push((pinned.name.clone(), r));
        }
        results
    }

    /// Hands a live call notice to every reporter; one result per reporter.
    pub async fn report_notice(&self, notice: &Notice) -> Vec<(String, Result<(), PluginFailure>)> {
        let mut results = Vec::new();
        for pinned in self.reporter_plugins() {
            let r = self
                .run_reporter(
                    &pinned,
                    async |guest, store| guest.call_on_notice(store, notice).await,
                    async |guest, store| guest.call_on_notice(store, notice).await,
                )
                .await;
            results.push((pinned.name.clone(), r));
        }
        results
    }

    /// Hands an account notice to every reporter that exports
    /// `account-events` (world `billing-reporter`, 0.2.2), under the same
    /// limits as [`Self::report_notice`]. Reporters without it are skipped,
    /// not failed: they were never offered account notices. One result per
    /// reporter told.
    pub async fn report_account_notice(
        &self,
        notice: &AccountNotice,
    ) -> Vec<(String, Result<(), PluginFailure>)> {
        let mut results = Vec::new();
        for pinned in self.reporter_plugins() {
            let RoleExports::Reporter {
                account_events: Some(idx),
                ..
            } = &pinned.exports
            else {
                continue;
            };
            let r = self
                .guarded(async {
                    let (mut store, instance) = self.instantiate(&pinned).await?;
                    let r = async {
                        let guest = idx.load(&mut store, &instance)?;
                        guest.call_on_account_notice(&mut store, notice).await
                    }
                    .await;
                    self.finish(&pinned, &mut store, r)
                })
                .await
                .and_then(|r| r.map_err(PluginFailure::PluginError));
            results.push((pinned.name.clone(), r));
        }
        results
    }

    /// Flushes captured stdio and maps an error to its failure.
    fn finish<T>(
        &self,
        pinned: &Pinned,
        store: &mut Store<PluginState>,
        r: wasmtime::Result<T>,
    ) -> Result<T, PluginFailure> {
        match r {
            Ok(out) => {
                store.data_mut().flush_stdio();
                Ok(out)
            }
            Err(e) => Err(self.classify(pinned, store, e)),
        }
    }

    /// What went wrong, most specific first: the meters the store kept say
    /// more than the trap (a guest whose allocation failed aborts with
    /// `unreachable`; that is an out-of-memory, not a bug).
    fn classify(
        &self,
        v: &Pinned,
        store: &mut Store<PluginState>,
        e: wasmtime::Error,
    ) -> PluginFailure {
        let data = store.data_mut();
        data.flush_stdio();
        let failure = if data.cpu.exceeded {
            PluginFailure::CpuBudgetExceeded
        } else if data.limiter.denied {
            PluginFailure::OutOfMemory
        } else if e
            .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
            .is_some()
        {
            PluginFailure::Overloaded
        } else if format!("{e:#}").contains(HOSTCALL_FUEL_EXHAUSTED) {
            PluginFailure::InvalidOutput(format!(
                "the plugin tried to hand the host more than {} bytes in one call",
                self.limits().hostcall_fuel
            ))
        } else {
            let mut msg = format!("{e:#}");
            if let Some(trap) = e.downcast_ref::<Trap>() {
                msg = format!("{trap}: {msg}");
            }
            PluginFailure::Trap(crate::caps::log::truncate(msg, TRAP_MESSAGE_BYTES))
        };
        tracing::warn!(
            tenant = self.id(),
            plugin = v.name,
            version = v.number,
            %failure,
            "plugin invocation failed"
        );
        failure
    }

    /// Runs a reporter: `call` for a current one, `call_v0_1` for one built
    /// against `switchyard:plugin@0.1.0` (same types, other bindings).
    async fn run_reporter(
        &self,
        pinned: &Pinned,
        call: impl AsyncFnOnce(
            crate::bindings::reporting::Guest,
            &mut Store<PluginState>,
        ) -> wasmtime::Result<Result<(), String>>,
        call_v0_1: impl AsyncFnOnce(
            crate::bindings::v0_1::reporting::Guest,
            &mut Store<PluginState>,
        ) -> wasmtime::Result<Result<(), String>>,
    ) -> Result<(), PluginFailure> {
        if !matches!(
            pinned.exports,
            RoleExports::Reporter { .. } | RoleExports::ReporterV0_1(_)
        ) {
            return Err(wrong_world(pinned, World::Reporter));
        }
        self.guarded(async {
            let (mut store, instance) = self.instantiate(pinned).await?;
            let r = async {
                match &pinned.exports {
                    RoleExports::Reporter { reporting, .. } => {
                        let guest = reporting.load(&mut store, &instance)?;
                        call(guest, &mut store).await
                    }
                    RoleExports::ReporterV0_1(idx) => {
                        let guest = idx.load(&mut store, &instance)?;
                        call_v0_1(guest, &mut store).await
                    }
                    // Checked above.
                    _ => Err(wasmtime::format_err!("not a reporter")),
                }
            }
            .await;
            self.finish(pinned, &mut store, r)
        })
        .await?
        .map_err(PluginFailure::PluginError)
    }
}
