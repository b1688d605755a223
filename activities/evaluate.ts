// Stage kind `evaluate`: thin activity over src/stages/evaluate.ts.
import { implementedInSrc } from './external';

export const evaluate = implementedInSrc('evaluate');
