import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadModel } from '../../src/train/ir';
import { addLora } from '../../src/train/lora';
import {
  globToRegExp,
  LoraTargetError,
  matchesModule,
  moduleWeights,
  resolveLoraTargets,
} from '../../src/train/module-names';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'sd-tiny');
const LAYOUTS = ['pipeline', 'conversion', 'optimum'] as const;
const ATTENTION = ['to_q', 'to_k', 'to_v', 'to_out.0'];

const unet = (layout: string) => loadModel(join(FIXTURE, layout, 'unet', 'model.onnx'));
const golden = <T>(name: string): T => JSON.parse(readFileSync(join(FIXTURE, 'golden', name), 'utf8')) as T;

/** The torch modules of diffusers' LoRA file for rank 4 on to_q, to_k, to_v, to_out.0. */
function goldenLoraModules(): Set<string> {
  const { keys } = golden<{ keys: Record<string, number[]> }>('lora-keys.json');
  return new Set(
    Object.keys(keys).map((k) => k.replace(/^unet\./, '').replace(/\.lora\.(up|down)\.weight$/, '')),
  );
}

for (const layout of LAYOUTS) {
  test(`moduleWeights names every MatMul/Gemm/Conv weight as torch does (${layout})`, () => {
    const { map } = golden<{ map: Record<string, { param: string; transposed: boolean }> }>(
      `param-map-${layout}.json`,
    );
    const weights = moduleWeights(unet(layout));
    const counts = { MatMul: 0, Gemm: 0, Conv: 0 };
    for (const w of weights) {
      counts[w.op]++;
      const want = map[w.initializer];
      assert.ok(want, `${w.initializer} is in the golden map`);
      assert.equal(w.param, want.param, w.initializer);
      assert.equal(`${w.module}.weight`, want.param);
      assert.equal(w.transposed, want.transposed, `${w.initializer} transposed`);
      assert.ok(w.adaptable);
    }
    // 32 attention projections + 8 feed-forward linears; 10 Gemm linears; 33 convs.
    assert.deepEqual(counts, { MatMul: 40, Gemm: 10, Conv: 33 });
    assert.equal(weights.filter((w) => w.transposed).length, 40);
  });

  test(`peft-style targets resolve to the attention projections of diffusers' LoRA (${layout})`, () => {
    const model = unet(layout);
    const byInit = new Map(moduleWeights(model).map((w) => [w.initializer, w.module]));
    const modules = (names: string[]) => new Set(names.map((n) => byInit.get(n)));
    const want = goldenLoraModules();
    assert.equal(want.size, 32);
    assert.deepEqual(modules(resolveLoraTargets(model, ATTENTION)), want);
    assert.deepEqual(modules(resolveLoraTargets(model, ['*attn*'])), want);
    assert.deepEqual(modules(resolveLoraTargets(model, ['*.attn?.to_[qkv]', '*.to_out.?'])), want);
    const down = modules(resolveLoraTargets(model, ['down_blocks.*.attentions.*']));
    assert.equal(down.size, 12); // proj_in, 8 projections, ff.net.0.proj, ff.net.2, proj_out
    assert.ok([...down].every((m) => m!.startsWith('down_blocks.0.attentions.0.')));
    // Suffix means whole segments: 'q' is not 'to_q'; 'conv1' matches every resnet's conv1.
    assert.throws(() => resolveLoraTargets(model, ['q']), LoraTargetError);
    assert.equal(resolveLoraTargets(model, ['conv1']).length, 8);
  });

  test(`legacy initializer-name globs still select weights (${layout})`, () => {
    const model = unet(layout);
    assert.equal(resolveLoraTargets(model, ['onnx::MatMul_*']).length, 40);
    assert.deepEqual(resolveLoraTargets(model, ['time_embedding.linear_1.weight']), [
      'time_embedding.linear_1.weight',
    ]);
    assert.equal(resolveLoraTargets(model, ['*']).length, 83);
  });
}

test('an unmatched target fails with one sentence naming the patterns and some modules', () => {
  const model = unet('pipeline');
  assert.throws(
    () => resolveLoraTargets(model, ['to_qq', 'mlp.*']),
    (e: unknown) => {
      assert.ok(e instanceof LoraTargetError);
      const msg = e.message;
      assert.match(msg, /"to_qq", "mlp\.\*"/);
      assert.match(msg, /down_blocks\.0\.attentions\.0\.transformer_blocks\.0\.attn1\.to_q\b/);
      assert.equal(e.available.length, 8);
      assert.ok(!/\n/.test(msg) && msg.endsWith('.') && msg.split(/\.\s+[A-Z]/).length === 1, msg);
      assert.ok(!msg.includes('=>'), 'no predicate source');
      return true;
    },
  );
});

test('resolved targets plug into addLora', () => {
  const model = unet('pipeline');
  const names = new Set(resolveLoraTargets(model, ATTENTION));
  const lora = addLora(model, { match: (n) => names.has(n), rank: 4 });
  assert.equal(lora.adapters.length, 32);
  assert.deepEqual(new Set(lora.adapters.map((a) => a.target)), names);
});

test('globs follow fnmatch: * crosses dots, ? is one character, [seq] a set', () => {
  assert.ok(globToRegExp('down_blocks.*.to_q').test('down_blocks.0.attentions.0.to_q'));
  assert.ok(!globToRegExp('down_blocks.?.to_q').test('down_blocks.10.to_q'));
  assert.ok(globToRegExp('to_[qk]').test('to_k') && !globToRegExp('to_[!qk]').test('to_k'));
  assert.ok(globToRegExp('a+b(c)').test('a+b(c)'));
  assert.ok(matchesModule('a.attn1.to_out.0', 'to_out.0'));
  assert.ok(matchesModule('to_q', 'to_q'));
  assert.ok(!matchesModule('a.xto_q', 'to_q'));
});
