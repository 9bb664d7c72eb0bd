// k6 script: the ramp load scenario against one model (settings and thresholds: load/README.md).
import { options as make, setup, iteration } from './k6/common.js';

export const options = make('ramp');
export { setup };

export default function (data) {
  iteration(data);
}
