"""Pure tensor functions: the sequence-mixing kernels and their naive references.

Conventions: ``q, k: (batch, heads, length, d_k)``, ``v: (batch, heads, length, d_v)``;
outputs ``(batch, heads, length, d_v)``. Every fast form has a reference of the same
name family (``*_naive`` / ``*_recurrent``) that tests compare against.
"""
