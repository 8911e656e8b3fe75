// JSON lines: one object per event, easy to ship to any log store.
import type { Logger } from '../http/app.js';

export function jsonLogger(write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Logger {
  const at = (level: string) => (message: string, fields: Record<string, unknown> = {}) => {
    write(JSON.stringify({ time: new Date().toISOString(), level, message, ...fields }));
  };
  return { info: at('info'), warn: at('warn'), error: at('error') };
}
