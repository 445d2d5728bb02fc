"""Checks kernel_ops.cosine_similarity against an independent reference; prints one JSON line."""
import json
import math
import random
import sys

from kernel_ops import cosine_similarity


def reference(a, b):
    na = math.fsum(x * x for x in a) ** 0.5
    nb = math.fsum(y * y for y in b) ** 0.5
    return 0.0 if na == 0 or nb == 0 else math.fsum(x * y for x, y in zip(a, b)) / (na * nb)


def cases():
    yield [1.0, 0.0], [1.0, 0.0]
    yield [1.0, 0.0], [0.0, 1.0]
    yield [1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]
    rng = random.Random(1337)
    for _ in range(200):
        n = rng.randint(2, 32)
        yield [rng.uniform(-10, 10) for _ in range(n)], [rng.uniform(-10, 10) for _ in range(n)]


failures = []
for index, (a, b) in enumerate(cases()):
    got, want = cosine_similarity(a, b), reference(a, b)
    if not math.isclose(got, want, rel_tol=1e-10, abs_tol=1e-10):
        failures.append({"case": index, "got": got, "want": want})

print(json.dumps({"status": "passed" if not failures else "failed", "cases": 203, "failures": len(failures),
                  "first_failure": failures[0] if failures else None}))
sys.exit(0 if not failures else 1)
