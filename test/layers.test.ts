// The layers import one way: workflows/ (and test/, bench/, scripts/) may use src/, never the
// reverse, and no module depends on itself through others. Every import and re-export of the .ts
// files under src/ and workflows/ (and of what they load) counts, type-only ones and dynamic
// `import('...')` included: a type-only cycle or a type borrowed from workflows/ ties the layers
// together as much as a runtime one.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { resolveModule } from '../src/spec/code-version';

const root = resolve(import.meta.dirname, '..');
const rel = (file: string) => relative(root, file);

interface Import {
  /** Where the import is written, `file:line`. */
  at: string;
  spec: string;
  /** The project file it names; undefined when none matches. */
  target: string | undefined;
}

/** The module specifiers `text` (of `file`) names: imports, re-exports, `import('...')` calls and types. */
function specifiers(file: string, text = readFileSync(file, 'utf8')): { spec: string; line: number }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: { spec: string; line: number }[] = [];
  const add = (node: ts.Node | undefined) => {
    if (node && ts.isStringLiteralLike(node))
      out.push({ spec: node.text, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
      add(node.arguments[0]);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** Every .ts file under `dir`. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

/** The relative imports of the files under src/ and workflows/, and of every file they load. */
function importGraph(): Map<string, Import[]> {
  const graph = new Map<string, Import[]>();
  const visit = (file: string) => {
    if (graph.has(file)) return;
    const imports: Import[] = [];
    graph.set(file, imports);
    if (!file.endsWith('.ts')) return;
    for (const { spec, line } of specifiers(file)) {
      if (!spec.startsWith('.')) continue;
      const target = resolveModule(dirname(file), spec);
      imports.push({ at: `${rel(file)}:${line}`, spec, target });
      if (target) visit(target);
    }
  };
  for (const dir of ['src', 'workflows']) tsFiles(join(root, dir)).forEach(visit);
  return graph;
}

const graph = importGraph();

test('imports of every form are seen, and comments and strings are not imports', () => {
  const text = [
    "import a from './a';",
    "import type { B } from './b';",
    "export * from './c';",
    "export { type D } from './d';",
    "const e = await import('./e');",
    "type F = typeof import('./f');",
    "import './g';",
    "// import './comment';",
    'const s = "import \'./string\'";',
  ].join('\n');
  assert.deepEqual(
    specifiers('x.ts', text).map((s) => `${s.line}:${s.spec}`),
    ['1:./a', '2:./b', '3:./c', '4:./d', '5:./e', '6:./f', '7:./g'],
  );
});

test('every relative import names a file', () => {
  const missing = [...graph.values()].flat().filter((i) => !i.target);
  assert.deepEqual(
    missing.map((i) => `${i.at} imports '${i.spec}', which is no file`),
    [],
  );
});

test('nothing under src/ imports a file outside it (workflows/, test/, ...)', () => {
  const inSrc = (file: string) => rel(file).startsWith('src/');
  const violations = [...graph.entries()]
    .filter(([file]) => inSrc(file))
    .flatMap(([, imports]) => imports.filter((i) => i.target && !inSrc(i.target)));
  assert.deepEqual(
    violations.map((i) => `${i.at} imports ${rel(i.target!)} ('${i.spec}')`),
    [],
    'src/ is the product: what workflows/ and src/ share lives in src/',
  );
});

test('the import graph has no cycle, type-only imports included', () => {
  assert.deepEqual(
    cycles(graph).map((c) => c.map(rel).join(' -> ')),
    [],
    'move the types both modules need to one that neither imports from',
  );
});

/**
 * One cycle per strongly connected component of more than one file (or a file importing itself),
 * as the files in import order, back to the first (Tarjan's algorithm, then breadth-first search).
 */
function cycles(g: Map<string, Import[]>): string[][] {
  const next = (f: string) => [...new Set(g.get(f)!.flatMap((i) => (i.target ? [i.target] : [])))];
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || next(v).includes(v)) components.push(component);
  };
  for (const f of [...g.keys()].sort()) if (!index.has(f)) connect(f);
  return components.map((component) => {
    // The shortest cycle in the component: the shortest way from each file back to itself.
    const members = new Set(component);
    const around = (start: string): string[] => {
      const from = new Map<string, string>();
      const queue = [start];
      while (queue.length) {
        const f = queue.shift()!;
        if (next(f).includes(start)) {
          const path = [f];
          while (path[0] !== start) path.unshift(from.get(path[0])!);
          return [...path, start];
        }
        for (const w of next(f)) {
          if (!members.has(w) || from.has(w) || w === start) continue;
          from.set(w, f);
          queue.push(w);
        }
      }
      throw new Error(`no cycle through ${rel(start)}`);
    };
    return component
      .sort()
      .map(around)
      .reduce((best, c) => (c.length < best.length ? c : best));
  });
}
