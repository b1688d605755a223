// Gradient rules for elementwise ops (broadcasting handled by unbroadcast) and activations.
import { attrInt, isFloat } from '../ir';
import type { GradRule } from './context';

export const elementwiseRules: Record<string, GradRule> = {
  Add: ({ input: [a, b], output: [y] }, [g], c) => [c.unbroadcastTo(g!, y!, a!), c.unbroadcastTo(g!, y!, b!)],

  Sub: ({ input: [a, b], output: [y] }, [g], c) => [
    c.unbroadcastTo(g!, y!, a!),
    c.unbroadcastTo(c.b.neg(g!), y!, b!),
  ],

  Mul: ({ input: [a, b], output: [y] }, [g], c) => [
    c.unbroadcastTo(c.b.mul(g!, b!), y!, a!),
    c.unbroadcastTo(c.b.mul(g!, a!), y!, b!),
  ],

  // d(a/b)/db = -(a/b)/b = -y/b
  Div: ({ input: [a, b], output: [y] }, [g], c) => [
    c.unbroadcastTo(c.b.div(g!, b!), y!, a!),
    c.unbroadcastTo(c.b.neg(c.b.div(c.b.mul(g!, y!), b!)), y!, b!),
  ],

  // d(a^p)/da = p a^(p-1);  d(a^p)/dp = a^p ln a
  Pow: ({ input: [a, p], output: [y] }, [g], c) => {
    const pm1 = c.b.sub(p!, c.scalar(1, p!));
    const ga = c.b.mul(g!, c.b.mul(p!, c.b.pow(a!, pm1)));
    const gp = c.b.mul(g!, c.b.mul(y!, c.b.log(a!)));
    return [c.unbroadcastTo(ga, y!, a!), c.unbroadcastTo(gp, y!, p!)];
  },

  Sum: ({ input, output: [y] }, [g], c) => (input ?? []).map((x) => c.unbroadcastTo(g!, y!, x)),

  Sqrt: ({ output: [y] }, [g], c) => [c.b.div(c.b.mul(g!, c.scalar(0.5, y!)), y!)],
  Neg: (_n, [g], c) => [c.b.neg(g!)],
  Exp: ({ output: [y] }, [g], c) => [c.b.mul(g!, y!)],
  Log: ({ input: [x] }, [g], c) => [c.b.div(g!, x!)],
  Reciprocal: ({ output: [y] }, [g], c) => [c.b.neg(c.b.mul(g!, c.b.mul(y!, y!)))],
  Abs: ({ input: [x] }, [g], c) => [c.b.mul(g!, c.b.node('Sign', [x!]))],
  Sin: ({ input: [x] }, [g], c) => [c.b.mul(g!, c.b.cos(x!))],
  Cos: ({ input: [x] }, [g], c) => [c.b.neg(c.b.mul(g!, c.b.sin(x!)))],

  Relu: ({ input: [x] }, [g], c) => [
    c.b.where(c.b.node('Greater', [x!, c.scalar(0, x!)]), g!, c.scalar(0, x!)),
  ],
  // sigmoid' = y (1 - y)
  Sigmoid: ({ output: [y] }, [g], c) => [c.b.mul(g!, c.b.mul(y!, c.b.sub(c.scalar(1, y!), y!)))],
  Tanh: ({ output: [y] }, [g], c) => [c.b.mul(g!, c.b.sub(c.scalar(1, y!), c.b.mul(y!, y!)))],
  // erf' = 2/sqrt(pi) exp(-x^2)
  Erf: ({ input: [x] }, [g], c) => {
    const e = c.b.exp(c.b.neg(c.b.mul(x!, x!)));
    return [c.b.mul(g!, c.b.mul(e, c.scalar(2 / Math.sqrt(Math.PI), x!)))];
  },

  Identity: (_n, [g]) => [g],
  Dropout: (_n, [g]) => [g], // inference-mode Dropout is the identity

  Cast: (n, [g], c) => {
    const x = n.input![0];
    return isFloat(c.dtype(x)) ? [c.b.cast(g!, c.dtype(x))] : [undefined];
  },

  Where: ({ input: [cond, a, b], output: [y] }, [g], c) => {
    const zero = c.scalar(0, y!);
    return [
      undefined,
      c.unbroadcastTo(c.b.where(cond!, g!, zero), y!, a!),
      c.unbroadcastTo(c.b.where(cond!, zero, g!), y!, b!),
    ];
  },

  // softmax: dx = y (g - sum(g y))
  Softmax: (n, [g], c) => {
    const y = n.output![0];
    const axis = attrInt(n, 'axis', -1);
    const s = c.b.reduceSum(c.b.mul(g!, y), [axis], true);
    return [c.b.mul(y, c.b.sub(g!, s))];
  },

  // log-softmax: dx = g - exp(y) sum(g)
  LogSoftmax: (n, [g], c) => {
    const y = n.output![0];
    const axis = attrInt(n, 'axis', -1);
    return [c.b.sub(g!, c.b.mul(c.b.exp(y), c.b.reduceSum(g!, [axis], true)))];
  },
};
