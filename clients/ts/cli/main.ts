#!/usr/bin/env node
/**
 * The client's command line, `stepwise decode "TEXT"`: talks to a running server and needs nothing of the
 * server's code (no ONNX Runtime, no model), so it lives with the client library.
 */
import { Command } from 'commander';
import { register as registerDecode } from './decode-command.js';

const program = new Command()
  .name('stepwise')
  .description('Client commands for a running Stepwise server.')
  .showHelpAfterError();
registerDecode(program);
await program.parseAsync(process.argv);
