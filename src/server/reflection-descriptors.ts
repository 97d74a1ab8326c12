/**
 * Makes the file descriptors that `@grpc/proto-loader` (through protobufjs 7) hands to reflection look
 * as protoc writes them, so that any reflection client can build the service from them.
 *
 * Two differences matter in practice:
 * - protobufjs names the nested message of a map field after the field alone (`params` → `Params`); protoc
 *   names it `ParamsEntry`, and descriptor pools that check the rule (Python's protobuf) refuse the whole
 *   file: "map_entry should not be set explicitly";
 * - protobufjs refers to types by relative names (`ParamValue`); protoc always writes full names
 *   (`.stepwise.v1.ParamValue`). A pool resolves a relative name when it builds the file, so adding the same
 *   file again (a client building request and response classes in turn) no longer matches what it holds:
 *   "A file with this name is already in the pool".
 * Both are repaired here, before reflection indexes the files.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  type DescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import type { PackageDefinition } from '@grpc/proto-loader';

/** protoc's entry name for a map field: the field name in PascalCase, then "Entry". */
export function mapEntryName(fieldName: string): string {
  const pascal = fieldName.replace(/(^|_)([a-z0-9])/g, (_match, _separator: string, letter: string) => letter.toUpperCase());
  return `${pascal}Entry`;
}

/** Every message and enum of a file by absolute name (e.g. ".stepwise.v1.Start"). */
function declaredTypes(file: FileDescriptorProto, packageScope: string): Set<string> {
  const names = new Set<string>();
  const visit = (message: DescriptorProto, scope: string): void => {
    const fullName = `${scope}.${message.name}`;
    names.add(fullName);
    for (const nested of message.nestedType) visit(nested, fullName);
    for (const nested of message.enumType) names.add(`${fullName}.${nested.name}`);
  };
  for (const message of file.messageType) visit(message, packageScope);
  for (const declared of file.enumType) names.add(`${packageScope}.${declared.name}`);
  return names;
}

/**
 * The absolute name a reference means from `scope`, by protobuf's rule: innermost scope first, then each
 * enclosing one. References to other files (not declared here) are kept as they are.
 */
function qualify(reference: string, scope: string, declared: ReadonlySet<string>): string {
  if (reference === '' || reference.startsWith('.')) return reference;
  for (let outer = scope; ; outer = outer.slice(0, Math.max(0, outer.lastIndexOf('.')))) {
    const candidate = `${outer}.${reference}`;
    if (declared.has(candidate)) return candidate;
    if (outer === '') return reference;
  }
}

/** `scope` is the absolute name of the enclosing package or message, e.g. ".stepwise.v1". */
function repairMessage(message: DescriptorProto, scope: string, declared: Set<string>): void {
  const fullName = `${scope}.${message.name}`;
  for (const field of message.field) {
    const isMessageList =
      field.label === FieldDescriptorProto_Label.REPEATED && field.type === FieldDescriptorProto_Type.MESSAGE;
    const entry = isMessageList
      ? message.nestedType.find((nested) => nested.name === field.typeName && nested.options?.mapEntry === true)
      : undefined;
    if (entry !== undefined) {
      declared.delete(`${fullName}.${entry.name}`);
      entry.name = mapEntryName(field.name);
      declared.add(`${fullName}.${entry.name}`);
      field.typeName = `${fullName}.${entry.name}`;
    }
  }
  for (const nested of message.nestedType) repairMessage(nested, fullName, declared);
  for (const field of message.field) {
    // Assigned only when it changes: descriptor.proto is proto2, where assigning "" would send an empty name.
    const qualified = qualify(field.typeName, fullName, declared);
    if (qualified !== field.typeName) field.typeName = qualified;
  }
}

/** The descriptor bytes with protoc's map entry names and full type names. */
export function repairFileDescriptor(bytes: Uint8Array): Uint8Array {
  const file = fromBinary(FileDescriptorProtoSchema, bytes);
  const packageScope = file.package === '' ? '' : `.${file.package}`;
  const declared = declaredTypes(file, packageScope);
  for (const message of file.messageType) repairMessage(message, packageScope, declared);
  for (const service of file.service) {
    for (const method of service.method) {
      method.inputType = qualify(method.inputType, packageScope, declared);
      method.outputType = qualify(method.outputType, packageScope, declared);
    }
  }
  return toBinary(FileDescriptorProtoSchema, create(FileDescriptorProtoSchema, file));
}

/** A copy of `definition` whose file descriptors are repaired as above. */
export function withProtocDescriptors(definition: PackageDefinition): PackageDefinition {
  const repaired = new Map<Buffer, Buffer>();
  const repair = (bytes: Buffer): Buffer => {
    let fixed = repaired.get(bytes);
    if (fixed === undefined) {
      fixed = Buffer.from(repairFileDescriptor(bytes));
      repaired.set(bytes, fixed);
    }
    return fixed;
  };
  return Object.fromEntries(
    Object.entries(definition).map(([name, entry]) => {
      // Message and enum entries carry their files' descriptors; service entries do not.
      const files = (entry as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos;
      return [name, Array.isArray(files) ? { ...entry, fileDescriptorProtos: files.map(repair) } : entry];
    }),
  ) as PackageDefinition;
}
