// `alignrun sample` as a researcher reproducing a diffusers run uses it: the run's initial latents
// in, images and final latents out as .npy, compared with diffusers' own outputs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readNpy } from '../../src/model/npy';

const GOLD = 'test/fixtures/sd-tiny/golden';
const scratch = mkdtempSync(join(tmpdir(), 'alignrun-sample-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const sample = (...args: string[]) =>
  spawnSync(process.execPath, ['bin/alignrun.js', 'sample', ...args], { encoding: 'utf8', timeout: 120_000 });

test('sample reproduces a diffusers run from its initial latents', () => {
  const out = join(scratch, 'run');
  const r = sample(
    'test/fixtures/sd-tiny/optimum',
    '--prompt',
    'a red cube on a blue floor',
    '--prompt',
    'two green spheres',
    '--latents',
    join(GOLD, 'init_latents.npy'),
    '--scheduler',
    'dpmpp_2m',
    '--steps',
    '8',
    '--guidance',
    '7.5',
    '--out',
    out,
  );
  assert.equal(r.status, 0, r.stderr);
  for (const [ours, ref] of [
    ['images.npy', 'gen-dpmpp_2m-g7.5-image.npy'],
    ['latents.npy', 'gen-dpmpp_2m-g7.5-latents.npy'],
  ]) {
    const a = readNpy(join(out, ours));
    const b = readNpy(join(GOLD, ref));
    assert.deepEqual(a.shape, b.shape);
    const worst = a.data.reduce((m, v, i) => Math.max(m, Math.abs(v - b.data[i])), 0);
    assert.ok(worst <= 1e-4, `${ours} differs from diffusers by ${worst}`);
  }
  assert.ok(existsSync(join(out, '0.png')) && existsSync(join(out, '1.png')));
});

test('sample refuses latents of the wrong count or shape, and a missing file, in one sentence', () => {
  const cases: [string[], RegExp][] = [
    [['--prompt', 'x'], /holds 2 latents \(shape 2x4x16x16\) for 1 prompt\(s\); give one per prompt/],
    [
      ['--prompt', 'x', '--prompt', 'y', '--height', '64', '--width', '64'],
      /holds 4x16x16 latents; .* samples 4x32x32/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const r = sample(
      'test/fixtures/sd-tiny/optimum',
      ...args,
      '--latents',
      join(GOLD, 'init_latents.npy'),
      '--out',
      join(scratch, 'bad'),
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr.trim(), pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const r = sample(
    'test/fixtures/sd-tiny/optimum',
    '--prompt',
    'x',
    '--latents',
    join(scratch, 'none.npy'),
    '--out',
    join(scratch, 'bad'),
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /none\.npy cannot be read \(ENOENT\)/);
});
