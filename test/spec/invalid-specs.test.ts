// Each fixture in test/fixtures/spec/invalid/ is a broken spec that ends with the exact
// diagnostics `alignrun validate` must print for it (`# expect: line:col: path: message`).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { formatDiagnostic } from '../../src/spec/diagnostics';
import { validateSpec } from '../../src/spec/validate';

const fixtures = resolve('test/fixtures/spec');
const dir = join(fixtures, 'invalid');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

test('there are at least 40 invalid-spec fixtures', () => {
  assert.ok(files.length >= 40, `only ${files.length} fixtures`);
});

for (const name of files) {
  test(`invalid spec ${name}`, () => {
    const path = join(dir, name);
    const expected = readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('# expect: '))
      .map((l) => l.slice('# expect: '.length).replaceAll('<fixtures>', fixtures));
    assert.ok(expected.length > 0, `${name} has no '# expect:' line`);
    const file = relative(process.cwd(), path);
    const { result, diagnostics } = validateSpec(file);
    assert.equal(result, undefined, 'an invalid spec must not validate');
    const got = diagnostics.map((d) => formatDiagnostic(d).slice(file.length + 1));
    assert.deepEqual(got, expected);
  });
}
