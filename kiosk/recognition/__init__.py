"""On-device face recognition: detect, quality-gate, align, embed, match (ONNX Runtime)."""
