// Process entry of the CLI: wires real stdio and exit codes to runCli.
import 'reflect-metadata'; // before @peculiar/x509 loads (it needs the polyfill)
import { readFileSync } from 'node:fs';
import { runCli } from './cli.js';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
  stdin: () => readFileSync(0),
  env: process.env,
  isTty: process.stderr.isTTY,
});
