// What every command of the CLI shares, kept light: the CLI loads a command's module only when
// that command runs, so `skanpost verify` starts without the server's code (BENCHMARKS.md).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Bad usage (and bad configuration): exit 2, with the usage text. */
export class UsageError extends Error {}

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdin: () => Uint8Array;
  env: Record<string, string | undefined>;
  /** Whether stderr is a terminal, for the import progress bar. */
  isTty?: boolean;
}

export function readInput(file: string, io: Io): Uint8Array {
  try {
    return file === '-' ? io.stdin() : readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

export type OptionSpec = Record<string, { type: 'string' }>;

export function options(args: string[], spec: OptionSpec): { positionals: string[]; values: Record<string, string | undefined> } {
  const { positionals, values } = parseArgs({ args, options: spec, allowPositionals: true, strict: true });
  return { positionals, values: values as Record<string, string | undefined> };
}
