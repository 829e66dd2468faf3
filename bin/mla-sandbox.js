#!/usr/bin/env node
// Entry point of the `mla-sandbox` command: runs the CLI that `npm install`
// builds into dist/cli (vite build --ssr; the WGSL files are bundled in).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
