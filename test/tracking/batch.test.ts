import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BATCH_LIMITS, splitLogBatch, type KeyValue, type Metric } from '../../src/tracking/batch';

const metrics = (n: number): Metric[] =>
  Array.from({ length: n }, (_, i) => ({
    key: `m${i % 7}`,
    value: i,
    timestamp: 1_700_000_000_000 + i,
    step: i,
  }));
const params = (n: number, size = 4): KeyValue[] =>
  Array.from({ length: n }, (_, i) => ({ key: `p${i}`, value: 'x'.repeat(size) }));

test('2,500 metrics and 250 params split within every count limit, in order, losing nothing', () => {
  const parts = splitLogBatch({ metrics: metrics(2500), params: params(250) });
  for (const p of parts) {
    assert.ok(p.metrics.length <= BATCH_LIMITS.metrics);
    assert.ok(p.params.length <= BATCH_LIMITS.params);
    assert.ok(p.metrics.length + p.params.length + p.tags.length <= BATCH_LIMITS.entities);
  }
  assert.deepEqual(
    parts.flatMap((p) => p.metrics),
    metrics(2500),
  );
  assert.deepEqual(
    parts.flatMap((p) => p.params),
    params(250),
  );
  assert.equal(parts.length, 5); // 1000 + 1000 + (500 metrics, 100 params) + 100 + 50
});

test('large param values split by the 1 MB request limit', () => {
  const big = params(100, 6000).concat(params(100, 6000).map((p) => ({ ...p, key: `q${p.key}` })));
  const parts = splitLogBatch({ tags: big.slice(0, 100), params: big.slice(100) });
  for (const p of parts) {
    const body = JSON.stringify({ run_id: 'f'.repeat(32), ...p });
    assert.ok(Buffer.byteLength(body) <= BATCH_LIMITS.bytes, `request of ${body.length} bytes`);
  }
  assert.ok(parts.length >= 2);
  assert.equal(parts.flatMap((p) => [...p.params, ...p.tags]).length, 200);
});

test('an empty batch gives no request', () => {
  assert.deepEqual(splitLogBatch({}), []);
});
