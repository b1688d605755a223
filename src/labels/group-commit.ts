// Group commit for the label server: labels that arrive together (in one turn of the event loop)
// are written in one transaction, so they share one fsync. Each caller still hears back only
// after the commit that holds its label, and a refused label does not hold back the others.
import type { LabelStore, RecordLabelInput, RecordResult } from './store';
import { LabelError } from './types';

interface Pending {
  input: RecordLabelInput;
  resolve: (r: RecordResult) => void;
  reject: (e: unknown) => void;
}

export function groupCommitter(
  store: LabelStore,
  maxBatch = 256,
): (input: RecordLabelInput) => Promise<RecordResult> {
  let queue: Pending[] = [];
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(maxBatch);
    if (queue.length > 0) schedule();
    let results: (RecordResult | LabelError)[];
    try {
      results = store.recordLabelsEach(batch.map((p) => p.input));
    } catch (err) {
      // The commit itself failed (disk full, database locked too long): nobody is acknowledged.
      for (const p of batch) p.reject(err);
      return;
    }
    results.forEach((r, i) => (r instanceof LabelError ? batch[i].reject(r) : batch[i].resolve(r)));
  };

  function schedule() {
    scheduled = true;
    setImmediate(flush);
  }

  return (input) =>
    new Promise<RecordResult>((resolve, reject) => {
      queue.push({ input, resolve, reject });
      if (!scheduled) schedule();
    });
}
