"""The bGPT byte model: model, data pipeline, training, evaluation, generation."""
