"""Dataset definitions; every module here registers its datasets on import."""
