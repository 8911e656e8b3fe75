// Runs the real server (`src/node/main.ts`) as a child process on a free loopback port.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  logs: () => string;
  exited: Promise<number | null>;
  /** SIGKILL to the whole process group; safe to call when it is already gone. */
  killAll(): Promise<void>;
}

/** Starts `node --import tsx src/node/main.ts`, or with `viaNpm` the way users do: `npm start`. */
export async function startServer(env: Record<string, string>, options: { viaNpm?: boolean } = {}): Promise<ServerProcess> {
  const [command, args] = options.viaNpm ? ['npm', ['start', '--silent']] : [process.execPath, ['--import', 'tsx', 'src/node/main.ts']];
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so cleanup can reach grandchildren (npm → sh → node)
  });
  let logs = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 20 s:\n${logs}`)), 20_000);
    const onData = (chunk: Buffer) => {
      logs += chunk.toString();
      const match = /"message":"skanpost listening","port":(\d+)/.exec(logs);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stderr!.on('data', onData);
    child.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${logs}`));
    });
    timer.unref();
  });
  const killAll = async () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    await exited;
  };
  return { url: `http://127.0.0.1:${port}`, child, logs: () => logs, exited, killAll };
}
