// Stage kind `prompts`: thin activity over src/stages/prompts.ts.
import { implementedInSrc } from './external';

export const prompts = implementedInSrc('prompts');
