/**
 * Command-line flags of the measurement scripts: a count given as text, checked once, with one
 * sentence and exit status 2 for a value that is not a whole number above 0.
 */
export function countFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} takes a whole number above 0, not '${value}'.`);
    process.exit(2);
  }
  return n;
}
