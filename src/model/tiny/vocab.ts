/**
 * Trains a small CLIP-style byte-level BPE vocabulary on a word list, written as CLIP's
 * vocab.json + merges.txt so the same tokenizer code reads it as a real SD export's.
 */

/** CLIP/GPT-2's map from bytes to printable characters, so BPE symbols are never whitespace or control chars. */
export function byteSymbols(): string[] {
  const printable: number[] = [];
  for (let c = 0x21; c <= 0x7e; c++) printable.push(c);
  for (let c = 0xa1; c <= 0xac; c++) printable.push(c);
  for (let c = 0xae; c <= 0xff; c++) printable.push(c);
  const codes = [...printable];
  let extra = 0;
  for (let byte = 0; byte < 256; byte++) {
    if (!printable.includes(byte)) {
      printable.push(byte);
      codes.push(256 + extra++);
    }
  }
  // printable[i] is a byte, codes[i] its character: reorder by byte value.
  const byByte = new Array<string>(256);
  printable.forEach((byte, i) => (byByte[byte] = String.fromCodePoint(codes[i])));
  return byByte;
}

export interface BpeVocabulary {
  vocab: Record<string, number>;
  merges: [string, string][];
}

/**
 * Learns merges until every word of `words` is a single token (most frequent pair first, ties by
 * the pair's text, so the result depends on the word list only). Words are lower-case ASCII.
 */
export function trainBpe(words: readonly string[]): BpeVocabulary {
  const symbols = byteSymbols();
  const counts = new Map<string, number>();
  for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
  const pieces = [...counts.keys()].sort().map((w) => {
    const chars = [...Buffer.from(w, 'utf8')].map((byte) => symbols[byte]);
    chars[chars.length - 1] += '</w>';
    return { parts: chars, count: counts.get(w)! };
  });
  const merges: [string, string][] = [];
  for (;;) {
    const pairCounts = new Map<string, number>();
    for (const { parts, count } of pieces) {
      for (let i = 0; i + 1 < parts.length; i++) {
        const key = `${parts[i]} ${parts[i + 1]}`;
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
      }
    }
    if (pairCounts.size === 0) break;
    const [best] = [...pairCounts.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))[0];
    const [left, right] = best.split(' ') as [string, string];
    merges.push([left, right]);
    for (const piece of pieces) {
      const out: string[] = [];
      for (let i = 0; i < piece.parts.length; i++) {
        if (i + 1 < piece.parts.length && piece.parts[i] === left && piece.parts[i + 1] === right) {
          out.push(left + right);
          i++;
        } else out.push(piece.parts[i]);
      }
      piece.parts = out;
    }
  }
  const tokens = [...symbols, ...symbols.map((s) => `${s}</w>`), ...merges.map(([a, b]) => a + b)];
  tokens.push('<|startoftext|>', '<|endoftext|>');
  const vocab: Record<string, number> = {};
  for (const t of tokens) if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  return { vocab, merges };
}
