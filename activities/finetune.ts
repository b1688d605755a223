// Stage kind `finetune`: thin activity over src/stages/finetune.ts.
import { implementedInSrc } from './external';

export const finetune = implementedInSrc('finetune');
