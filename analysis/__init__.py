"""Analysis: compute tables and figure data from studies first, draw them second."""
