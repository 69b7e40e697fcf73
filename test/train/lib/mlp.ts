/**
 * Training for src/learn/mlp.ts: a one-hidden-layer ReLU network with a softmax output, minibatch Adam with L2,
 * examples visited in a seeded shuffled order and weights drawn from a seeded generator — the same data and
 * options give the same bytes.
 */
import { mlpLogits, mlpParameterCount, viewParameters, type Mlp, type MlpHeader } from "../../../src/learn/mlp.ts";
import { softmax } from "../../../src/learn/linear-model.ts";
import { seededRandom, shuffled } from "./softmax.ts";

export interface MlpOptions {
  hidden: number;
  epochs: number;
  learningRate: number;
  l2: number;
  batch: number;
  seed: number;
}

/** `inputs[i]` is example i's dense input, `labels[i]` its class. */
export function trainMlp(
  inputs: readonly Float32Array[],
  labels: ArrayLike<number>,
  classes: readonly string[],
  options: MlpOptions,
  onEpoch?: (epoch: number, model: Mlp) => void,
): { model: Mlp; parameters: Float32Array } {
  const header: MlpHeader = { inputs: inputs[0]!.length, hidden: options.hidden, classes: [...classes], extra: {} };
  const random = seededRandom(options.seed);
  const parameters = new Float32Array(mlpParameterCount(header));
  const model = viewParameters(header, parameters);
  const glorot = (fanIn: number, fanOut: number) => Math.sqrt(6 / (fanIn + fanOut));
  model.hiddenWeights.forEach((_, i, weights) => (weights[i] = (random() * 2 - 1) * glorot(header.inputs, header.hidden)));
  model.outputWeights.forEach((_, i, weights) => (weights[i] = (random() * 2 - 1) * glorot(header.hidden, classes.length)));

  const gradient = new Float32Array(parameters.length);
  const gradientParts = viewParameters(header, gradient);
  const firstMoment = new Float32Array(parameters.length);
  const secondMoment = new Float32Array(parameters.length);
  const hidden = new Float32Array(header.hidden);
  const hiddenError = new Float32Array(header.hidden);
  const scores = new Float64Array(classes.length);
  let step = 0;

  const accumulate = (input: Float32Array, label: number) => {
    softmax(mlpLogits(model, input, scores, hidden));
    scores[label]! -= 1; // the output error: p - onehot
    hiddenError.fill(0);
    for (let j = 0; j < header.hidden; j++) {
      if (hidden[j] === 0) continue;
      const base = j * classes.length;
      for (let c = 0; c < classes.length; c++) {
        gradientParts.outputWeights[base + c]! += hidden[j]! * scores[c]!;
        hiddenError[j]! += model.outputWeights[base + c]! * scores[c]!;
      }
    }
    for (let c = 0; c < classes.length; c++) gradientParts.outputBias[c]! += scores[c]!;
    for (let i = 0; i < header.inputs; i++) {
      const value = input[i]!;
      if (value === 0) continue;
      const base = i * header.hidden;
      for (let j = 0; j < header.hidden; j++) gradientParts.hiddenWeights[base + j]! += value * hiddenError[j]!;
    }
    for (let j = 0; j < header.hidden; j++) gradientParts.hiddenBias[j]! += hiddenError[j]!;
  };

  const adamStep = (count: number) => {
    step++;
    const correction1 = 1 - 0.9 ** step;
    const correction2 = 1 - 0.999 ** step;
    for (let i = 0; i < parameters.length; i++) {
      const g = gradient[i]! / count + options.l2 * parameters[i]!;
      firstMoment[i] = 0.9 * firstMoment[i]! + 0.1 * g;
      secondMoment[i] = 0.999 * secondMoment[i]! + 0.001 * g * g;
      parameters[i]! -= (options.learningRate * (firstMoment[i]! / correction1)) / (Math.sqrt(secondMoment[i]! / correction2) + 1e-8);
    }
  };

  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const order = shuffled(inputs.length, random);
    for (let start = 0; start < order.length; start += options.batch) {
      gradient.fill(0);
      const end = Math.min(order.length, start + options.batch);
      for (let k = start; k < end; k++) accumulate(inputs[order[k]!]!, labels[order[k]!]!);
      adamStep(end - start);
    }
    onEpoch?.(epoch + 1, model);
  }
  return { model, parameters };
}
