import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

/** A user-visible problem with a model's `tokenizer/` folder. */
export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

/** Turns prompts into the fixed-length id rows a CLIP text encoder takes. */
export interface PromptTokenizer {
  /** Ids per prompt, including start and end tokens, padded or truncated to this length. */
  readonly maxLength: number;
  readonly padId: number;
  /** One prompt's ids, exactly `maxLength` of them. */
  encode(text: string): number[];
}

const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';
/** Oniguruma pattern of CLIP's word splitter (openai/CLIP simple_tokenizer.py). */
const CLIP_SPLIT =
  "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/**
 * Loads the tokenizer of an SD-layout model from `dir` (its `tokenizer/` folder): `tokenizer.json`
 * when present, else CLIP's `vocab.json` + `merges.txt` (what SD 1.5 exports ship), assembled into
 * the same tokenizer Hugging Face's CLIPTokenizer builds from them.
 * maxLength defaults to `model_max_length` in tokenizer_config.json, else 77.
 */
export function loadTokenizer(dir: string, options: { maxLength?: number } = {}): PromptTokenizer {
  const config = readJson(join(dir, 'tokenizer_config.json'), false) ?? {};
  const special = readJson(join(dir, 'special_tokens_map.json'), false) ?? {};
  const jsonFile = join(dir, 'tokenizer.json');
  let spec: Record<string, any>;
  if (existsSync(jsonFile)) {
    spec = readJson(jsonFile, true)!;
  } else if (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'))) {
    spec = clipTokenizerSpec(
      readJson(join(dir, 'vocab.json'), true) as Record<string, number>,
      readMerges(join(dir, 'merges.txt')),
    );
  } else {
    throw new TokenizerError(
      `${dir} has neither tokenizer.json nor vocab.json + merges.txt; copy the tokenizer files from the model export.`,
    );
  }
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(spec, config);
  } catch (err) {
    throw new TokenizerError(`${dir}: the tokenizer files could not be loaded (${(err as Error).message}).`);
  }
  const idOf = (token: string, what: string): number => {
    const id = tokenizer.token_to_id(token);
    if (id === undefined)
      throw new TokenizerError(`${dir}: the ${what} token "${token}" is not in the vocabulary.`);
    return id;
  };
  const eosId = idOf(tokenName(config.eos_token ?? special.eos_token) ?? EOS, 'end');
  const padId = idOf(tokenName(config.pad_token ?? special.pad_token) ?? EOS, 'padding');
  const fromConfig = Number(config.model_max_length);
  // Exports without a limit write a huge sentinel (1e30) here.
  const maxLength = options.maxLength ?? (fromConfig > 0 && fromConfig < 100_000 ? fromConfig : 77);
  if (!Number.isInteger(maxLength) || maxLength < 2) {
    throw new TokenizerError(`${dir}: maximum prompt length ${maxLength} must be an integer of at least 2.`);
  }
  return {
    maxLength,
    padId,
    encode(text: string): number[] {
      const ids = tokenizer.encode(text).ids;
      // Truncate the words, keep the end token (as transformers does with truncation=True).
      if (ids.length > maxLength) return [...ids.slice(0, maxLength - 1), eosId];
      return [...ids, ...new Array<number>(maxLength - ids.length).fill(padId)];
    },
  };
}

/**
 * A CLIP BPE tokenizer in tokenizers' JSON format, built from a vocabulary and merge list the
 * way transformers' CLIPTokenizer does: NFC, whitespace runs to one space, lower case; CLIP's word
 * split; byte-level symbols; "</w>" ending each word; start and end tokens around every prompt.
 */
export function clipTokenizerSpec(
  vocab: Record<string, number>,
  merges: [string, string][],
): Record<string, any> {
  const added = [BOS, EOS]
    .filter((t) => t in vocab)
    .map((content) => ({
      id: vocab[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: true,
      special: true,
    }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFC' },
        { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
        { type: 'Lowercase' },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [EOS, vocab[EOS]],
      cls: [BOS, vocab[BOS]],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: EOS,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

/** Reads a `merges.txt`: an optional `#version` line, then one "left right" pair per line. */
export function readMerges(file: string): [string, string][] {
  const out: [string, string][] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.startsWith('#version') || line.trim() === '') return;
    const parts = line.split(' ');
    if (parts.length !== 2) {
      throw new TokenizerError(
        `${file}:${i + 1}: expected two symbols separated by one space, got "${line}".`,
      );
    }
    out.push([parts[0], parts[1]]);
  });
  return out;
}

function tokenName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

function readJson(file: string, required: boolean): Record<string, any> | undefined {
  if (!existsSync(file)) {
    if (required) throw new TokenizerError(`${file} does not exist; copy it from the model export.`);
    return undefined;
  }
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new TokenizerError(`${file} is not valid JSON; copy it again from the model export.`);
  }
}
