/**
 * Stepwise inside your own integration tests: a real server on 127.0.0.1 and a free port, started once
 * for the file, with the TypeScript client talking to it. In your project the imports read
 * `import { startServer } from 'stepwise'` and `import { StepwiseClient } from 'stepwise-client'`; here they
 * point at this repository's sources, and `npm test` runs this file as it is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepwiseClient } from '../../clients/ts/index.js';
import { startServer, type RunningServer } from '../../src/index.js';

let server: RunningServer;
let client: StepwiseClient;

beforeAll(async () => {
  server = await startServer(); // the embedded tiny model; pass { modelDir } for a real one
  client = new StepwiseClient(server.address);
});

afterAll(async () => {
  client.close();
  await server.close();
});

describe('a decoder under test', () => {
  it('gets every step of a greedy decode, with its raw logits', async () => {
    const session = client.openDecode({ text: 'translate English to German: The house is wonderful.', maxNewTokens: 4, mode: 'auto' });
    const steps: number[] = [];
    for await (const event of session) {
      if (event.kind === 'step') steps.push(event.logits?.length ?? 0);
      if (event.kind === 'finished') expect(event.finished.tokenIds).toHaveLength(4);
    }
    expect(steps).toEqual([606, 606, 606, 606]);
  });
});
