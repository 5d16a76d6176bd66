"""Training-free maps of a language's document embeddings onto English's: label-free, bitext-free baselines."""
