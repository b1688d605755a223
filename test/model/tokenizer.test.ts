import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadTokenizer, TokenizerError } from '../../src/model/tokenizer';

const fixtures = fileURLToPath(new URL('../fixtures/model/', import.meta.url));
const reference = JSON.parse(readFileSync(join(fixtures, 'tokenizer-ids.json'), 'utf8')) as {
  generator: string;
  maxLength: number;
  cases: { text: string; ids: number[] }[];
};
const scratch = mkdtempSync(join(tmpdir(), 'alignrun-tok-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

// SD 1.5 exports ship only vocab.json + merges.txt.
const bpeOnly = join(scratch, 'bpe-only');
cpSync(join(fixtures, 'clip-subset'), bpeOnly, { recursive: true });
rmSync(join(bpeOnly, 'tokenizer.json'));

for (const [label, dir] of [
  ['vocab.json + merges.txt', bpeOnly],
  ['tokenizer.json', join(fixtures, 'clip-subset')],
] as const) {
  test(`CLIP ids from ${label} match ${reference.generator}`, () => {
    const tok = loadTokenizer(dir);
    assert.equal(tok.maxLength, 77);
    assert.equal(tok.padId, 49407);
    for (const c of reference.cases) {
      assert.deepEqual(tok.encode(c.text), c.ids, JSON.stringify(c.text));
    }
  });
}

test('maxLength comes from tokenizer_config.json, or the caller', () => {
  const dir = join(scratch, 'short');
  cpSync(bpeOnly, dir, { recursive: true });
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 8, pad_token: '!' }));
  const tok = loadTokenizer(dir);
  assert.equal(tok.maxLength, 8);
  assert.equal(tok.padId, 0); // "!" is CLIP's first byte symbol, SD 2's padding token
  assert.deepEqual(tok.encode('a red circle'), [49406, 320, 736, 7117, 49407, 0, 0, 0]);
  assert.deepEqual(
    tok.encode('a red circle on a blue background'),
    [49406, 320, 736, 7117, 525, 320, 1746, 49407],
  );
  assert.equal(loadTokenizer(dir, { maxLength: 5 }).encode('x').length, 5);
});

test('a folder without tokenizer files gives one sentence naming it', () => {
  const dir = join(scratch, 'empty');
  cpSync(bpeOnly, dir, { recursive: true });
  rmSync(join(dir, 'merges.txt'));
  assert.throws(
    () => loadTokenizer(dir),
    (err: Error) => {
      assert.ok(err instanceof TokenizerError);
      assert.match(err.message, /has neither tokenizer\.json nor vocab\.json \+ merges\.txt/);
      assert.ok(err.message.includes(dir));
      return true;
    },
  );
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\na b c\n');
  assert.throws(() => loadTokenizer(dir), /merges\.txt:2: expected two symbols/);
});
