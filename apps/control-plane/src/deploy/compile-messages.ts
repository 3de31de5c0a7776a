import type { ServiceLane } from '@laneway/sdk';
import type { ServicePolicyRecord } from '../store';
import type { SourceFileInput } from './compile-service-file';

/** Parent -> compile process: compile and inspect these files, in order. */
export interface CompileRequest {
  t: 'compile';
  id: number;
  files: SourceFileInput[];
  /** The files' content is compiled code already (module sets of linked files): only inspect them. */
  inspectOnly?: boolean;
  /** The bare specifiers of the npm packages bundled in this deploy (files at node_modules/<specifier>.js). */
  packages?: string[];
}

/** One service a compiled file exports (path, source and code stay with the file). */
export interface InspectedService {
  name: string;
  lane: ServiceLane;
  policy: ServicePolicyRecord;
  connections: string[];
  /** JSON Schema (JSON text) of its input, when its `input` gives one; '' otherwise. */
  inputSchema: string;
}

/** One file that compiled and loaded: its code, version and services (its source stays in the parent). */
export interface CompiledFileResult {
  code: string;
  version: string;
  services: InspectedService[];
  /**
   * The file's relative import specifiers. A file with any is not inspected in the compile request:
   * it is linked with the files it imports, then inspected as a module set (`inspectOnly`).
   */
  imports: string[];
  /** Set when the file exports no service: the error to give if no other deployed file imports it. */
  noService?: string;
}

/** A file that failed cleanly (a syntax error, a throwing top level, no service exported...). */
export interface CompileFailure {
  /** Index of the failing file in the request. */
  index: number;
  field: string;
  message: string;
  details: Record<string, unknown>;
}

/** Compile process -> parent. */
export type FromCompileProcess =
  | { t: 'ready' }
  | { t: 'compiled'; id: number; files: CompiledFileResult[] }
  | { t: 'failed'; id: number; failure: CompileFailure };

/**
 * Progress marks the compile process writes synchronously to its progress file (fd 3, a regular file
 * the parent made and reads) before each step, so that the parent knows which file was being worked
 * on when the process died or stalled: `<request id> c<index>` before compiling a file,
 * `<request id> l<index>` before its top level runs, a line padded with spaces to
 * PROGRESS_MARK_BYTES, each written over the last at offset 0. IPC messages sent just before a native
 * crash may never leave the process; a synchronous write has already reached the file.
 */
export const PROGRESS_FD = 3;
export const PROGRESS_MARK_BYTES = 48;
export type ProgressPhase = 'c' | 'l';
