/**
 * The wire contract as the TypeScript client sees it: the code generated from `proto/stepwise/v1/` by
 * `npm run generate`. Every client module imports the generated code through this one file.
 */
export * from '../../src/gen/stepwise/v1/stepwise.js';
