"""Keras 3 model builders (backend-agnostic: keras.ops only)."""
