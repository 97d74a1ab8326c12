/**
 * The wire contract as the TypeScript client sees it: the code generated from `proto/stepwise/v1/` by
 * `npm run generate` into `clients/ts/gen/` (the package's own copy, so that it needs nothing outside
 * `clients/ts`). Every client module imports the generated code through this one file.
 */
export * from './gen/stepwise/v1/stepwise.js';
