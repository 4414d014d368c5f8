"""Inference: batched embeddings and predictions, evaluation of a fine-tuned or probe model, `plus predict`, the
embeddings probes train on. Nothing here imports Lightning or the training package."""
