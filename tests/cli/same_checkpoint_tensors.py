"""Exit 0 when two checkpoints (zip archives) hold the same tensor records, except at most one
8-byte record (train_seconds). The optimizer's state is stored in the order of a hash map keyed
by tensor addresses, so records are compared as a multiset.
Usage: python3 same_checkpoint_tensors.py A.ckpt B.ckpt"""
import collections
import sys
import zipfile


def records(path):
    z = zipfile.ZipFile(path)
    return collections.Counter(z.read(n) for n in z.namelist() if '/data/' in n)


a, b = records(sys.argv[1]), records(sys.argv[2])
only_a, only_b = a - b, b - a
if sum(only_a.values()) > 1 or sum(only_b.values()) > 1 or any(len(r) != 8 for r in list(only_a) + list(only_b)):
    print("records differ:", sorted(len(r) for r in only_a), sorted(len(r) for r in only_b))
    sys.exit(1)
n = sum(a.values())
print(f"ok: {n - sum(only_a.values())} of {n} tensor records identical (the other is train_seconds)")
