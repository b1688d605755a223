// Gradient rules for MatMul (numpy semantics: 1-D operands, batch broadcasting) and Gemm.
import { attrFloat, attrInt } from '../ir';
import type { GradContext, GradRule } from './context';

const swapLastTwo = (rank: number) => [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];

function transposeLast(c: GradContext, x: string, rank: number): string {
  return c.b.transpose(x, swapLastTwo(rank));
}

export const matmulRules: Record<string, GradRule> = {
  MatMul: ({ input: [a, b], output: [y] }, [g], c) => {
    const aS = c.shape(a!);
    const bS = c.shape(b!);
    // 1-D operands are promoted to matrices ([k] -> [1,k] on the left, [k,1] on the right).
    const a2S = aS.length === 1 ? [1, aS[0]] : aS;
    const b2S = bS.length === 1 ? [bS[0], 1] : bS;
    const a2 = aS.length === 1 ? c.b.reshape(a!, a2S) : a!;
    const b2 = bS.length === 1 ? c.b.reshape(b!, b2S) : b!;
    const yS = c.shape(y!);
    const batch =
      aS.length === 1 || bS.length === 1 ? broadcast(a2S.slice(0, -2), b2S.slice(0, -2)) : yS.slice(0, -2);
    const m = a2S[a2S.length - 2];
    const k = a2S[a2S.length - 1];
    const n = b2S[b2S.length - 1];
    const g2 = aS.length === 1 || bS.length === 1 ? c.b.reshape(g!, [...batch, m, n]) : g!;
    const ga = c.b.matmul(g2, transposeLast(c, b2, b2S.length));
    const gb = c.b.matmul(transposeLast(c, a2, a2S.length), g2);
    const gaR = c.b.reshape(c.unbroadcast(ga, [...batch, m, k], a2S), aS);
    const gbR = c.b.reshape(c.unbroadcast(gb, [...batch, k, n], b2S), bS);
    return [gaR, gbR];
  },

  // Y = alpha op(A) op(B) + beta C, op = optional transpose.
  Gemm: (node, [g], c) => {
    const [a, b, cIn] = node.input!;
    const y = node.output![0];
    const alpha = attrFloat(node, 'alpha', 1);
    const beta = attrFloat(node, 'beta', 1);
    const transA = attrInt(node, 'transA', 0) === 1;
    const transB = attrInt(node, 'transB', 0) === 1;
    // d op(A) = alpha g op(B)^T ; d op(B) = alpha op(A)^T g
    const gOpA = c.b.gemm(g!, b, undefined, { alpha, transB: !transB });
    const gOpB = c.b.gemm(a, g!, undefined, { alpha, transA: !transA });
    const ga = transA ? c.b.transpose(gOpA, [1, 0]) : gOpA;
    const gb = transB ? c.b.transpose(gOpB, [1, 0]) : gOpB;
    let gc: string | undefined;
    if (cIn) gc = c.unbroadcastTo(beta === 1 ? g! : c.b.mul(g!, c.scalar(beta, y)), y, cIn);
    return [ga, gb, gc];
  },
};

function broadcast(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const z = b[b.length - r + i] ?? 1;
    out.push(x === 1 ? z : x);
  }
  return out;
}
