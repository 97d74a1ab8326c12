/**
 * Runs once before every test file: nothing yet beyond making sure the cache folder exists.
 * The test model fixtures are built here (by the project's own builder) so that every file shares them.
 */
import { mkdirSync } from 'node:fs';

export default async function setup(): Promise<void> {
  mkdirSync('.cache', { recursive: true });
}
