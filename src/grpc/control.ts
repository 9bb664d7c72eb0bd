// Triton's model configuration, model repository and logging extensions over gRPC, as a mapping
// between their messages and what the HTTP routes run: the same ModelConfig JSON, the same
// load parameters (parameters.config), the same log settings, the same admin token (here in the
// call's `authorization` metadata). Pure: the handlers in server.ts call the repository.
import type { IncomingHttpHeaders } from 'node:http';
import type { Metadata } from '@grpc/grpc-js';
import { ServeError } from '../errors.js';
import type { LogSettings } from '../log-settings.js';
import { configOverride } from '../routes/repository.js';

/** A ModelRepositoryParameter as proto-loader gives it (oneofs: true names the field set). */
export interface GrpcRepositoryParameter {
  parameter_choice?: string;
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  bytes_param?: Buffer;
}

/** A LogSettings SettingValue as proto-loader gives it. */
export interface GrpcSettingValue {
  parameter_choice?: string;
  bool_param?: boolean;
  uint32_param?: number;
  string_param?: string;
}

/** The call's metadata as the headers checkAdmin reads: `authorization: Bearer <token>`. */
export function adminHeaders(metadata: Metadata): { headers: IncomingHttpHeaders } {
  const value = metadata.get('authorization')[0];
  return { headers: typeof value === 'string' ? { authorization: value } : {} };
}

/** onnx-serve serves one repository (--models): a named one is refused rather than ignored. */
export function checkRepositoryName(name: string): void {
  if (name) {
    throw new ServeError('INVALID_INPUT', `repository_name ${JSON.stringify(name.slice(0, 100))} is not served: onnx-serve serves one model repository (--models); leave repository_name empty`);
  }
}

/**
 * The config a load request puts in place of config.json, or undefined: HTTP's
 * parameters.config, here a string_param (as tritonclient's load_model(config=...) sends it).
 * Any other parameter (Triton's "file:" ones carry model files) is refused as over HTTP.
 */
export function loadOverride(parameters: Readonly<Record<string, GrpcRepositoryParameter>>): unknown {
  const values: Record<string, unknown> = {};
  for (const [key, p] of Object.entries(parameters)) {
    if (key === 'config' && p.parameter_choice !== 'string_param') {
      throw new ServeError('INVALID_INPUT', `parameters["config"] must be a string_param holding the model's config.json as JSON (it has ${p.parameter_choice ?? 'no value'})`);
    }
    values[key] = p.string_param;
  }
  return configOverride({ parameters: values });
}

/** A LogSettingsRequest's settings as the body POST /v2/logging takes (levelAfter checks it). */
export function logSettingsBody(settings: Readonly<Record<string, GrpcSettingValue>>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(settings)) {
    const choice = v.parameter_choice;
    if (choice !== 'bool_param' && choice !== 'uint32_param' && choice !== 'string_param') {
      throw new ServeError('INVALID_LOG_SETTINGS', `log setting ${JSON.stringify(key.slice(0, 100))} has no value; set its bool_param, uint32_param or string_param`);
    }
    body[key] = v[choice];
  }
  return body;
}

/** The settings as a LogSettingsResponse: booleans, the verbose level (uint32) and strings. */
export function logSettingsMessage(s: LogSettings): { settings: Record<string, GrpcSettingValue> } {
  const settings: Record<string, GrpcSettingValue> = {};
  for (const [key, v] of Object.entries(s)) {
    settings[key] = typeof v === 'boolean' ? { bool_param: v } : typeof v === 'number' ? { uint32_param: v } : { string_param: String(v) };
  }
  return { settings };
}
