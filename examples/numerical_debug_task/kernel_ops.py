"""Small numerical kernels used by the demo task."""
import math


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def cosine_similarity(a, b):
    if len(a) != len(b):
        raise ValueError("vectors must have the same length")
    norm = math.sqrt(sum(x * x for x in a)) + math.sqrt(sum(y * y for y in b))
    if norm == 0:
        return 0.0
    return dot(a, b) / norm
