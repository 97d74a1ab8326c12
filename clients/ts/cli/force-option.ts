/** The `--force ID@STEP` option: which token the client forces at which step. */

/** Parses one `ID@STEP` value, e.g. `644@2` (take token 644 at step 2). */
export function parseForce(value: string): { readonly step: number; readonly tokenId: number } {
  const match = /^(\d+)@(\d+)$/.exec(value.trim());
  if (match === null) throw new RangeError(`--force must be ID@STEP with non-negative integers, e.g. 644@2; given ${value}`);
  return { tokenId: Number(match[1]), step: Number(match[2]) };
}

/** The forced token of every step named by the `--force` values; a step named twice is an error. */
export function forcedTokensByStep(values: readonly string[]): Map<number, number> {
  const byStep = new Map<number, number>();
  for (const value of values) {
    const { step, tokenId } = parseForce(value);
    const earlier = byStep.get(step);
    if (earlier !== undefined) throw new RangeError(`--force names step ${step} twice (tokens ${earlier} and ${tokenId})`);
    byStep.set(step, tokenId);
  }
  return byStep;
}
