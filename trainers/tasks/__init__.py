"""Task modules; each registers itself with `trainers.registry` on import."""
