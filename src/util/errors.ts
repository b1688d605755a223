// The one sentence an error chain says: the innermost non-empty message of `err` and its causes
// (Temporal wraps a stage's error in ActivityFailure, ApplicationFailure, ...). Pure: workflow
// code uses it too.

/** The innermost non-empty message along `err`'s causes, else its name; never an empty string. */
export function innermostMessage(err: unknown): string {
  let text = '';
  for (let e = err as { message?: unknown; cause?: unknown } | undefined; e && typeof e === 'object';) {
    if (typeof e.message === 'string' && e.message) text = e.message;
    e = e.cause as typeof e;
  }
  return text || (err as Error | undefined)?.name || String(err);
}
