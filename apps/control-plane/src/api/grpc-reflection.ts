import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type DescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import { status, type handleBidiStreamingCall } from '@grpc/grpc-js';
import {
  descriptorSetBase64,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from '@laneway/proto';

type ReflectionHandler = handleBidiStreamingCall<ServerReflectionRequest, ServerReflectionResponse>;

/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha share their messages) over the descriptor set
 * tools/codegen/proto.sh embeds in @laneway/proto: grpcurl and friends need no .proto files. `services`
 * are the services this server really serves, listed as such.
 */
export function reflectionHandler(services: readonly string[]): ReflectionHandler {
  const index = new DescriptorIndex(Buffer.from(descriptorSetBase64, 'base64'));
  const answer = (
    req: ServerReflectionRequest,
  ): Omit<ServerReflectionResponse, 'validHost' | 'originalRequest'> => {
    const notFound = (message: string): Omit<ServerReflectionResponse, 'validHost' | 'originalRequest'> => ({
      errorResponse: { errorCode: status.NOT_FOUND, errorMessage: message },
    });
    if (req.listServices !== undefined)
      return { listServicesResponse: { service: services.map((name) => ({ name })) } };
    if (req.fileByFilename !== undefined) {
      const files = index.withDependencies(req.fileByFilename);
      return files
        ? { fileDescriptorResponse: { fileDescriptorProto: files } }
        : notFound(`no file '${req.fileByFilename}'`);
    }
    if (req.fileContainingSymbol !== undefined) {
      const file = index.fileOfSymbol(req.fileContainingSymbol);
      const files = file === undefined ? undefined : index.withDependencies(file);
      return files
        ? { fileDescriptorResponse: { fileDescriptorProto: files } }
        : notFound(`no symbol '${req.fileContainingSymbol}'`);
    }
    if (req.allExtensionNumbersOfType !== undefined) {
      // proto3 throughout: no message declares extension ranges.
      const type = req.allExtensionNumbersOfType;
      return index.isMessage(type)
        ? { allExtensionNumbersResponse: { baseTypeName: type, extensionNumber: [] } }
        : notFound(`no message type '${type}'`);
    }
    if (req.fileContainingExtension !== undefined)
      return notFound(
        `no extension ${req.fileContainingExtension.extensionNumber} of '${req.fileContainingExtension.containingType}'`,
      );
    return {
      errorResponse: {
        errorCode: status.INVALID_ARGUMENT,
        errorMessage: 'the request names no reflection query',
      },
    };
  };
  return (call) => {
    call.on('data', (req: ServerReflectionRequest) => {
      call.write({ validHost: req.host, originalRequest: req, ...answer(req) });
    });
    call.on('end', () => call.end());
  };
}

/** Files by name (serialized once) and the file declaring each fully qualified symbol. */
class DescriptorIndex {
  private readonly files = new Map<string, { proto: FileDescriptorProto; bytes: Buffer }>();
  private readonly symbols = new Map<string, string>();
  private readonly messages = new Set<string>();

  constructor(set: Uint8Array) {
    for (const file of fromBinary(FileDescriptorSetSchema, set).file) {
      this.files.set(file.name, {
        proto: file,
        bytes: Buffer.from(toBinary(FileDescriptorProtoSchema, file)),
      });
      const scope = file.package ? `${file.package}.` : '';
      for (const message of file.messageType) this.addMessage(file.name, scope, message);
      for (const e of file.enumType) this.symbols.set(scope + e.name, file.name);
      for (const service of file.service) {
        this.symbols.set(scope + service.name, file.name);
        for (const method of service.method)
          this.symbols.set(`${scope}${service.name}.${method.name}`, file.name);
      }
    }
  }

  fileOfSymbol(symbol: string): string | undefined {
    return this.symbols.get(symbol.replace(/^\./, ''));
  }

  isMessage(type: string): boolean {
    return this.messages.has(type.replace(/^\./, ''));
  }

  /** The file first, then every file it imports, transitively, each once. */
  withDependencies(name: string): Buffer[] | undefined {
    if (!this.files.has(name)) return undefined;
    const seen = new Set<string>();
    const out: Buffer[] = [];
    const visit = (n: string): void => {
      const entry = this.files.get(n);
      if (!entry || seen.has(n)) return;
      seen.add(n);
      out.push(entry.bytes);
      for (const dep of entry.proto.dependency) visit(dep);
    };
    visit(name);
    return out;
  }

  private addMessage(file: string, scope: string, message: DescriptorProto): void {
    const name = scope + message.name;
    this.symbols.set(name, file);
    this.messages.add(name);
    for (const field of message.field) this.symbols.set(`${name}.${field.name}`, file);
    for (const e of message.enumType) this.symbols.set(`${name}.${e.name}`, file);
    for (const nested of message.nestedType) this.addMessage(file, `${name}.`, nested);
  }
}
