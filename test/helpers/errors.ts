import assert from 'node:assert/strict';

/** `fn` throws an `ErrorClass` whose message matches `pattern` and is one line with no stack trace. */
export function assertOneSentence(
  fn: () => unknown,
  ErrorClass: abstract new (...args: never[]) => Error,
  pattern: RegExp,
): void {
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof ErrorClass, `${err.name}: ${err.message}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n') && !err.message.includes('    at '), err.message);
    return true;
  });
}
