// The reward code's user-facing error: every part of it (examples, preprocessing, encoders,
// training) reports bad inputs with it, and the reward stage turns it into one sentence.

/** A user-visible problem with the reward stage's inputs. */
export class RewardInputError extends Error {
  override name = 'RewardInputError';
}
