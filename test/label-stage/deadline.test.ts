// The deadline policy of a human label stage: at a short deadline, enough images at quorum lets the
// experiment proceed with what there is; too few with on_deadline 'fail' fails the stage with a
// sentence saying so; no labels at all is an error even when the policy is to proceed.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LabelStore } from '../../src/labels/store';
import type { TrialResult } from '../../src/runtime/protocol';
import {
  publishedTask,
  readLabels,
  spec,
  startHarness,
  startSpec,
  type Harness,
  type Started,
} from './harness';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

const human = (deadline: string, minFraction: number, onDeadline: string) => `    kind: label
    images: generate
    quorum: 1
    source: { type: human, deadline: ${deadline}, min_fraction: ${minFraction}, on_deadline: ${onDeadline} }`;

/** The whole chain of messages of a failed run, innermost last. */
async function failure(run: Started): Promise<string> {
  const err = await run.handle.result().then(
    () => assert.fail('the experiment should have failed'),
    (e: unknown) => e,
  );
  const parts: string[] = [];
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e)
    parts.push(e.message ?? '');
  return parts.join(' | ');
}

test('deadline: proceeds at min_fraction, fails below it with on_deadline fail, errors on no labels', async () => {
  // Generate once, so the three label stages below share the cached images.
  await (await startSpec(h, spec(), 'label-deadline-gen')).handle.result();
  const store = new LabelStore(join(h.ts.stateDir, 'labels.db'));
  try {
    const alice = store.addRater('alice').rater.id;
    const [enough, short, none] = await Promise.all([
      startSpec(h, spec(human('10s', 0.7, 'fail')), 'label-deadline-enough'),
      startSpec(h, spec(human('10s', 0.9, 'fail')), 'label-deadline-short'),
      startSpec(h, spec(human('10s', 0.5, 'proceed')), 'label-deadline-none'),
    ]);
    const label = async (run: Started, n: number) => {
      await publishedTask(store, run.task, run);
      const images = store.taskImages(run.task).slice(0, n);
      store.recordLabels(
        images.map((im, i) => ({
          task: run.task,
          image: im.id,
          rater: alice,
          value: i % 3 ? 'good' : 'bad',
        })),
      );
      return images.map((im) => im.id);
    };
    const [labelled] = await Promise.all([
      label(enough, 8),
      label(short, 2),
      publishedTask(store, none.task, none),
    ]);

    // 8 of 10 at quorum >= 0.7: the stage proceeds with those 8 at the deadline.
    const result = (await enough.handle.result()) as TrialResult;
    assert.equal(result.stages.generate.cached, true);
    const records = await readLabels(h, result);
    assert.deepEqual(records.map((r) => r.image).sort(), [...labelled].sort());
    assert.deepEqual(
      records.map((r) => r.label),
      records.map((r) => (r.raters.alice === 'good' ? 1 : 0)),
    );
    assert.equal(result.stages.label.metrics.complete, 8);
    assert.equal(result.stages.label.metrics.images, 10);
    assert.equal(store.getTask(enough.task)!.status, 'closed');

    // 2 of 10 < 0.9 with on_deadline fail: the stage fails, naming the shortfall.
    assert.match(
      await failure(short),
      /Label stage 'label': Labelling task 'label-[0-9a-f]{16}' reached its deadline with 2 of 10 images \(20%\) at the quorum of 1 label, below min_fraction 0\.9; label more images, lower min_fraction or set on_deadline to extend\./,
    );
    // Proceeding with nothing is still an error: the reward stage would have nothing to learn from.
    assert.match(await failure(none), /Label stage 'label': none of the 10 images got a good or bad label/);
  } finally {
    store.close();
  }
});
