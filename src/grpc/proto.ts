// The KServe v2 gRPC service definition, loaded at run time from proto/grpc_service.proto (shipped
// in the package and the image beside dist/): one file that both the server and clients read.
import { join } from 'node:path';
import { loadSync } from '@grpc/proto-loader';
import { loadPackageDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { ownPackage } from '../package-root.js';

/** Where the .proto is, for the server and for clients (tests, docs). */
export const PROTO_FILE = join(ownPackage().dir, 'proto', 'grpc_service.proto');

/**
 * How messages are turned into objects: the protocol's snake_case names; 64-bit integers as
 * decimal strings (INT64 values past 2^53 stay exact, as JSON strings do over HTTP); unset
 * fields at their defaults ([] for repeated, null for messages); oneofs name the field set.
 */
export const LOADER_OPTIONS = Object.freeze({ keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });

/**
 * A request message whose bytes are not the method's protobuf message. grpc answers a
 * deserializer's throw with INTERNAL (a server fault, by its code); the handlers answer this
 * with INVALID_ARGUMENT instead, as HTTP answers a body that is not JSON with a 400.
 */
export class UndecodableRequest {
  constructor(readonly message: string) {}
}

export function inferenceService(): ServiceDefinition {
  const definition = loadSync(PROTO_FILE, LOADER_OPTIONS);
  const pkg = loadPackageDefinition(definition) as unknown as { inference: { GRPCInferenceService: { service: ServiceDefinition } } };
  const service = pkg.inference.GRPCInferenceService.service;
  const wrapped: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(service)) {
    wrapped[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return new UndecodableRequest(`the request is not a valid ${name} request message (${(err as Error).message}); send the message grpc_service.proto defines`);
        }
      },
    };
  }
  return wrapped;
}
