// The KServe v2 gRPC service definition, loaded at run time from proto/grpc_service.proto (shipped
// in the package and the image beside dist/): one file that both the server and clients read.
import { join } from 'node:path';
import { loadSync } from '@grpc/proto-loader';
import { loadPackageDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
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

/**
 * The inference calls' messages as protobufjs decodes and encodes them, without proto-loader's
 * conversion to plain objects and back (toObject with defaults, fromObject): that took 11 of
 * the ~90 µs a ModelInfer call costs the server (seed MLP, measured in process), and this 7.
 * A decoded message reads like proto-loader's object (snake_case names, unset fields at their
 * defaults, a oneof's name giving its set field) except that 64-bit integers are Long objects:
 * the infer code reads them with String(). Other methods keep proto-loader's objects.
 */
function inferCodec(): { decode(bytes: Buffer): unknown; encode(message: object): Buffer; encodeStream(message: object): Buffer } {
  const root = new protobuf.Root();
  root.loadSync(PROTO_FILE, { keepCase: true });
  root.resolveAll();
  const request = root.lookupType('inference.ModelInferRequest');
  const response = root.lookupType('inference.ModelInferResponse');
  const stream = root.lookupType('inference.ModelStreamInferResponse');
  return {
    decode: (bytes) => request.decode(bytes),
    encode: (message) => response.encode(message).finish() as Buffer,
    encodeStream: (message) => stream.encode(message).finish() as Buffer,
  };
}

/** The inference methods: their requests arrive as ModelInferRequest, answered by the codec above. */
const INFER_METHODS = new Set(['ModelInfer', 'ModelStreamInfer']);

export function inferenceService(): ServiceDefinition {
  const definition = loadSync(PROTO_FILE, LOADER_OPTIONS);
  const pkg = loadPackageDefinition(definition) as unknown as { inference: { GRPCInferenceService: { service: ServiceDefinition } } };
  const service = pkg.inference.GRPCInferenceService.service;
  const codec = inferCodec();
  const wrapped: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(service)) {
    const infer = INFER_METHODS.has(name);
    const decode = infer ? codec.decode : method.requestDeserialize;
    wrapped[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (err) {
          return new UndecodableRequest(`the request is not a valid ${name} request message (${(err as Error).message}); send the message grpc_service.proto defines`);
        }
      },
      ...(infer ? { responseSerialize: name === 'ModelInfer' ? codec.encode : codec.encodeStream } : {}),
    };
  }
  return wrapped;
}
