// Human-feedback collection: the label store, the labelling server, forwarding to the workflow,
// simulated and imported label sources, and agreement statistics.
export { LabelStore, openLabelStore, hashToken, type RecordLabelInput, type RecordResult } from './store';
export { startLabelServer, type LabelServer, type LabelServerOptions } from './server';
export { startForwarder, type Forwarder, type ForwarderOptions } from './forwarder';
export { applyLabelEvents, countsByImage, emptyTally, tallyKey, type LabelTally } from './tally';
export {
  importLabels,
  parseLabelFile,
  shapesAligned,
  simulateLabels,
  simulatedLabel,
  type ImportedLabel,
  type SimulateOptions,
  type SimulateResult,
  type SimulatedRater,
} from './sources';
export { fleissKappa, krippendorffAlpha, labelAgreement, type TaskAgreement } from './agreement';
export { DEFAULT_LABEL_PORT, labelDbPath } from './cli';
export * from './types';
