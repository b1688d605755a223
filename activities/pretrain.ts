// Stage kind `pretrain`: thin activity over src/stages/pretrain.ts.
import { implementedInSrc } from './external';

export const pretrain = implementedInSrc('pretrain');
