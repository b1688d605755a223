// onnx-proto is CommonJS whose exports Node's ESM loader cannot name, so `import { onnx } from
// 'onnx-proto'` fails at run time under tsx. Import `onnx` from here instead: the value is the
// package's namespace, and the common message types are re-exported under the same name.
import pkg from 'onnx-proto';
import type { onnx as P } from 'onnx-proto';

export const onnx: typeof P = (pkg as unknown as { onnx: typeof P }).onnx;

// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace onnx {
  export type ModelProto = P.ModelProto;
  export type IModelProto = P.IModelProto;
  export type GraphProto = P.GraphProto;
  export type IGraphProto = P.IGraphProto;
  export type NodeProto = P.NodeProto;
  export type INodeProto = P.INodeProto;
  export type TensorProto = P.TensorProto;
  export type ITensorProto = P.ITensorProto;
  export type ValueInfoProto = P.ValueInfoProto;
  export type IValueInfoProto = P.IValueInfoProto;
  export type AttributeProto = P.AttributeProto;
  export type IAttributeProto = P.IAttributeProto;
  export type IOperatorSetIdProto = P.IOperatorSetIdProto;
}
