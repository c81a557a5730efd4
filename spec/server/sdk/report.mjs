// The report every SDK script prints as its last line, which the specs
// read (spec/server/sdk_helper.lua): {"checks": N, "failures": [...]}.
export const failures = [];
let checks = 0;

// One check: what it is, whether it held, and what was seen otherwise.
export function check(what, ok, detail) {
  checks++;
  if (!ok) failures.push(`${what}${detail === undefined ? '' : ': ' + JSON.stringify(detail)}`);
}

export function report() {
  console.log(JSON.stringify({ checks, failures }));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
