// scripts/setup.sh: idempotent, and one clear sentence when Python is missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const setup = (env: Record<string, string>) =>
  spawnSync('bash', ['scripts/setup.sh'], { encoding: 'utf8', env: { ...process.env, ...env } });

test('a second run of setup is a silent no-op', () => {
  const r = setup({});
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout + r.stderr, '');
});

test('without python3, setup says what to install in one sentence', () => {
  const r = setup({
    PYTHON: 'python3-that-does-not-exist',
    ALIGNRUN_VENV: join(mkdtempSync(join(tmpdir(), 'venv-')), 'v'),
  });
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^alignrun setup: python3 .* is not installed; install it .*and run this again\.$/);
});
