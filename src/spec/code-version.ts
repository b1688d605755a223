// A stage kind's code version: a hash of the source files its implementation loads within the
// project (its entries, src/stages/<kind>.ts and see stageEntries, and everything they import,
// transitively, or name by a relative path such as `new URL('./sessionWorker.ts', import.meta.url)`),
// plus the versions of the packages those files import. It is part of every stage's cache key, so
// a stage whose implementation changed runs again after an update, and one whose code is unchanged
// stays cached.
// Type-only imports are not followed: they do not change what runs.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { StageKind } from './plan';

// Runtime imports and re-exports (`import x from`, `import {a, type B} from`, `export * from`),
// side-effect imports, dynamic imports and files named relative to the module.
const SPECIFIERS = [
  /(?:^|[;\n])\s*(?:import|export)\s+(?!type\s)[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /(?:^|[;\n])\s*import\s*['"]([^'"]+)['"]/g,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  // Any relative file name with an extension: `new URL(ts ? './w.ts' : './w.js', import.meta.url)`.
  /['"](\.\.?\/[^'"\s]+\.(?:[cm]?[jt]s|json|html|txt))['"]/g,
];

/** The project files `entry` loads (itself included) and the bare packages they import. */
export function moduleClosure(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    if (!/\.[cm]?[jt]sx?$/.test(file)) return;
    const text = readFileSync(file, 'utf8');
    for (const pattern of SPECIFIERS) {
      for (const m of text.matchAll(pattern)) {
        const spec = m[1];
        if (spec.startsWith('.')) {
          const target = resolveModule(dirname(file), spec);
          if (target) visit(target);
        } else if (!spec.startsWith('node:')) {
          packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
        }
      }
    }
  };
  visit(entry);
  return { files: [...files].sort(), packages: [...packages].sort() };
}

/** The project file a relative specifier names: the path itself, with `.ts`, `.js` as `.ts`, or its index.ts. */
export function resolveModule(dir: string, spec: string): string | undefined {
  const base = resolve(dir, spec);
  const candidates = [base, `${base}.ts`, base.replace(/\.js$/, '.ts'), join(base, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

/**
 * The files a stage kind's implementation starts from, relative to the repository: its module and,
 * for `label`, the labelling workflow. The stage starts that workflow by its type name instead of
 * importing it (src/ never imports workflows/), but its deadline and aggregation rules shape the
 * stage's output.
 */
export function stageEntries(kind: StageKind): string[] {
  return kind === 'label' ? ['src/stages/label.ts', 'workflows/labeling.ts'] : [`src/stages/${kind}.ts`];
}

/** The code version of each stage kind under `root` (the repository), 12 hex digits. */
export function stageCodeVersions(root: string, kinds: readonly StageKind[]): Record<StageKind, string> {
  const out = {} as Record<StageKind, string>;
  for (const kind of kinds) {
    const closures = stageEntries(kind).map((entry) => moduleClosure(join(root, entry)));
    const files = [...new Set(closures.flatMap((c) => c.files))].sort();
    const packages = [...new Set(closures.flatMap((c) => c.packages))].sort();
    const h = createHash('sha256');
    for (const f of files)
      h.update(`${relative(root, f)}\0`)
        .update(readFileSync(f))
        .update('\0');
    for (const p of packages.filter(computes)) h.update(`${p}@${packageVersion(root, p)}\0`);
    out[kind] = h.digest('hex').slice(0, 12);
  }
  return out;
}

/**
 * Packages that only orchestrate (the Temporal SDK, the SQLite driver) do not change a stage's
 * outputs: upgrading them must not rerun week-long stages. Every other package counts.
 */
const computes = (pkg: string) => !pkg.startsWith('@temporalio/') && pkg !== 'better-sqlite3';

function packageVersion(root: string, name: string): string {
  const pkg = join(root, 'node_modules', name, 'package.json');
  if (!existsSync(pkg)) return 'absent';
  return String((JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version ?? 'unknown');
}
