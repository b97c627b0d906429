"""flopwise: what will this take? FLOPs, memory, parallel layout, time and cost of training and serving."""

__version__ = "0.1.0"
