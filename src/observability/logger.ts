// JSON lines: one object per event, easy to ship to any log store. SKANPOST_LOG_LEVEL drops
// the levels below it (one line per request is `info`).

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What to say of anything thrown (an Error's message, or the value itself). */
export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function jsonLogger(write: (line: string) => void = (line) => console.error(line), level: LogLevel = 'info'): Logger {
  const at = (name: LogLevel) =>
    LOG_LEVELS.indexOf(name) < LOG_LEVELS.indexOf(level)
      ? () => undefined
      : (message: string, fields: Record<string, unknown> = {}) => write(JSON.stringify({ time: new Date().toISOString(), level: name, message, ...fields }));
  return { info: at('info'), warn: at('warn'), error: at('error') };
}
