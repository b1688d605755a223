// The results pages (docs/results/*.md) stay honest: each names its question, spec, command, commit and
// date; every commit it names exists; every repository path it names exists and every spec it names
// validates (so its commands still point at something that runs); and no relative link in README.md or
// docs/ points at a missing file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatDiagnostic, isError } from '../src/spec/diagnostics';
import { validateSpec } from '../src/spec/validate';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(ROOT, 'docs', 'results');
const INDEX = 'README.md';
const FIELDS = ['Question', 'Spec', 'Command', 'Commit', 'Date'] as const;
/** Where a path a page names must start to be checked as a repository path. */
const PATH_ROOTS = ['experiments', 'scripts', 'models', 'test', 'src', 'bench'];

const pages = readdirSync(RESULTS)
  .filter((f) => f.endsWith('.md') && f !== INDEX)
  .sort();
const read = (file: string) => readFileSync(file, 'utf8');

/** Every Markdown file of docs/, recursively. */
function markdownUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownUnder(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
  );
}

/** The page's `- **Field:** value` header lines (before its first `##` section). */
function headerFields(text: string): Map<string, string> {
  const head = text.split(/^## /m)[0];
  const fields = new Map<string, string>();
  for (const m of head.matchAll(/^- \*\*([A-Za-z]+):\*\*[ \t]*(.*)$/gm)) fields.set(m[1], m[2].trim());
  return fields;
}

/** The text of every fenced code block and every inline code span (spans may run over a line break). */
function codeTexts(text: string): string[] {
  const out: string[] = [];
  const prose = text.replace(/^(```|~~~)[^\n]*\n([\s\S]*?)^\1[ \t]*$/gm, (_m, _fence, body: string) => {
    out.push(body);
    return '';
  });
  for (const m of prose.matchAll(/(`+)([\s\S]+?)\1/g)) out.push(m[2]);
  return out;
}

/** Markdown with its code blocks and code spans removed, so that links are only looked for in prose. */
function withoutCode(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '').replace(/(`+)[\s\S]+?\1/g, '');
}

const PATH_RE = new RegExp(
  String.raw`(?<![\w./-])(?:\.\./)*((?:${PATH_ROOTS.join('|')})/[^\s\`"'(),;:<>{}\[\]|]*)`,
  'g',
);
/** Repository paths named in code: `experiments/x.yaml`, `../models/tiny` (a spec's relative path). */
function repoPaths(code: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(PATH_RE)) {
    const next = code[m.index + m[0].length];
    if (next === '<' || next === '{') continue; // a placeholder such as experiments/<file>
    const path = m[1].replace(/[.]+$/, '').replace(/\/+$/, '');
    if (path.split('/').length > 1 && path.split('/')[1] !== '') out.push(path);
  }
  return out;
}

/** Whether a path exists; a `*` in its last part must match at least one entry of its folder. */
function pathExists(path: string): boolean {
  if (!path.includes('*')) return existsSync(join(ROOT, path));
  const dir = dirname(path);
  if (dir.includes('*') || !existsSync(join(ROOT, dir))) return false;
  const re = new RegExp(
    '^' +
      basename(path)
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
  );
  return readdirSync(join(ROOT, dir)).some((f) => re.test(f));
}

/** File names of the working tree that git tracks or would track (not the ignored ones). */
let knownNames: Set<string> | undefined;
function fileNames(): Set<string> {
  if (!knownNames) {
    const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    knownNames = new Set(
      listed
        .split('\n')
        .filter(Boolean)
        .map((f) => basename(f)),
    );
  }
  return knownNames;
}

/** Bare file names in code (`loose-lr.json`, `feedback-loose.yaml`): arms files and specs named without their folder. */
function bareNames(code: string): string[] {
  return [...code.matchAll(/(?<![\w./<>-])([\w-][\w.-]*\.(?:json|yaml|ts|py))(?![\w/-])/g)].map((m) => m[1]);
}

function gitAvailable(): boolean {
  try {
    execFileSync('git', ['rev-parse', '--git-dir'], { cwd: ROOT, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('docs/results holds pages and an index that links each of them', () => {
  assert.ok(pages.length > 0, 'no results pages under docs/results');
  const index = read(join(RESULTS, INDEX));
  const missing = pages.filter((p) => !index.includes(`](${p})`));
  assert.deepEqual(missing, [], `docs/results/${INDEX} does not link: ${missing.join(', ')}`);
});

test('every results page has a title and the Question, Spec, Command, Commit and Date fields', () => {
  const problems: string[] = [];
  for (const page of pages) {
    const text = read(join(RESULTS, page));
    if (!/^# \S/.test(text)) problems.push(`${page}: does not start with a '# ' title`);
    if (!/^## Result\b/m.test(text)) problems.push(`${page}: has no '## Result' section`);
    const fields = headerFields(text);
    for (const f of FIELDS) {
      if (!fields.get(f)) problems.push(`${page}: no '- **${f}:**' field (or it is empty)`);
    }
    const date = fields.get('Date');
    if (date && !/\b\d{4}-\d{2}-\d{2}\b/.test(date) && !date.startsWith('not recorded'))
      problems.push(`${page}: Date '${date}' is neither YYYY-MM-DD nor 'not recorded'`);
    const commit = fields.get('Commit');
    if (commit && !commit.startsWith('not recorded') && !/`[0-9a-f]{7,40}`/.test(commit))
      problems.push(`${page}: Commit '${commit}' names no commit in backticks and is not 'not recorded'`);
  }
  assert.deepEqual(problems, []);
});

test('every commit a results page names in its Commit field exists in the repository', (t) => {
  if (!gitAvailable()) return t.skip('not a git checkout');
  const shallow =
    execFileSync('git', ['rev-parse', '--is-shallow-repository'], { cwd: ROOT, encoding: 'utf8' }).trim() ===
    'true';
  const missing: string[] = [];
  let checked = 0;
  for (const page of pages) {
    const commit = headerFields(read(join(RESULTS, page))).get('Commit') ?? '';
    if (commit.startsWith('not recorded')) continue;
    for (const [, hash] of commit.matchAll(/`([0-9a-f]{7,40})`/g)) {
      checked++;
      try {
        execFileSync('git', ['cat-file', '-e', `${hash}^{commit}`], { cwd: ROOT, stdio: 'ignore' });
      } catch {
        missing.push(`${page}: ${hash}`);
      }
    }
  }
  if (missing.length > 0 && shallow) return t.skip(`shallow clone, cannot see ${missing.join(', ')}`);
  assert.ok(checked > 0, 'no commit checked');
  assert.deepEqual(missing, [], 'commits named in a Commit field that the repository does not have');
});

test('every repository path a results page names exists, and every spec it names validates', () => {
  const problems: string[] = [];
  const specs = new Set<string>();
  for (const page of pages) {
    for (const code of codeTexts(read(join(RESULTS, page)))) {
      for (const path of repoPaths(code)) {
        if (!pathExists(path)) problems.push(`${page}: ${path} does not exist`);
        else if (/^experiments\/[^/]+\.yaml$/.test(path)) specs.add(path);
      }
      for (const name of bareNames(code)) {
        if (!fileNames().has(name)) problems.push(`${page}: no file of the repository is named ${name}`);
      }
    }
  }
  assert.ok(specs.size > 0, 'the pages name no spec');
  for (const spec of [...specs].sort()) {
    const { diagnostics } = validateSpec(join(ROOT, spec));
    for (const d of diagnostics.filter(isError))
      problems.push(formatDiagnostic({ ...d, file: relative(ROOT, d.file) }));
  }
  assert.deepEqual(problems, []);
});

test('every relative link in README.md and docs/ resolves to a file', () => {
  const files = [join(ROOT, 'README.md'), ...markdownUnder(join(ROOT, 'docs'))];
  const broken: string[] = [];
  let checked = 0;
  for (const file of files) {
    const prose = withoutCode(read(file));
    const targets = [
      ...[...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+["'(][^)]*)?\)/g)].map((m) => m[1]),
      ...[...prose.matchAll(/^[ \t]{0,3}\[[^\]]+\]:[ \t]*<?(\S+?)>?(?:[ \t].*)?$/gm)].map((m) => m[1]),
      ...[...prose.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]),
    ];
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue; // a URL or an anchor
      const path = decodeURIComponent(target.replace(/[#?].*$/, ''));
      const resolved = path.startsWith('/') ? join(ROOT, path) : join(dirname(file), path);
      checked++;
      if (!existsSync(resolved)) broken.push(`${relative(ROOT, file)}: ${target}`);
      else if (target.endsWith('/') && !statSync(resolved).isDirectory())
        broken.push(`${relative(ROOT, file)}: ${target} is not a folder`);
    }
  }
  assert.ok(checked > 0, 'no relative link found');
  assert.deepEqual(broken, [], 'relative links to files that do not exist');
});
