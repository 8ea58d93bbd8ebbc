"""Sentence-pair classification (MRPC style, seed 004): records, features, metrics, decoding."""
