// What every compression method returns: the rewritten model, what it changed, and a warning
// for each node it had to leave alone (naming the node and why), so nothing is skipped silently.
import type { ModelProto } from './onnx-file.js';

export const METHODS = ['int8-dynamic', 'int8-static', 'fp16', 'prune'] as const;
export type MethodName = (typeof METHODS)[number];

export interface MethodResult {
  model: ModelProto;
  /** Nodes (or weight tensors) the method rewrote. */
  changed: number;
  /** One line per node left unchanged: `node "name" (Op): why`. */
  warnings: string[];
  /** Method-specific facts for the report (e.g. the sparsity reached, the hidden units kept). */
  details: Record<string, unknown>;
}

export function skipped(node: { name?: string | null; opType?: string | null }, why: string): string {
  return `node "${node.name || '(unnamed)'}" (${node.opType}): ${why}; left unchanged`;
}
