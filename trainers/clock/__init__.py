"""Tell-the-time pieces: the common-sense metric, label heads, the backbone and the evaluation callback."""
