// Loading a verb: a verb whose own module is absent is "not available in this build yet", but a
// module the verb imports being absent is a broken build, reported by the name of what is missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';

// A copy of the CLI's sources to break, with this checkout's packages.
const tree = mkdtempSync(join(tmpdir(), 'alignrun-main-'));
after(() => rmSync(tree, { recursive: true, force: true }));
for (const part of ['bin', 'src', 'package.json'])
  cpSync(resolve(part), join(tree, part), { recursive: true });
symlinkSync(resolve('node_modules'), join(tree, 'node_modules'));
rmSync(join(tree, 'src/cli/validate.ts'));
rmSync(join(tree, 'src/util/table.ts'));

const alignrun = (...args: string[]) => {
  const r = spawnSync(process.execPath, [join(tree, 'bin/alignrun.js'), ...args], {
    cwd: tree,
    encoding: 'utf8',
  });
  return { code: r.status, err: r.stderr };
};

test('a verb whose module this build lacks is reported as not available', () => {
  const r = alignrun('validate', 'spec.yaml');
  assert.equal(r.err.trim(), "alignrun: 'validate' is not available in this build yet.");
  assert.equal(r.code, 2);
});

test('a module the verb imports being missing is named, not hidden', () => {
  const r = alignrun('plan', 'spec.yaml');
  assert.equal(
    r.err.trim(),
    `alignrun: 'plan' cannot start: Cannot find module '${join(tree, 'src/util/table')}' imported from ${join(tree, 'src/cli/plan.ts')}.`,
  );
  assert.equal(r.code, 1);
});
