import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as f from '../src/flow.js';
import * as destination from '../src/destination.js';

test('builders give the shapes jco expects', () => {
  assert.deepEqual(f.gather(['menu', { say: 'Hi' }], { maxDigits: 4, finishOnKey: '#' }), {
    tag: 'gather',
    val: {
      prompts: [{ tag: 'file', val: 'menu' }, { tag: 'say', val: 'Hi' }],
      maxDigits: 4,
      finishOnKey: '#',
      firstDigitTimeoutMs: 5000,
      interDigitTimeoutMs: 3000,
    },
  });
  assert.deepEqual(f.dial(['1002', f.ringGroup('sales')], { ringTimeoutSecs: 20 }).val.targets, [
    { tag: 'extension', val: '1002' },
    { tag: 'ring-group', val: 'sales' },
  ]);
  assert.equal(f.enqueue('vip', { priority: 300 }).val.priority, 255);
});

test('defineCallFlow keeps JSON state and turns throws into err strings', () => {
  const flow = f.defineCallFlow((_call, event, state) => {
    if (event.tag === 'gather-timeout') throw new Error('boom');
    return { actions: [f.answer()], state: { n: (state?.n ?? 0) + 1 } };
  });
  const d1 = flow.handle({}, { tag: 'call-started' }, undefined);
  const d2 = flow.handle({}, { tag: 'call-started' }, d1.state);
  assert.equal(new TextDecoder().decode(d2.state), '{"n":2}');
  assert.throws(() => flow.handle({}, { tag: 'gather-timeout' }, undefined), (e) => e === 'boom');
  assert.deepEqual(f.defineCallFlow(() => [f.hangup()]).handle({}, { tag: 'call-started' }), {
    actions: [{ tag: 'hangup' }],
    state: undefined,
  });
});

test('destinations read as the Rust SDK reads them', () => {
  assert.deepEqual(destination.action({ queue: { name: 'support', skills: ['it'], 'timeout-secs': 60 } }), f.enqueue('support', { skills: ['it'], timeoutSecs: 60 }));
  assert.deepEqual(destination.action('hangup'), f.hangup());
  assert.deepEqual(destination.action({ 'ring-group': 'ops' }, 25), f.dial([f.ringGroup('ops')], { ringTimeoutSecs: 25 }));
  assert.equal(destination.mailbox({ 'ring-group': 'ops' }), 'ops');
  assert.throws(() => destination.check({ teleport: 'x' }, 'option 1'), /option 1/);
});
