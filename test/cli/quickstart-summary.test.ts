// The quickstart's closing table, from a trial's stage metrics (pure formatting; the run itself is
// covered by the workflow tests and the quickstart).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summary } from '../../src/cli/quickstart';
import type { TrialResult } from '../../src/runtime/protocol';

const stage = (metrics: Record<string, number>) => ({ artifacts: {}, metrics, cached: false });

test('summary prints alignment, both fidelity measures and the gains; missing values are a dash', () => {
  const e: Record<string, number> = {
    'base.seen.alignment': 0.336,
    'finetune.seen.alignment': 0.367,
    'base.unseen.alignment': 0.227,
    'finetune.unseen.alignment': 0.295,
    'base.seen.well_formed': 0.695,
    'finetune.seen.well_formed': 0.711,
    'base.seen.frechet': 0.00331,
    'finetune.seen.frechet': 0.00572,
    'base.unseen.frechet': 0.0035,
    alignment_gain_seen: 1.0923,
    alignment_gain_unseen: 1.2996,
  };
  const result = {
    trialId: 't',
    stages: { evaluate: stage(e), reward: stage({ accuracy: 0.745, auc: 0.7531 }) },
  } as unknown as TrialResult;
  const lines = summary(result, 'models/tiny-loose').split('\n');
  const cells = (label: string) => {
    const line = lines.map((l) => l.trimStart()).find((l) => l.startsWith(label));
    assert.ok(line, `no row '${label}' in:\n${lines.join('\n')}`);
    return line.slice(label.length).trim().split(/\s+/);
  };
  assert.deepEqual(cells('alignment: all'), ['33.6%', '36.7%', '22.7%', '29.5%']);
  assert.deepEqual(cells('well-formed (fidelity)'), ['69.5%', '71.1%', '-', '-']);
  assert.deepEqual(cells('distance to rendered'), ['0.0033', '0.0057', '0.0035', '-']);
  assert.match(lines[0], /base = models\/tiny-loose,/);
  assert.ok(lines.includes('alignment gain: seen 1.09x, unseen 1.30x'));
  assert.ok(lines.includes('reward model: held-out accuracy 74.5%, AUC 0.753'));
});
