// The checks Triton's image_client.py (its parse_model) makes of a model's metadata and config,
// as far as the server's answers decide them, written from the client's logic: it refuses a model
// unless one FP32 vector output, one input of 3 dims (after the batch) and format NCHW or NHWC.
/** image_client.py's parse_model, as far as the server's answers decide it (metadata + config as JSON). */
export function imageClientParse(metadata: any, config: any): { maxBatchSize: number; c: number; h: number; w: number; format: string } {
  if (metadata.inputs.length !== 1 || metadata.outputs.length !== 1 || config.input.length !== 1) throw new Error('expecting 1 input and 1 output');
  const input = metadata.inputs[0];
  const output = metadata.outputs[0];
  if (output.datatype !== 'FP32') throw new Error('expecting FP32 output');
  let batchDim = config.max_batch_size > 0;
  let nonOne = 0;
  for (const d of output.shape) {
    if (batchDim) batchDim = false;
    else if (d > 1 && ++nonOne > 1) throw new Error('expecting a vector output');
  }
  const batched = config.max_batch_size > 0;
  if (input.shape.length !== 3 + (batched ? 1 : 0)) throw new Error(`expecting ${3 + (batched ? 1 : 0)} input dims`);
  const format = config.input[0].format;
  if (format !== 'FORMAT_NCHW' && format !== 'FORMAT_NHWC') throw new Error(`unexpected input format ${format}`);
  const o = batched ? 1 : 0;
  const [c, h, w] = format === 'FORMAT_NHWC' ? [input.shape[o + 2], input.shape[o], input.shape[o + 1]] : [input.shape[o], input.shape[o + 1], input.shape[o + 2]];
  return { maxBatchSize: config.max_batch_size, c, h, w, format };
}

