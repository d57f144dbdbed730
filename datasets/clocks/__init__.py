"""The clock dataset: an OpenCV renderer of analog-clock photographs, and a loader shared with real photographs."""

from datasets.clocks.arrays import load_clock_arrays, rendered_clocks, rendered_set_dir, save_clock_arrays
from datasets.clocks.render import IMAGE_SIZE, clock_labels, hand_angles, render_clock, render_clocks
from datasets.clocks.variation import MIXTURES, VARIATIONS, Variation, mixture_parts, variation_named

__all__ = ["IMAGE_SIZE", "MIXTURES", "VARIATIONS", "Variation", "clock_labels", "hand_angles", "load_clock_arrays",
           "mixture_parts", "render_clock", "render_clocks", "rendered_clocks", "rendered_set_dir", "save_clock_arrays",
           "variation_named"]
