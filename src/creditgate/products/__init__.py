"""The product family's arithmetic: instalment schedules and their APR, joint-loan funding.

Pure functions of constants: the loader and ``policy.lower`` call them at load time, so no
engine computes them per row (docs/policy.md, "products").
"""
