// Load -> schema -> defaults -> semantic checks. Semantic checks run only on a schema-valid spec,
// so they can trust every field's type.
import { applyDefaults } from './defaults';
import { isError, sortDiagnostics, type Diagnostic } from './diagnostics';
import { experimentSchema, validateSchema } from './schema';
import { checkSemantics } from './semantic';
import { loadSpecSource, type SpecSource } from './source';
import type { Experiment } from './types.gen';

export interface ValidatedSpec {
  source: SpecSource;
  /** The spec with every schema default applied. */
  spec: Experiment;
}

export function validateSpec(
  file: string,
  text?: string,
  /** `PATH=VALUE` overrides (`--set`), checked like the file itself. */
  overrides: string[] = [],
): { result?: ValidatedSpec; diagnostics: Diagnostic[] } {
  const loaded = loadSpecSource(file, text, overrides);
  if (!loaded.source) return { diagnostics: loaded.diagnostics };
  const source = loaded.source;
  const schemaErrors = validateSchema(source);
  if (schemaErrors.length > 0) return { diagnostics: sortDiagnostics(schemaErrors) };
  const spec = applyDefaults(experimentSchema().schema, source.value as Experiment);
  const semantic = sortDiagnostics(checkSemantics(source, spec));
  if (semantic.some(isError)) return { diagnostics: semantic };
  return { result: { source, spec }, diagnostics: semantic };
}
