// The part of the WebAssembly JS API that wasm-core.ts uses. @types/node does not
// declare WebAssembly, and lib "dom" would bring a browser's globals with it.
declare namespace WebAssembly {
  interface Module {}
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number; shared?: boolean });
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
  }
  interface ModuleExportDescriptor {
    name: string;
    kind: string;
  }
  const Module: {
    exports(module: Module): ModuleExportDescriptor[];
    imports(module: Module): (ModuleExportDescriptor & { module: string })[];
  };
  function compile(bytes: Uint8Array): Promise<Module>;
  function instantiate(module: Module, imports: Record<string, Record<string, unknown>>): Promise<Instance>;
}
