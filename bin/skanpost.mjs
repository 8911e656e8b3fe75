#!/usr/bin/env node
// `npx skanpost …`: runs the TypeScript CLI through tsx, so no build step is needed.
import { tsImport } from 'tsx/esm/api';

await tsImport('../src/node/bin.ts', import.meta.url);
