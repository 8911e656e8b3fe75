// `skanpost schema validate FILE`: a conversion-value schema file checked as the API would.
import { ConversionSchema } from '../../model/conversion-schema.js';
import { JsonSyntaxError, parseStrictJson, toPlain } from '../../postback/json.js';
import { EXIT, type Io, readInput, UsageError } from './usage.js';

export function schemaCommand(args: string[], io: Io): number {
  const [sub, file, ...rest] = args;
  if (sub !== 'validate' || file === undefined || rest.length > 0) throw new UsageError('usage: skanpost schema validate FILE');
  const text = new TextDecoder().decode(readInput(file, io));
  let value: unknown;
  try {
    value = toPlain(parseStrictJson(text));
  } catch (error) {
    io.stdout(JSON.stringify({ valid: false, problems: [{ field: '(file)', reason: error instanceof JsonSyntaxError ? error.message : 'not JSON' }] }, null, 2));
    return EXIT.failure;
  }
  const parsed = ConversionSchema.safeParse(value);
  if (parsed.success) {
    const fine = parsed.data.fine.reduce((n, r) => n + r.to - r.from + 1, 0);
    io.stdout(JSON.stringify({ valid: true, currency: parsed.data.currency, effective_from: parsed.data.effective_from, fine_values_mapped: fine }, null, 2));
    return EXIT.ok;
  }
  io.stdout(JSON.stringify({ valid: false, problems: parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(root)', reason: i.message })) }, null, 2));
  return EXIT.failure;
}
