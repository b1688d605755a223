import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flattenParams, standardTags, truncateParamValue, TAGS } from '../../src/tracking/params';
import { sharedTrialParams } from '../../src/tracking/run-tracking';

test('a nested spec flattens to dotted keys with string values', () => {
  const spec = {
    name: 'quickstart',
    seed: 7,
    stages: { reward: { lambda: 0.5, temperature: 1, frozen: false }, finetune: { beta: null } },
    prompts: ['a red cube', { text: 'two balls', count: 2 }],
    tags: [],
    extra: {},
    skipped: undefined,
  };
  assert.deepEqual(flattenParams(spec), [
    { key: 'name', value: 'quickstart' },
    { key: 'seed', value: '7' },
    { key: 'stages.reward.lambda', value: '0.5' },
    { key: 'stages.reward.temperature', value: '1' },
    { key: 'stages.reward.frozen', value: 'false' },
    { key: 'stages.finetune.beta', value: 'null' },
    { key: 'prompts.0', value: 'a red cube' },
    { key: 'prompts.1.text', value: 'two balls' },
    { key: 'prompts.1.count', value: '2' },
    { key: 'tags', value: '[]' },
    { key: 'extra', value: '{}' },
  ]);
  assert.deepEqual(flattenParams({ lr: 1e-4 }, 'trial'), [{ key: 'trial.lr', value: '0.0001' }]);
});

test('keys become valid MLflow names and stay unique', () => {
  const params = flattenParams({ 'a@b': 1, 'a#b': 2, 'models//sd': 3, ['k'.repeat(300)]: 4 });
  const keys = params.map((p) => p.key);
  assert.equal(new Set(keys).size, 4);
  for (const k of keys) {
    assert.match(k, /^[\w.\- :/]+$/);
    assert.ok(k.length <= 250);
    assert.doesNotMatch(k, /\/\/|\/$/);
  }
  assert.equal(keys[0], 'a_b');
  assert.match(keys[1], /^a_b-[0-9a-f]{8}$/);
  assert.equal(keys[2], 'models/sd');
});

test('long values are cut to 6,000 code points', () => {
  const emoji = '🎨'.repeat(7000);
  const cut = truncateParamValue(emoji);
  assert.equal(Array.from(cut).length, 6000);
  assert.ok(cut.endsWith('…'));
  assert.equal(truncateParamValue('short'), 'short');
  assert.equal(flattenParams({ v: 'x'.repeat(6001) })[0].value.length, 6000);
});

test('standard tags name the workflow, plan, commit and version', () => {
  const tags = standardTags({
    workflowId: 'wf-1',
    planHash: 'abc',
    gitCommit: 'deadbeef',
    alignrunVersion: '9.9.9',
  });
  assert.deepEqual(tags, [
    { key: TAGS.workflowId, value: 'wf-1' },
    { key: TAGS.planHash, value: 'abc' },
    { key: TAGS.gitCommit, value: 'deadbeef' },
    { key: TAGS.version, value: '9.9.9' },
  ]);
  const defaults = Object.fromEntries(standardTags().map((t) => [t.key, t.value]));
  assert.equal(defaults[TAGS.version], '0.1.0');
  assert.match(defaults[TAGS.gitCommit], /^[0-9a-f]{40}$/);
});

test("a sweep run's params are the values every trial shares, flattened once and for all", () => {
  const spec = {
    seed: 7,
    stages: { reward: { lambda: 0.5, epochs: 3 }, finetune: { beta: 1, lora: { rank: 4 } } },
    prompts: ['a', 'b'],
  };
  const shared = sharedTrialParams(spec, [
    { 'stages.reward.lambda': 0, 'stages.finetune.beta': 2, 'stages.finetune.lora': { rank: 8 } },
    { 'stages.reward.lambda': 1, 'stages.finetune.beta': 2, 'stages.finetune.lora': { rank: 16 } },
  ]);
  // lambda (swept; the default 0.5 is used by no trial) and the nested swept rank are left out;
  // beta, the same in both trials though swept, is kept with the trials' value.
  assert.deepEqual(shared, {
    seed: '7',
    'stages.reward.epochs': '3',
    'stages.finetune.beta': '2',
    'prompts.0': 'a',
    'prompts.1': 'b',
  });
  assert.deepEqual(
    flattenParams(shared),
    Object.entries(shared).map(([key, value]) => ({ key, value })),
  );
  assert.equal(sharedTrialParams(spec, []), spec, 'no trials: the spec');
});
