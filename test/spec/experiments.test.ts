// Every runnable example in experiments/ must validate: it is what new users copy from.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { formatDiagnostic, isError } from '../../src/spec/diagnostics';
import { validateSpec } from '../../src/spec/validate';

const files = readdirSync('experiments').filter((f) => f.endsWith('.yaml'));

test('experiments/ holds the quickstart, a sweep and a human-labelling spec', () => {
  for (const f of ['quickstart.yaml', 'ablation-sweep.yaml', 'human-labels.yaml'])
    assert.ok(files.includes(f), f);
});

for (const f of files) {
  test(`experiments/${f} validates`, () => {
    const { result, diagnostics } = validateSpec(`experiments/${f}`);
    const errors = diagnostics.filter(isError).map(formatDiagnostic);
    assert.deepEqual(errors, []);
    assert.ok(result);
    // Only model/data folders that live on GPU machines may be missing here.
    for (const d of diagnostics) assert.match(d.message, /does not exist here/, formatDiagnostic(d));
  });
}
