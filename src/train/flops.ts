// Floating-point operation counts of a graph's MatMul/Gemm/Conv/ConvTranspose nodes (2 per
// multiply-add), from measured shapes. Elementwise ops are left out: they are memory-bound and
// small next to the contractions, so the count is a lower bound used for achieved FLOP/s.
import { attrInt } from './ir';
import type { onnx } from './onnx';
import type { ShapeMap } from './shapes';

const prod = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);

export function countFlops(model: onnx.IModelProto, shapes: ShapeMap): number {
  let flops = 0;
  for (const n of model.graph?.node ?? []) {
    const dims = (t: string | undefined) => (t ? shapes.get(t)?.dims : undefined);
    const [a, b] = [dims(n.input?.[0]), dims(n.input?.[1])];
    const y = dims(n.output?.[0]);
    if (!a || !b || !y) continue;
    switch (n.opType) {
      case 'MatMul': // y = [..., m, n], contraction over a's last axis
      case 'Gemm':
        flops += 2 * prod(y) * (n.opType === 'Gemm' && attrInt(n, 'transA', 0) ? a[0] : a[a.length - 1]);
        break;
      case 'Conv': // each output element: (C_in / group) * kernel multiply-adds
        flops += 2 * prod(y) * prod(b.slice(1));
        break;
      case 'ConvTranspose': // each input element scatters into C_out / group * kernel outputs
        flops += 2 * prod(a) * prod(b.slice(1));
        break;
    }
  }
  return flops;
}
