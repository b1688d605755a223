// Stage kind `label`: thin activity over src/stages/label.ts.
import { implementedInSrc } from './external';

export const label = implementedInSrc('label');
