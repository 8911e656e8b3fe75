// Log lines to stderr, one write per turn of the event loop instead of one per line. Under load
// the request log is a line per postback, and each synchronous write to a pipe is a system call
// on the thread that parses and verifies (a measurable share of ingest throughput: BENCHMARKS.md). Lines still left
// when the process exits are written by the exit handler, which runs for process.exit() and for
// a crash; only SIGKILL can lose the last turn's lines.
export function batchedStderr(): (line: string) => void {
  const pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    process.stderr.write(`${pending.join('\n')}\n`);
    pending.length = 0;
  };
  process.on('exit', flush);
  return (line) => {
    if (pending.push(line) === 1) setImmediate(flush);
  };
}
