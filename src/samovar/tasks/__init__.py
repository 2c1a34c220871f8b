"""Downstream tasks: Long Range Arena, language modelling and Speech Commands for every mixer."""
