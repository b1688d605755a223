// The workflow bundle's entry: every workflow type workers register.
export { experiment } from './experiment';
export { sweep } from './sweep';
export { labeling } from './labeling';
