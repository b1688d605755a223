// Stage kind `generate`: thin activity over src/stages/generate.ts.
import { implementedInSrc } from './external';

export const generate = implementedInSrc('generate');
