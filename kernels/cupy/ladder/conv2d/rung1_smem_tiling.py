"""Rung 1 -- PLACEHOLDER (being written): shared-memory tiling. Re-exports production until then."""

from ...conv2d import conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight, conv2d_forward

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]
