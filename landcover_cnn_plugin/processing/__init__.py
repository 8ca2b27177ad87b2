"""QGIS Processing provider and algorithms (thin: parameters and I/O, then core)."""
