// Anchors the precompiled <torch/torch.h> that every selfsup translation unit reuses.
