// @ts-check
// `npm run test:system` runs this first, from the source tree (before tsc): unless every binary the
// system tests run is installed, it prints one line naming what to install and exits 1.
import { missingLine } from './binaries.js';

const line = missingLine();
if (line) {
  console.error(line);
  process.exit(1);
}
