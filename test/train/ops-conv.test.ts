import { test } from 'node:test';
import { checkOp } from './helpers';

test('Conv 3x3, padding 1, bias', () =>
  checkOp({
    build: (b, p) =>
      b.conv(p('x', [2, 3, 5, 5]), p('w', [4, 3, 3, 3]), p('bias', [4]), { pads: [1, 1, 1, 1] }),
  }));
test('Conv stride 2 with an input size stride does not divide', () =>
  checkOp({
    build: (b, p) =>
      b.conv(p('x', [1, 2, 6, 7]), p('w', [3, 2, 3, 3]), undefined, { strides: [2, 2], pads: [1, 1, 1, 1] }),
  }));
test('Conv dilation 2, asymmetric pads', () =>
  checkOp({
    build: (b, p) =>
      b.conv(p('x', [1, 2, 7, 6]), p('w', [2, 2, 3, 2]), undefined, {
        dilations: [2, 2],
        pads: [1, 0, 2, 1],
      }),
  }));
test('Conv groups 2', () =>
  checkOp({
    build: (b, p) =>
      b.conv(p('x', [2, 4, 5, 5]), p('w', [6, 2, 3, 3]), p('bias', [6]), { group: 2, pads: [1, 1, 1, 1] }),
  }));
test('Conv depthwise, stride 2', () =>
  checkOp({
    build: (b, p) =>
      b.conv(p('x', [1, 3, 6, 6]), p('w', [3, 1, 3, 3]), undefined, { group: 3, strides: [2, 2] }),
  }));
test('Conv 1-D', () =>
  checkOp({
    build: (b, p) => b.conv(p('x', [2, 2, 9]), p('w', [3, 2, 3]), p('bias', [3]), { strides: [2] }),
  }));
test('Conv 1x1', () => checkOp({ build: (b, p) => b.conv(p('x', [1, 4, 3, 3]), p('w', [2, 4, 1, 1])) }));
test('Conv auto_pad SAME_UPPER', () =>
  checkOp({
    build: (b, p) =>
      b.node('Conv', [p('x', [1, 2, 5, 5]), p('w', [2, 2, 3, 3])], {
        auto_pad: 'SAME_UPPER',
        strides: [2, 2],
      }),
  }));
test('ConvTranspose stride 2, padding 1, output_padding 1, bias', () =>
  checkOp({
    build: (b, p) =>
      b.convTranspose(p('x', [1, 3, 3, 3]), p('w', [3, 2, 3, 3]), p('bias', [2]), {
        strides: [2, 2],
        pads: [1, 1, 1, 1],
        outputPadding: [1, 1],
      }),
  }));
test('ConvTranspose groups 2, dilation 2', () =>
  checkOp({
    build: (b, p) =>
      b.convTranspose(p('x', [2, 4, 3, 3]), p('w', [4, 1, 2, 2]), undefined, { group: 2, dilations: [2, 2] }),
  }));
test('Conv stride 2, dilation 2, groups 2, asymmetric pads together', () =>
  checkOp({
    build: (b, p) =>
      b.conv(p('x', [2, 4, 9, 8]), p('w', [6, 2, 3, 2]), p('bias', [6]), {
        strides: [2, 3],
        dilations: [2, 1],
        pads: [2, 0, 1, 1],
        group: 2,
      }),
  }));
test('Conv padding wider than the kernel (input gradient falls back to ConvTranspose)', () =>
  checkOp({
    build: (b, p) => b.conv(p('x', [1, 2, 4, 4]), p('w', [3, 2, 1, 1]), undefined, { pads: [1, 2, 1, 0] }),
  }));
test('Conv 3-D, stride 2', () =>
  checkOp({
    build: (b, p) =>
      b.conv(p('x', [1, 2, 4, 5, 4]), p('w', [2, 2, 2, 3, 2]), undefined, {
        strides: [2, 2, 1],
        pads: [0, 1, 0, 1, 1, 0],
      }),
  }));
test('ConvTranspose stride 2, groups 2, asymmetric pads', () =>
  checkOp({
    build: (b, p) =>
      b.convTranspose(p('x', [2, 4, 3, 4]), p('w', [4, 3, 3, 3]), undefined, {
        strides: [2, 2],
        pads: [1, 0, 0, 1],
        group: 2,
      }),
  }));
