// Stage kind `reward`: thin activity over src/stages/reward.ts.
import { implementedInSrc } from './external';

export const reward = implementedInSrc('reward');
